// The asyncua server (asyncua_server.py, not ours) as a child process the OPC-UA tests and the
// adapter contract drive: started on a loopback port, told over stdin what to set, read from
// stdout what clients wrote; stopped and started again on the same port for the restart tests.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

const repoRoot = resolve(import.meta.dirname, "../../..");
const SCRIPT = resolve(repoRoot, "test/opcua/asyncua_server.py");
const START_LIMIT_MS = 60_000;

export function asyncuaPython(): string {
  const venv = resolve(repoRoot, ".venv/bin/python");
  return existsSync(venv) ? venv : "python3";
}

export interface PeerOptions {
  port: number;
  /** A directory for the server's certificate: the only endpoint is SignAndEncrypt with `policy`. */
  secureDir?: string;
  /** The secure endpoint's policy (default Basic256Sha256). */
  policy?: "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss";
  /**
   * X.509 user authentication only: the server makes user_cert.pem/user_key.pem (accepted) and
   * stranger_cert.pem/stranger_key.pem (refused) in this directory.
   */
  x509UserDir?: string;
  /** NAME:PASSWORD: the one user accepted (anonymous refused). */
  user?: string;
  /** Counter and Temperature change every this many ms (0: never). */
  animateMs?: number;
}

export interface PeerWrite {
  write: string;
  value: unknown;
  type: string;
}

export class AsyncuaPeer {
  readonly writes: PeerWrite[] = [];
  private child: ChildProcess | null = null;
  private pings = 0;
  private readonly pongs = new Map<number, () => void>();
  stderr = "";

  constructor(readonly options: PeerOptions) {}

  get endpoint(): string {
    return `opc.tcp://127.0.0.1:${this.options.port}`;
  }

  static async start(options: PeerOptions): Promise<AsyncuaPeer> {
    const peer = new AsyncuaPeer(options);
    await peer.start();
    return peer;
  }

  async start(): Promise<void> {
    const o = this.options;
    const args = [SCRIPT, "--port", String(o.port), "--animate-ms", String(o.animateMs ?? 100)];
    if (o.secureDir) args.push("--secure", o.secureDir);
    if (o.policy) args.push("--policy", o.policy);
    if (o.user) args.push("--user", o.user);
    if (o.x509UserDir) args.push("--x509-user", o.x509UserDir);
    const child = spawn(asyncuaPython(), args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    child.stderr!.on("data", (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-4000);
    });
    const ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`asyncua server not ready within ${START_LIMIT_MS} ms: ${this.stderr}`)),
        START_LIMIT_MS,
      );
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`asyncua server exited (${code}) before it was ready: ${this.stderr}`));
      });
      createInterface({ input: child.stdout! }).on("line", (line) => {
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          return;
        }
        if ("ready" in msg) {
          clearTimeout(timer);
          resolveReady();
        } else if ("write" in msg) this.writes.push(msg as unknown as PeerWrite);
        else if ("pong" in msg) {
          const id = msg.pong as number;
          this.pongs.get(id)?.();
          this.pongs.delete(id);
        }
      });
    });
    try {
      await ready;
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  private send(cmd: Record<string, unknown>): void {
    this.child?.stdin?.write(JSON.stringify(cmd) + "\n");
  }

  /** Sets a variable (its type kept) with the source timestamp `ts` (ms), or now. */
  set(name: string, value: unknown, ts?: number): void {
    this.send(ts === undefined ? { set: name, value } : { set: name, value, ts });
  }

  /** Sets a variable's status (a StatusCode name such as BadSensorFailure). */
  status(name: string, code: string): void {
    this.send({ status: name, code });
  }

  /** Resolves once the server has done every command sent before. */
  ping(): Promise<void> {
    const id = ++this.pings;
    return new Promise((resolvePong) => {
      this.pongs.set(id, resolvePong);
      this.send({ ping: id });
    });
  }

  writesTo(name: string): PeerWrite[] {
    return this.writes.filter((w) => w.write === name);
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Kills the server (as a crash would) and waits for its exit. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }
}
