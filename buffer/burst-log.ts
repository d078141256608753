// Logs a repeating condition (readings dropped or refused at the budget) once when it starts and
// once when it has been quiet for `quietMs`, with the total in between, instead of once per commit.

export class BurstLog {
  private active = false;
  private total = 0;
  private startedAt = 0;
  private lastAt = 0;
  private reasons = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly quietMs: number,
    private readonly onStart: (reason: string) => void,
    private readonly onEnd: (total: number, durationMs: number, reasons: string[]) => void,
  ) {}

  note(count: number, reason: string, now = Date.now()): void {
    if (!this.active) {
      this.active = true;
      this.total = 0;
      this.startedAt = now;
      this.reasons.clear();
      this.onStart(reason);
    }
    this.total += count;
    this.lastAt = now;
    this.reasons.add(reason);
    if (this.timer === null) this.arm(this.quietMs);
  }

  /** Ends a burst in progress now (at close). */
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
    if (!this.active) return;
    this.active = false;
    this.onEnd(this.total, this.lastAt - this.startedAt, [...this.reasons]);
  }
}
