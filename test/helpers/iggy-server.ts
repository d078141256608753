// Apache Iggy's own server 0.8.0 (from the shared peers folder) for the tests: started on a free
// loopback port with a temporary data dir, restartable on the same port and data dir, stopped and
// removed whatever the test's outcome. Outside CI a missing server skips the test; under CI=true it fails.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import { stripVTControlCharacters } from "node:util";
import { IggyClient } from "../../gateway/iggy/index.js";
import { Backoff } from "../../protocols/backoff.js";
import { sleep } from "../../protocols/sleep.js";
import { hasCommand, repoRoot, requirePeer } from "./peers.js";

const SCRIPT = "run-iggy-server.sh";
/** From spawn to a login that works; the first start on a machine also unpacks the binary. */
const START_TIMEOUT_MS = 90_000;
/** SIGTERM to exit; the server needs a second or two. */
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_KEPT = 64 * 1024;
/** A restart that finds its port taken (by a client's self-connection, say) tries again this often. */
const RESTART_BIND_ATTEMPTS = 5;

/**
 * The folder holding run-iggy-server.sh: $IGGY_EDGE_IGGY_PEERS, else the first `shared/peers/` found
 * walking up from the repository's parent folder, else /work/shared/peers. Null when none has the script.
 */
export function findIggyPeers(): { dir: string | null; looked: string[] } {
  const looked: string[] = [];
  const has = (dir: string): boolean => {
    looked.push(dir);
    return existsSync(join(dir, SCRIPT));
  };
  const fromEnv = process.env.IGGY_EDGE_IGGY_PEERS;
  if (fromEnv) return { dir: has(resolve(fromEnv)) ? resolve(fromEnv) : null, looked };
  for (let dir = dirname(repoRoot); ; dir = dirname(dir)) {
    if (has(join(dir, "shared", "peers"))) return { dir: join(dir, "shared", "peers"), looked };
    if (dirname(dir) === dir) break;
  }
  return { dir: has("/work/shared/peers") ? "/work/shared/peers" : null, looked };
}

export interface IggyServerOptions {
  username?: string;
  /** Default: a random one, so that a test cannot pass with Iggy's well-known default by accident. */
  password?: string;
  /**
   * Iggy 0.8 confirms a send once the messages are in memory and writes them to disk every 1024
   * messages or 30 s (a SIGTERM flushes them; a SIGKILL loses them). True writes every send to
   * the segment files before the reply, so confirmed messages survive a SIGKILL of the server.
   */
  saveEverySend?: boolean;
}

export interface RealIggyServer {
  readonly host: string;
  readonly port: number;
  /** host:port */
  readonly address: string;
  readonly credentials: { username: string; password: string };
  readonly dataDir: string;
  readonly running: boolean;
  /** Stops the server (SIGTERM, SIGKILL after a bound; or SIGKILL at once) and waits for its exit. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts it again on the same port and data dir, ready when a login works. */
  restart(): Promise<void>;
  /** The server's recent output (for failure messages). */
  output(): string;
}

/**
 * Starts the real Iggy 0.8 server for test `t` and stops it and removes its data dir in `t.after`.
 * Returns null when the test was skipped because the server is not there (outside CI only).
 */
export async function startIggyServer(
  t: TestContext,
  options: IggyServerOptions = {},
): Promise<RealIggyServer | null> {
  const { dir, looked } = findIggyPeers();
  if (
    !requirePeer(
      t,
      `Apache Iggy server 0.8 (${SCRIPT}; looked in ${looked.join(", ")})`,
      dir !== null,
      "put the shared peers folder at ../shared/peers beside the repository, or set IGGY_EDGE_IGGY_PEERS to the folder that holds run-iggy-server.sh",
    )
  )
    return null;
  if (
    !requirePeer(
      t,
      "xz (to unpack the Iggy server)",
      hasCommand("xz", ["--version"]),
      "apt-get install xz-utils",
    )
  )
    return null;
  const server = new IggyServerProcess(join(dir!, SCRIPT), {
    username: options.username ?? "iggy",
    password: options.password ?? `pw-${randomBytes(6).toString("hex")}`,
    saveEverySend: options.saveEverySend ?? false,
  });
  t.after(() => server.dispose());
  try {
    await server.start(0);
  } catch (e) {
    if (e instanceof MissingLibrariesError) {
      requirePeer(
        t,
        `libraries of the Iggy server (${e.message})`,
        false,
        "apt-get install libhwloc15 libudev1",
      );
      return null;
    }
    throw e;
  }
  return server;
}

class MissingLibrariesError extends Error {}

class IggyServerProcess implements RealIggyServer {
  readonly host = "127.0.0.1";
  readonly dataDir = mkdtempSync(join(tmpdir(), "iggy-edge-real-iggy-"));
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private boundPort = 0;
  private log = "";

