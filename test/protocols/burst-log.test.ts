// The one burst logger, on a clock the test moves by hand: no sleeps, no real timers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BurstLog, type Burst, type BurstClock } from "../../protocols/burst-log.js";

/** A clock whose time moves only when the test says; due timers run in order of their due time. */
function manualClock(): BurstClock & { advance(ms: number): void; pending(): number } {
  let now = 1_000_000;
  let nextId = 1;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    now: () => now,
    setTimeout(fn, ms) {
      const id = nextId++;
      timers.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const until = now + ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = until;
    },
    pending: () => timers.size,
  };
}

test(
  "a burst starts with its first note and ends after quietMs without one, with the total",
  { timeout: 10_000 },
  () => {
    const clock = manualClock();
    const ended: Burst[] = [];
    const log = new BurstLog({ quietMs: 10_000, clock, onEnd: (b) => ended.push(b) });
    assert.equal(log.note("dev-1"), true, "the first note starts a burst");
    for (let i = 0; i < 9; i++) {
      clock.advance(5_000);
      assert.equal(log.note("dev-1"), false, "later notes of the burst do not");
    }
    clock.advance(9_999);
    assert.equal(ended.length, 0, "not quiet long enough yet");
    clock.advance(1);
    assert.equal(ended.length, 1);
    assert.equal(ended[0]!.key, "dev-1");
    assert.equal(ended[0]!.notes, 10);
    assert.equal(ended[0]!.total, 10);
    assert.equal(ended[0]!.lastAt - ended[0]!.startedAt, 45_000);
    assert.equal(clock.pending(), 0, "no timer left once the burst ended");
    assert.equal(log.note("dev-1"), true, "the next note starts a new burst");
  },
);

test("keys have bursts of their own; counts and details add up", { timeout: 10_000 }, () => {
  const clock = manualClock();
  const ended: Burst[] = [];
  const log = new BurstLog({ quietMs: 100, clock, onEnd: (b) => ended.push(b) });
  assert.equal(log.note("drop", 250, "max_bytes"), true);
  assert.equal(log.note("reject", 3, "max_rows"), true);
  assert.equal(log.note("drop", 50, "max_rows"), false);
  assert.equal(log.note("drop", 1, "max_bytes"), false);
  clock.advance(100);
  const byKey = Object.fromEntries(ended.map((b) => [b.key, b]));
  assert.deepEqual(
    { total: byKey.drop!.total, notes: byKey.drop!.notes, details: byKey.drop!.details },
    { total: 301, notes: 3, details: ["max_bytes", "max_rows"] },
  );
  assert.deepEqual(
    { total: byKey.reject!.total, notes: byKey.reject!.notes, details: byKey.reject!.details },
    { total: 3, notes: 1, details: ["max_rows"] },
  );
});

test(
  "without quietMs a burst lasts until end(); end and flush of nothing do nothing",
  { timeout: 10_000 },
  () => {
    const clock = manualClock();
    const ended: Burst[] = [];
    const log = new BurstLog({ clock, onEnd: (b) => ended.push(b) });
    log.end("none");
    log.flush();
    assert.equal(log.note("boiler-1", 4), true);
    assert.equal(clock.pending(), 0, "no timer without quietMs");
    clock.advance(3_600_000);
    assert.equal(log.active("boiler-1"), true);
    assert.equal(log.note("boiler-1", 4), false);
    log.end("boiler-1");
    log.end("boiler-1");
    assert.deepEqual(
      ended.map((b) => [b.key, b.notes, b.total]),
      [["boiler-1", 2, 8]],
    );
    assert.equal(log.active("boiler-1"), false);
  },
);

test(
  "flush ends every burst in progress and clears its timer; past maxKeys the old bursts end first",
  { timeout: 10_000 },
  () => {
    const clock = manualClock();
    const ended: Burst[] = [];
    const log = new BurstLog({ quietMs: 1000, maxKeys: 3, clock, onEnd: (b) => ended.push(b) });
    log.note("a");
    log.note("b");
    log.note("c");
    assert.equal(clock.pending(), 3);
    log.note("d");
    assert.deepEqual(
      ended.map((b) => b.key),
      ["a", "b", "c"],
    );
    log.flush();
    assert.deepEqual(
      ended.map((b) => b.key),
      ["a", "b", "c", "d"],
    );
    assert.equal(clock.pending(), 0);
    clock.advance(5000);
    assert.equal(ended.length, 4, "a flushed burst does not end twice");
  },
);

test("a burst log refuses a quiet period that is not positive", { timeout: 10_000 }, () => {
  assert.throws(() => new BurstLog({ quietMs: 0, onEnd: () => {} }), /quietMs > 0/);
});
