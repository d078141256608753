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
 * kept and ends the next sleep at once, so news between two checks is never missed.
 */
export class Waker {
  private pending: (() => void) | null = null;
  private woken = false;

  /** Resolves after `ms`, or earlier on `wake()`; `true` if woken. */
  sleep(ms: number): Promise<boolean> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve(true);
    }
    if (ms <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const finish = (woken: boolean): void => {
        clearTimeout(timer);
        if (this.pending === onWake) this.pending = null;
        resolve(woken);
      };
      const onWake = (): void => finish(true);
      const timer = setTimeout(() => finish(false), ms);
      this.pending = onWake;
    });
  }

  wake(): void {
    if (this.pending) this.pending();
    else this.woken = true;
  }

  /** Forgets a wake that no sleep has taken yet. */
  clear(): void {
    this.woken = false;
  }
}
