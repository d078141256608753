import assert from "node:assert/strict";
import { test } from "node:test";
import { planReads, requestsPerSecond, type PlanPoint } from "../../protocols/modbus/planner.js";

let n = 0;
const pt = (table: PlanPoint["table"], address: number, count = 1, pollMs = 1000): PlanPoint => ({
  index: n++,
  table,
  address,
  count,
  pollMs,
});
const spans = (blocks: ReturnType<typeof planReads>) => blocks.map((b) => [b.table, b.start, b.count]);

test("100 contiguous holding registers are one read", () => {
  const pts = Array.from({ length: 100 }, (_, i) => pt("holding", i));
  const blocks = planReads(pts, { maxGap: 10 });
  assert.deepEqual(spans(blocks), [["holding", 0, 100]]);
  assert.equal(blocks[0]!.points.length, 100);
  assert.equal(requestsPerSecond(blocks), 1);
});

test("at most 125 registers per read; a multi-register point is never cut", () => {
  const pts = Array.from({ length: 200 }, (_, i) => pt("holding", i));
  assert.deepEqual(spans(planReads(pts, { maxGap: 0 })), [
    ["holding", 0, 125],
    ["holding", 125, 75],
  ]);
  const floats = Array.from({ length: 70 }, (_, i) => pt("holding", i * 2, 2));
  const blocks = planReads(floats, { maxGap: 0 });
  assert.deepEqual(spans(blocks), [
    ["holding", 0, 124],
    ["holding", 124, 16],
  ]);
});

test("the gap rule: skipped registers up to max_gap join, more split", () => {
  assert.equal(planReads([pt("holding", 0), pt("holding", 11)], { maxGap: 10 }).length, 1);
  assert.equal(planReads([pt("holding", 0), pt("holding", 12)], { maxGap: 10 }).length, 2);
  assert.equal(planReads([pt("holding", 0), pt("holding", 1)], { maxGap: 0 }).length, 1);
  assert.equal(planReads([pt("holding", 0), pt("holding", 2)], { maxGap: 0 }).length, 2);
});

test("tables and poll intervals are never mixed in one read", () => {
  const blocks = planReads(
    [
      pt("holding", 0),
      pt("input", 1),
      pt("holding", 2, 1, 500),
      pt("coil", 0),
      pt("discrete", 0),
      pt("holding", 1),
    ],
    { maxGap: 10 },
  );
  assert.equal(blocks.length, 5);
  const holding1s = blocks.find((b) => b.table === "holding" && b.intervalMs === 1000)!;
  assert.deepEqual([holding1s.start, holding1s.count, holding1s.points.length], [0, 2, 2]);
});

test("coils: up to 2000 per read, gaps counted in 16-bit words", () => {
  const pts = Array.from({ length: 2500 }, (_, i) => pt("coil", i));
  assert.deepEqual(spans(planReads(pts, { maxGap: 0 })), [
    ["coil", 0, 2000],
    ["coil", 2000, 500],
  ]);
  assert.equal(planReads([pt("coil", 0), pt("coil", 161)], { maxGap: 10 }).length, 1);
  assert.equal(planReads([pt("coil", 0), pt("coil", 162)], { maxGap: 10 }).length, 2);
});

test("a per-device read limit lowers the 125", () => {
  const pts = Array.from({ length: 100 }, (_, i) => pt("input", i));
  assert.equal(planReads(pts, { maxGap: 10, maxRegisters: 32 }).length, 4);
  assert.equal(planReads(pts, { maxGap: 10, maxRegisters: 500 }).length, 1);
});

test("overlapping points (a register and its bits) share the read", () => {
  const blocks = planReads([pt("holding", 5), pt("holding", 5), pt("holding", 4, 2)], { maxGap: 0 });
  assert.deepEqual(spans(blocks), [["holding", 4, 2]]);
  assert.equal(blocks[0]!.points.length, 3);
});

test("a point longer than one read is a clear error", () => {
  assert.throws(
    () => planReads([pt("holding", 0, 64)], { maxGap: 0, maxRegisters: 32 }),
    /more than one read may carry \(32\)/,
  );
});

test("no points, no reads", () => {
  assert.deepEqual(planReads([], { maxGap: 10 }), []);
});
