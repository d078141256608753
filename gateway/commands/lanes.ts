// One lane per device: a device's commands run one after another in the order they were read;
// different devices' lanes run side by side, so a slow or dead device holds only its own commands.

export class DeviceLanes {
  private readonly tails = new Map<string, Promise<void>>();
  private readonly depth = new Map<string, number>();

  /** Runs `task` after every earlier task of `device`; resolves with its outcome. */
  run<T>(device: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(device) ?? Promise.resolve();
    this.depth.set(device, (this.depth.get(device) ?? 0) + 1);
    const result = before.then(task).finally(() => {
      const left = (this.depth.get(device) ?? 1) - 1;
      if (left > 0) return void this.depth.set(device, left);
      this.depth.delete(device);
      if (this.tails.get(device) === tail) this.tails.delete(device);
    });
    const tail: Promise<void> = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(device, tail);
    return result;
  }

  /** Commands waiting or running for `device`. */
  pending(device: string): number {
    return this.depth.get(device) ?? 0;
  }
}

export class WriteTimeoutError extends Error {
  override name = "WriteTimeoutError";
}

/**
 * `write`'s outcome, or a WriteTimeoutError after `ms`. `settled` resolves when the write itself has
 * ended (or after a second `ms`, so that a write that never ends cannot hold its lane forever).
 */
export function withTimeout(
  write: Promise<void>,
  ms: number,
): { outcome: Promise<void>; settled: Promise<void> } {
  let timer: NodeJS.Timeout | undefined;
  const outcome = Promise.race([
    write,
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WriteTimeoutError(
              `no answer from the device within ${ms} ms (the write may still take effect)`,
            ),
          ),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const ended = write.then(
    () => undefined,
    () => undefined,
  );
  const settled = outcome.then(
    () => undefined,
    () => Promise.race([ended, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]),
  );
  return { outcome, settled };
}
