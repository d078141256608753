// What a drill under scripts/drill/ exports, and what the drills share: a context that ends what
// a drill started, a seeded random source, and the JSON summary shape.
import { readdirSync, readFileSync } from "node:fs";
import type { TestContext } from "node:test";

export interface DrillOptions {
  /** The CI mode: few rounds, small counts. */
  short: boolean;
  seed: number;
  /** A scratch folder, removed after the drill. */
  tmpDir: string;
  /** Where the drill may keep evidence of a finding (the summary's folder). */
  outDir: string;
  log(message: string): void;
}

/** What a drill found. `ok` is false only for a lost or doubled reading, or a crash of the component under drill. */
export interface DrillResult {
  ok: boolean;
  /** Set when a peer the drill needs is missing: the drill did not run. */
  skipped?: string;
  /** Counts: rounds, readings acknowledged, lost, doubled, inputs tried, ... */
  figures: Record<string, number>;
  /** What went wrong, one line each (empty when ok). */
  findings: string[];
  /** Anything else worth keeping in the summary. */
  details?: Record<string, unknown>;
  /** Samples over time, one array per quantity, all of one length (the soak's; the plots draw them). */
  series?: Record<string, number[]>;
}

export interface Drill {
  description: string;
  run(options: DrillOptions, ctx: DrillContext): Promise<DrillResult>;
}

/**
 * The drills reuse the tests' peer helpers (test/helpers, test/mqtt/helpers), which take a
 * TestContext only to register clean-up (`after`) and to skip when a peer is missing (`skip`). This
 * is that much of a TestContext: `asTest()` hands it to those helpers; `close()` runs the clean-ups
 * in reverse order.
 */
export class DrillContext {
  private readonly cleanups: (() => unknown)[] = [];
  skipped: string | null = null;

  after(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  skip(message?: string): void {
    this.skipped = message ?? "skipped";
  }

  diagnostic(_message: string): void {}

  asTest(): TestContext {
    return this as unknown as TestContext;
  }

  async close(): Promise<void> {
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch {
        // a clean-up that fails must not hide the drill's result
      }
    }
    this.cleanups.length = 0;
  }
}

/** xorshift32: the same seed gives the same kill points, so a finding can be replayed with --seed. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    this.state ^= this.state << 13;
    this.state ^= this.state >>> 17;
    this.state ^= this.state << 5;
    return (this.state >>> 0) % n;
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
}

/**
 * Waits until `cond` holds, polling every `everyMs`; fails naming `what` after `limitMs` (a hang
 * guard only), or with what `cond` throws.
 */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  limitMs = 120_000,
  everyMs = 50,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${limitMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Resident set size of process `pid` in bytes (from /proc), or null when it is gone. */
export function rssOf(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Open file descriptors of process `pid`, or null when it is gone. */
export function fdsOf(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}
