// The memory reducer's decisions, tick by tick (a tick is the runtime's status refresh): when it
// asks for a collection and when it keeps still. No timers, no GC: counts and heap sizes given.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryReducer, type MemoryReducerOptions } from "../../gateway/memory-reducer.js";

const MiB = 1024 * 1024;
const OPTIONS: MemoryReducerOptions = {
  quietReadings: 20,
  quietFractionOfPeak: 0.1,
  quietTicks: 5,
  burstReadings: 10_000,
  burstPeak: 1_000,
  growthBytes: 2 * MiB,
  minTicksBetween: 30,
};

/**
 * Runs `ticks` ticks with `perTick` readings noted before each, the heap at tick i being `heap(i)`;
 * the reasons given, by tick index.
 */
function run(r: MemoryReducer, ticks: number, perTick: number, heap: (i: number) => number = () => 10 * MiB) {
  const asked: [number, string][] = [];
  for (let i = 0; i < ticks; i++) {
    if (perTick > 0) r.note(perTick);
    const reason = r.tick(() => heap(i));
    if (reason !== null) {
      asked.push([i, reason]);
      r.collected(heap(i));
    }
  }
  return asked;
}

test("start-up counts as a burst: one collection after the first quiet ticks, then none while the heap stays", () => {
  const r = new MemoryReducer(OPTIONS);
  assert.deepEqual(run(r, 200, 0), [[4, "burst"]]);
});

test("under steady load it never collects, however long", () => {
  const r = new MemoryReducer(OPTIONS);
  assert.deepEqual(
    run(r, 10_000, 500, (i) => 10 * MiB + i * 64 * 1024),
    [],
  );
});

test("a burst is collected once the gateway has been quiet for quietTicks, not during it", () => {
  const r = new MemoryReducer(OPTIONS);
  run(r, 40, 0); // start-up's collection, and the pause after it
  assert.deepEqual(run(r, 30, 1_000), []);
  assert.deepEqual(run(r, 10, 0), [[4, "burst"]]);
});

test("readings forwarded count as load: a drain is collected after it, once", () => {
  const r = new MemoryReducer(OPTIONS);
  run(r, 40, 0);
  // Iggy away under load, then quiet with the backlog held: collected once quiet.
  run(r, 60, 2_000);
  assert.deepEqual(run(r, 40, 0), [[4, "burst"]]);
  // The drain (readings confirmed by Iggy, none coming in), then quiet again: one more.
  assert.deepEqual(run(r, 20, 5_000), []);
  assert.deepEqual(run(r, 40, 0), [[4, "burst"]]);
});

test("after a burst, a steady light load behind it is quiet: collected once, then left alone", () => {
  const r = new MemoryReducer(OPTIONS);
  run(r, 40, 0);
  // 60 readings a tick all along; a burst of 5,000 a tick for 20 ticks in between.
  assert.deepEqual(run(r, 60, 60), []);
  assert.deepEqual(run(r, 20, 5_000), []);
  assert.deepEqual(run(r, 200, 60), [[4, "burst"]]);
});

test("a steady load that adds up to burstReadings without a busy tick is not a burst", () => {
  const r = new MemoryReducer(OPTIONS);
  run(r, 40, 0);
  // 900 a tick (under burstPeak) for long, then 100 a tick: never quiet (above quietReadings).
  assert.deepEqual(run(r, 100, 900), []);
  assert.deepEqual(run(r, 100, 100), []);
});

test("a little load is quiet: the idle heap's growth is collected at quietReadings a tick, not above", () => {
  const grows = (i: number) => 10 * MiB + i * 64 * 1024;
  const r = new MemoryReducer(OPTIONS);
  run(r, 40, 0);
  assert.deepEqual(
    run(r, 40, OPTIONS.quietReadings, grows).map(([, reason]) => reason),
    ["growth"],
  );
  const busy = new MemoryReducer(OPTIONS);
  run(busy, 40, 0);
  assert.deepEqual(run(busy, 200, OPTIONS.quietReadings + 1, grows), []);
});

test("an idle heap that grows by growthBytes is collected, and counted from after the collection", () => {
  const r = new MemoryReducer(OPTIONS);
  // 32 KiB a tick: 2 MiB in 64 ticks.
  const asked = run(r, 400, 0, (i) => 10 * MiB + i * 32 * 1024);
  assert.deepEqual(asked, [
    [4, "burst"],
    [68, "growth"],
    [132, "growth"],
    [196, "growth"],
    [260, "growth"],
    [324, "growth"],
    [388, "growth"],
  ]);
});

test("an idle heap that grows slower than growthBytes between collections is left alone", () => {
  const r = new MemoryReducer(OPTIONS);
  assert.deepEqual(
    run(r, 1_000, 0, (i) => 10 * MiB + i * 2 * 1024),
    [[4, "burst"]],
  );
});

test("collections are at least minTicksBetween apart even when bursts come quickly", () => {
  const r = new MemoryReducer(OPTIONS);
  const asked: number[] = [];
  for (let i = 0; i < 300; i++) {
    // A burst of 20,000 readings every 8 ticks, each followed by quiet.
    if (i % 8 === 0) r.note(20_000);
    if (r.tick(() => 10 * MiB) !== null) {
      asked.push(i);
      r.collected(10 * MiB);
    }
  }
  assert.ok(asked.length >= 5, String(asked));
  for (let k = 1; k < asked.length; k++) assert.ok(asked[k]! - asked[k - 1]! >= OPTIONS.minTicksBetween);
});

test("no second collection is asked for while one runs", () => {
  const r = new MemoryReducer(OPTIONS);
  let reasons = 0;
  for (let i = 0; i < 200; i++) {
    r.note(i % 50 === 0 ? 20_000 : 0);
    if (r.tick(() => 50 * MiB) !== null) reasons++;
  }
  assert.equal(reasons, 1);
  r.collected(10 * MiB);
  for (let i = 0; i < 100; i++) if (r.tick(() => 10 * MiB) !== null) reasons++;
  assert.equal(reasons, 2);
});

test("the heap is read only on quiet ticks that may collect", () => {
  const r = new MemoryReducer(OPTIONS);
  let reads = 0;
  const heap = () => (reads++, 10 * MiB);
  for (let i = 0; i < 1_000; i++) {
    r.note(100);
    r.tick(heap);
  }
  assert.equal(reads, 0);
});
