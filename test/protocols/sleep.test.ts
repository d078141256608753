import assert from "node:assert/strict";
import { test } from "node:test";
import { sleep, Waker } from "../../protocols/sleep.js";
import { countTimers } from "../helpers/timers.js";

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

test(
  "a Waker's sleeps of one length share one timer; a wake or another length makes a new one",
  { timeout: 10_000 },
  async () => {
    const timers = countTimers();
    try {
      const w = new Waker();
      for (let i = 0; i < 5; i++) assert.equal(await w.sleep(1), false);
      assert.equal(timers.made, 1, "five 1 ms sleeps, one timer");
      const woken = w.sleep(3_600_000);
      assert.equal(timers.made, 2, "another length, another timer");
      w.wake();
      assert.equal(await woken, true);
      // The woken sleep's timer was cleared: the next sleep makes one, even of the same length.
      const again = w.sleep(3_600_000);
      assert.equal(timers.made, 3);
      // A sleep begun while another is under way ends that one, not woken.
      const short = w.sleep(1);
      assert.equal(await again, false);
      assert.equal(await short, false);
      assert.equal(timers.made, 4);
    } finally {
      timers.restore();
    }
  },
);
