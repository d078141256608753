// Appends of many callers share transactions (group commit), a transaction holds at most about
// commitMaxRows readings, and readings that pile up faster than the disk commits them are refused
// with BUFFER_OVERLOADED instead of growing memory.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BufferOverloadedError } from "../../buffer/index.js";
import { drain, open, reading, readings, scratch } from "./helpers.js";

test("many concurrent single-reading appends are committed in a few shared transactions", async (t) => {
  const b = await open(t, scratch(t), { commitMaxRows: 1000 });
  const results = await Promise.all(Array.from({ length: 800 }, (_, i) => b.append([reading(i)])));
  const s = await b.stats();
  assert.equal(s.committedReadings, 800);
  assert.ok(s.commits <= 3, `${s.commits} commits for 800 concurrent appends`);
  assert.deepStrictEqual(
    results.map((r) => r.firstSeq - results[0]!.firstSeq),
    results.map((_, i) => i),
  );
});

test("a commit starts early once commitMaxRows readings wait", async (t) => {
  const b = await open(t, scratch(t), { commitMaxRows: 100, commitIntervalMs: 10_000 });
  await Promise.all(Array.from({ length: 50 }, (_, i) => b.append(readings(i * 10, 10))));
  const s = await b.stats();
  assert.equal(s.committedReadings, 500);
  assert.ok(s.commits >= 5, `${s.commits} commits of at most ~100 readings`);
  assert.deepStrictEqual(await drain(b), readings(0, 500));
});

test("appends beyond maxPendingBytes waiting for their commit are refused, not queued in memory", async (t) => {
  const b = await open(t, scratch(t), { maxPendingBytes: 1000 });
  const big = readings(0, 200);
  const first = b.append(big);
  await assert.rejects(b.append(readings(200, 200)), (e: unknown) => {
    assert.ok(e instanceof BufferOverloadedError);
    assert.equal(e.code, "BUFFER_OVERLOADED");
    return true;
  });
  await first;
  await b.append(readings(200, 10));
  assert.deepStrictEqual(await drain(b), [...big, ...readings(200, 10)]);
  assert.equal((await b.stats()).rejected.overloaded, 200);
});
