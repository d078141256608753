// The gateway as installed (`iggy-edge run -c FILE`: the built bin through its #! line, with the
// systemd unit's environment) in a child process the drill can kill with SIGKILL, restart on the
// same data dir, and ask over HTTP.
import { spawn, type ChildProcess } from "node:child_process";
import { executableBin, unitEnvironment } from "../installed.js";
import { until } from "./kit.js";

const OUTPUT_KEPT = 32 * 1024;

export class GatewayProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private out = "";
  /** Exits the drill did not cause (a crash): code or signal, and the output's tail. */
  readonly crashes: string[] = [];
  starts = 0;
  /** Warnings and errors the gateway logged, over all its starts (bounded): `start N: msg`. */
  readonly warnings: string[] = [];

  constructor(
    private readonly configFile: string,
    readonly httpPort: number,
    private readonly env: NodeJS.ProcessEnv = {},
  ) {}

  get pid(): number | null {
    return this.running ? this.child!.pid! : null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  output(): string {
    return this.out;
  }

  /** Starts the gateway and resolves once /readyz answers 200. */
  async start(limitMs = 120_000): Promise<void> {
    await this.launch(limitMs);
    await until(
      "the gateway's /readyz to answer 200",
      async () => {
        if (!this.running) throw new Error(`the gateway exited while starting: ${this.tail(20)}`);
        return (await this.get("/readyz").catch(() => ({ status: 0 }))).status === 200;
      },
      limitMs,
    );
  }

  /** Starts the gateway and resolves once /healthz answers (ready or not). */
  async launch(limitMs = 120_000): Promise<void> {
    if (this.running) throw new Error("the gateway is running already");
    this.out = "";
    const child = spawn(executableBin(), ["run", "-c", this.configFile], {
      env: { ...process.env, ...unitEnvironment(), ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.starts++;
    let expected = false;
    let partial = "";
    const keep = (b: Buffer): void => {
      this.out += b.toString();
      const lines = (partial + b.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) this.noteWarning(line);
      if (this.out.length > OUTPUT_KEPT) this.out = this.out.slice(-OUTPUT_KEPT / 2);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.exited = new Promise((ok) => child.once("close", () => ok()));
    this.expectExit = () => (expected = true);
    child.once("exit", (code, signal) => {
      if (!expected) this.crashes.push(`exited (${signal ?? `code ${code}`}): ${this.tail(8)}`);
    });
    await until(
      "the gateway's /healthz to answer 200",
      async () => {
        if (!this.running) throw new Error(`the gateway exited while starting: ${this.tail(20)}`);
        return (await this.get("/healthz").catch(() => ({ status: 0 }))).status === 200;
      },
      limitMs,
    );
  }

  private expectExit: () => void = () => {};

  private noteWarning(line: string): void {
    if (this.warnings.length >= 200) return;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } };
      if ((entry.level ?? 0) >= 40)
        this.warnings.push(
          `start ${this.starts}: ${entry.msg ?? ""}${entry.err?.message ? ` (${entry.err.message})` : ""}`,
        );
    } catch {
      if (line.trim()) this.warnings.push(`start ${this.starts}: ${line.slice(0, 300)}`);
    }
  }

  /** kill -9, and waits for the exit. */
  async kill9(): Promise<void> {
    if (!this.running) return;
    this.expectExit();
    this.child!.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM (a clean stop), SIGKILL after `limitMs`. */
  async stop(limitMs = 30_000): Promise<void> {
    if (!this.running) return this.exited;
    this.expectExit();
    this.child!.kill("SIGTERM");
    const late = setTimeout(() => this.child?.kill("SIGKILL"), limitMs);
    await this.exited;
    clearTimeout(late);
  }

  async get(path: string): Promise<{ status: number; body: string }> {
    const r = await fetch(`http://127.0.0.1:${this.httpPort}${path}`, {
      signal: AbortSignal.timeout(10_000),
    });
    return { status: r.status, body: await r.text() };
  }

  /** One Prometheus sample (`name{labels}` exactly as printed, or a bare name), or null. */
  async metric(sample: string): Promise<number | null> {
    const { body } = await this.get("/metrics");
    for (const line of body.split("\n")) {
      if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
    }
    return null;
  }

  tail(lines: number): string {
    return this.out.trim().split("\n").slice(-lines).join("\n");
  }
}
