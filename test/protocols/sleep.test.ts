import assert from "node:assert/strict";
import { test } from "node:test";
import { sleep, Waker } from "../../protocols/sleep.js";

test("sleep ends at once when its signal aborts", { timeout: 10_000 }, async () => {
  const ac = new AbortController();
  const done = sleep(3_600_000, ac.signal);
  ac.abort();
  await done;
  await sleep(3_600_000, ac.signal); // already aborted: resolves at once
});

test(
  "a Waker's sleep ends on wake, and a wake before the sleep is kept for it",
  { timeout: 10_000 },
  async () => {
    const w = new Waker();
    const woken = w.sleep(3_600_000);
    w.wake();
    assert.equal(await woken, true);
    w.wake();
    assert.equal(await w.sleep(3_600_000), true);
    assert.equal(await w.sleep(1), false);
    w.wake();
    w.clear();
    assert.equal(await w.sleep(1), false);
  },
);
