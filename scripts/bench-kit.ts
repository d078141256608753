// What a benchmark module under scripts/bench/ exports, and small measuring helpers they share.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";

export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** A peer or ceiling measured in the same run, and value / peer.value. */
  peer?: { name: string; value: number };
  ratio?: number;
  /** A target from the issue, for the table only (">= 100000", "<= 30"). */
  target?: string;
  /**
   * Which way is better, for the comparison with the kept results; needed only where neither the
   * target nor the unit says it (a rate "/s" is better higher; a time or a size lower).
   */
  better?: "higher" | "lower";
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
}

/** What a run writes to NAME.json, and what bench-results/NAME.json keeps. */
export interface BenchResult {
  benchmark: string;
  quick: boolean;
  date: string;
  seconds: number;
  machine: Machine;
  figures: Figure[];
}

export interface BenchContext {
  /** Smaller sizes so the whole benchmark finishes in seconds (CI smoke runs use this). */
  quick: boolean;
  /** A fresh directory the benchmark may fill; removed afterwards. */
  tmpDir: string;
  /** Progress for the person watching; goes to stderr. */
  log(message: string): void;
}

/** Every file scripts/bench/NAME.ts default-exports one of these. */
export interface Benchmark {
  description: string;
  run(ctx: BenchContext): Promise<Figure[]>;
}

export function withPeer(
  name: string,
  value: number,
  unit: string,
  peerName: string,
  peerValue: number,
  target?: string,
): Figure {
  return {
    name,
    value,
    unit,
    peer: { name: peerName, value: peerValue },
    ratio: peerValue === 0 ? 0 : value / peerValue,
    ...(target ? { target } : {}),
  };
}

/** The middle value (the upper of the two middle ones of an even count). */
export function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** A figure for a table: thousands grouped above 1,000, three significant digits below 10. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString("en-US");
  if (abs >= 10) return n.toFixed(1);
  return n.toPrecision(3);
}

export { freePort } from "../protocols/free-port.js";

/** Resolves once something accepts connections on loopback `port`; gives up after `ms`. */
export async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), res(true)));
      s.once("error", () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

const DEV_IGGY = fileURLToPath(new URL("../gateway/iggy/dev-server/main.js", import.meta.url));

/**
 * dev-iggy in a child process on a free loopback port (`args` added to `--port 0`), once it says
 * where it listens; killed if it does not within `startWithinMs` or exits first. `stop()` kills it
 * and waits.
 */
export async function startDevIggy(
  args: string[] = [],
  startWithinMs = 30_000,
): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [DEV_IGGY, "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  try {
    const port = await new Promise<number>((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`dev-iggy did not start within ${startWithinMs / 1000} s: ${out}`)),
        startWithinMs,
      );
      child.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /listening on [^\s]+:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          ok(Number(m[1]));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        fail(new Error(`dev-iggy exited with ${code}: ${out}`));
      });
    });
    child.stdout!.resume();
    return {
      child,
      port,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGKILL");
        await exited;
      },
    };
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  }
}
