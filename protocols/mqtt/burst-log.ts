// A condition that repeats (undecodable payloads from one device, refused connections) is logged when
// it starts, with its first example, and once more when it has been quiet for a while, with the count.

export class Burst {
  private count = 0;
  private lastAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly quietMs: number,
    private readonly onEnd: (count: number) => void,
  ) {}

  /** Counts one occurrence; `first` runs (and logs the example) only when a burst starts. */
  note(first?: () => void): void {
    this.lastAt = Date.now();
    if (this.count++ === 0) {
      first?.();
      this.arm(this.quietMs);
    }
  }

  /** Ends a burst in progress now. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.end();
  }

  private arm(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const quiet = Date.now() - this.lastAt;
      if (quiet >= this.quietMs) this.end();
      else this.arm(this.quietMs - quiet);
    }, ms);
    this.timer.unref();
  }

  private end(): void {
    const n = this.count;
    this.count = 0;
    if (n > 1) this.onEnd(n);
  }
}

/** One Burst per key, made on first use. */
export class Bursts {
  private readonly map = new Map<string, Burst>();

  constructor(
    private readonly quietMs: number,
    private readonly onEnd: (key: string, count: number) => void,
  ) {}

  note(key: string, first?: () => void): void {
    let b = this.map.get(key);
    if (b === undefined) {
      if (this.map.size >= 1000) this.flush();
      b = new Burst(this.quietMs, (n) => this.onEnd(key, n));
      this.map.set(key, b);
    }
    b.note(first);
  }

  flush(): void {
    for (const b of this.map.values()) b.flush();
    this.map.clear();
  }
}
