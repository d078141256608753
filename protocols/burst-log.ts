// A condition that repeats (payloads that do not decode, refused connections, readings the buffer
// drops or refuses) is logged when it starts and once when it ends, with how much happened in between,
// instead of once per occurrence. A burst ends after `quietMs` without a note, or when the caller says
// the condition is over (`end`: the buffer accepts readings again). One log serves many keys (a device,
// a reason); each key has its own burst.

export interface Burst {
  key: string;
  /** The sum of the counts noted: occurrences, or readings when a note carries a number. */
  total: number;
  /** How many times the condition was noted. */
  notes: number;
  startedAt: number;
  lastAt: number;
  /** The distinct details noted (reasons), in the order they first came. */
  details: string[];
}

/** Time and timers, injected by tests. */
export interface BurstClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process clock; its timers do not keep the process alive. */
export const systemClock: BurstClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface BurstLogOptions {
  /** A burst ends after this long without a note. Without it only `end` and `flush` end a burst. */
  quietMs?: number;
  /** Called once per burst, when it ends. */
  onEnd: (burst: Burst) => void;
  clock?: BurstClock;
  /** Bursts in progress at once; a note for one more key first ends all of them. Default 1000. */
  maxKeys?: number;
}

interface Running extends Burst {
  timer: unknown;
  detailSet: Set<string>;
}

export class BurstLog {
  private readonly bursts = new Map<string, Running>();
  private readonly clock: BurstClock;

  constructor(private readonly options: BurstLogOptions) {
    if (options.quietMs !== undefined && !(options.quietMs > 0)) {
      throw new RangeError(`a burst log needs quietMs > 0 (got ${options.quietMs})`);
    }
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Notes one occurrence (or `count` things, such as readings) under `key`. Returns true when this
   * note starts a burst: the caller logs its first example then, and only then.
   */
  note(key: string, count = 1, detail?: string): boolean {
    const now = this.clock.now();
    let b = this.bursts.get(key);
    const starts = b === undefined;
    if (b === undefined) {
      if (this.bursts.size >= (this.options.maxKeys ?? 1000)) this.flush();
      b = {
        key,
        total: 0,
        notes: 0,
        startedAt: now,
        lastAt: now,
        details: [],
        detailSet: new Set(),
        timer: null,
      };
      this.bursts.set(key, b);
      if (this.options.quietMs !== undefined) this.arm(b, this.options.quietMs);
    }
    b.total += count;
    b.notes++;
    b.lastAt = now;
    if (detail !== undefined && !b.detailSet.has(detail)) {
      b.detailSet.add(detail);
      b.details.push(detail);
    }
    return starts;
  }

  /** Whether a burst of `key` is in progress. */
  active(key: string): boolean {
    return this.bursts.has(key);
  }

  /** The condition of `key` is over: ends its burst now (nothing happens when none is in progress). */
  end(key: string): void {
    const b = this.bursts.get(key);
    if (b === undefined) return;
    this.bursts.delete(key);
    if (b.timer !== null) this.clock.clearTimeout(b.timer);
    this.options.onEnd({
      key: b.key,
      total: b.total,
      notes: b.notes,
      startedAt: b.startedAt,
      lastAt: b.lastAt,
      details: b.details,
    });
  }

  /** Ends every burst in progress now (at close). */
  flush(): void {
    for (const key of [...this.bursts.keys()]) this.end(key);
  }

  private arm(b: Running, ms: number): void {
    const quietMs = this.options.quietMs!;
    b.timer = this.clock.setTimeout(() => {
      b.timer = null;
      if (this.bursts.get(b.key) !== b) return;
      const quiet = this.clock.now() - b.lastAt;
      if (quiet >= quietMs) this.end(b.key);
      else this.arm(b, quietMs - quiet);
    }, ms);
  }
}
