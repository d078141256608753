// The one retry delay rule of the gateway: exponential growth from `initialMs` to `maxMs`, each delay
// drawn from [base/2, base] ("equal jitter"), so that many clients that failed together do not
// retry together, while a delay is never less than half its step.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** Growth per failure; default 2. */
  factor?: number;
}

export class Backoff {
  private failures = 0;

  constructor(private readonly options: BackoffOptions) {
    if (!(options.initialMs > 0) || !(options.maxMs >= options.initialMs)) {
      throw new RangeError(
        `backoff needs 0 < initialMs <= maxMs (got ${options.initialMs}, ${options.maxMs})`,
      );
    }
  }

  /** Failures since the last success. */
  get attempts(): number {
    return this.failures;
  }

  /** Counts a failure and returns how long to wait before the next attempt (ms). */
  next(random: () => number = Math.random): number {
    const base = this.ceiling(this.failures);
    this.failures++;
    return base / 2 + random() * (base / 2);
  }

  /** The step the next failure will draw from, without counting one. */
  peek(): number {
    return this.ceiling(this.failures);
  }

  /** A success: the next failure starts from `initialMs` again. */
  reset(): void {
    this.failures = 0;
  }

  private ceiling(failures: number): number {
    const { initialMs, maxMs, factor = 2 } = this.options;
    // Bounded exponent: factor ** 60 is already far beyond any maxMs.
    return Math.min(maxMs, initialMs * factor ** Math.min(failures, 60));
  }
}
