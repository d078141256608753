// Waiting without blocking shutdown: a sleep that an AbortSignal ends early, and a Waker for a loop
// that sleeps until either its timer runs out or someone has news for it.

/** Resolves after `ms`, or at once when `signal` aborts (it never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * One loop's sleeps, each ended early by `wake()`. A wake that comes while the loop is not asleep is
 * kept and ends the next sleep at once, so news between two checks is never missed. One sleep at a
 * time: a sleep begun while another is under way ends that one (not woken).
 */
export class Waker {
  private resolve: ((woken: boolean) => void) | null = null;
  private woken = false;
  /**
   * One timer for every sleep, moved on (`refresh`) when the next sleep is as long as the last
   * rather than made anew: a loop that sleeps 50 ms between empty polls makes no timer per sleep.
   */
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;

  /** Resolves after `ms`, or earlier on `wake()`; `true` if woken. */
  sleep(ms: number): Promise<boolean> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve(true);
    }
    if (ms <= 0) return Promise.resolve(false);
    this.finish(false);
    return new Promise((resolve) => {
      this.resolve = resolve;
      if (this.timer !== null && this.timerMs === ms) this.timer.refresh();
      else {
        this.stopTimer();
        this.timer = setTimeout(this.onTimer, ms);
        this.timerMs = ms;
      }
    });
  }

  wake(): void {
    if (this.resolve) {
      this.stopTimer();
      this.finish(true);
    } else this.woken = true;
  }

  /** Forgets a wake that no sleep has taken yet. */
  clear(): void {
    this.woken = false;
  }

  private readonly onTimer = (): void => this.finish(false);

  private finish(woken: boolean): void {
    const resolve = this.resolve;
    this.resolve = null;
    resolve?.(woken);
  }

  /** A cleared timer cannot be refreshed: the next sleep makes a new one. */
  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