  constructor(
    private readonly script: string,
    private readonly settings: { username: string; password: string; saveEverySend: boolean },
  ) {
    if (settings.saveEverySend) {
      // The server reads core/server/config.toml below its working directory (the data dir) and
      // lays it over its defaults.
      mkdirSync(join(this.dataDir, "core", "server"), { recursive: true });
      writeFileSync(
        join(this.dataDir, "core", "server", "config.toml"),
        "[system.partition]\nmessages_required_to_save = 1\n",
      );
    }
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return `${this.host}:${this.boundPort}`;
  }

  get credentials(): { username: string; password: string } {
    return { username: this.settings.username, password: this.settings.password };
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.log;
  }

  async start(port: number): Promise<void> {
    if (this.running) throw new Error("the Iggy server is running already");
    this.log = "";
    const { username, password } = this.settings;
    const child = spawn("bash", [this.script, String(port), this.dataDir, username, password], {
      stdio: ["ignore", "pipe", "pipe"],
      // The script drops every IGGY_* variable itself (the server panics on ones it does not know).
      env: process.env,
    });
    this.child = child;
    // "close", not "exit": what it wrote last has been read by then.
    this.exited = new Promise((ok) => {
      child.once("close", () => ok());
      child.once("error", () => ok());
    });
    let found = false;
    const listening = new Promise<number>((ok, fail) => {
      const onLine = (raw: string): void => {
        const line = stripVTControlCharacters(raw);
        this.keep(`${line}\n`);
        const m = found ? null : /TCP server has started on: \S*:(\d+)\s*$/.exec(line);
        if (m) {
          found = true;
          ok(Number(m[1]));
        }
      };
      createInterface({ input: child.stdout! }).on("line", onLine);
      createInterface({ input: child.stderr! }).on("line", onLine);
      child.once("error", fail);
      child.once("close", (code, signal) => {
        const why = `the Iggy server exited (${signal ?? `code ${code}`}) before it listened`;
        fail(
          code === 3 && /missing libraries/.test(this.log)
            ? new MissingLibrariesError(this.log.trim().split("\n").pop())
            : new Error(`${why}; its output:\n${this.tail()}`),
        );
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(
        () =>
          fail(
            new Error(
              `the Iggy server did not listen within ${START_TIMEOUT_MS} ms; its output:\n${this.tail()}`,
            ),
          ),
        START_TIMEOUT_MS,
      );
    });
    try {
      this.boundPort = await Promise.race([listening, timeout]);
      await this.loginWorks(deadline);
    } catch (e) {
      await this.stop("SIGKILL");
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async restart(): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 2_000 });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.start(this.boundPort);
        return;
      } catch (e) {
        // The port was free when the server exited; a client retrying its connection can, rarely,
        // connect to itself on it for a moment (the server then exits: "Cannot bind to socket").
        // Anything else is a real failure.
        if (
          attempt >= RESTART_BIND_ATTEMPTS ||
          !/Cannot bind to socket|Address already in use/i.test(this.log)
        )
          throw e;
        await sleep(backoff.next());
      }
    }
  }

  async stop(signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return this.exited;
    child.kill(signal);
    if (signal === "SIGTERM") {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((ok) => (timer = setTimeout(() => ok("late"), STOP_TIMEOUT_MS)));
      if ((await Promise.race([this.exited, late])) === "late") child.kill("SIGKILL");
      clearTimeout(timer);
    }
    await this.exited;
  }

  async dispose(): Promise<void> {
    try {
      await this.stop("SIGTERM");
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }

  /** Ready means a login works, not only that the port accepts connections. */
  private async loginWorks(deadline: number): Promise<void> {
    const client = new IggyClient({
      address: this.address,
      credentials: this.credentials,
      requestTimeoutMs: 10_000,
      reconnect: { initialDelayMs: 20, maxDelayMs: 500 },
    });
    const login = client.connect(Math.max(1_000, deadline - Date.now())).then(() => client.ping());
    login.catch(() => undefined); // raced below; the loser must not be an unhandled rejection
    try {
      const first = await Promise.race([
        login.then(() => "in" as const),
        this.exited.then(() => "exited" as const),
      ]);
      if (first === "exited")
        throw new Error(`the Iggy server exited while the test logged in; its output:\n${this.tail()}`);
    } finally {
      await client.close();
    }
  }

  private keep(text: string): void {
    this.log += text;
    if (this.log.length > OUTPUT_KEPT) this.log = this.log.slice(-OUTPUT_KEPT / 2);
  }

  private tail(): string {
    return this.log.trim().split("\n").slice(-30).join("\n");
  }
}
