// Waiting in tests on a condition or an event, never on the clock: each wait has a generous time
// limit only so that a broken peer fails the test with a message that says what did not happen.
import { once, type EventEmitter } from "node:events";

/** Time limit of a wait unless the caller gives one: long enough for a loaded Raspberry Pi. */
export const WAIT_LIMIT_MS = 60_000;

/** Polls `cond` (every 10 ms) until it holds; fails naming `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = WAIT_LIMIT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The arguments of `emitter`'s next `event`; fails naming `what` after `timeoutMs`. */
export async function onceWithin(
  emitter: EventEmitter,
  event: string,
  what: string,
  timeoutMs = WAIT_LIMIT_MS,
): Promise<unknown[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    return await once(emitter, event, { signal });
  } catch (e) {
    if (signal.aborted) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    throw e;
  }
}
