// Appends get consecutive sequence numbers in call order; leases hand out contiguous ranges in that
// order, each reading once; release deletes exactly the batch; requeued or unconfirmed batches come
// back identical and first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { drain, open, reading, readings, scratch } from "./helpers.js";

test("concurrent appends get disjoint, consecutive ranges in call order, and leases return them in that order", async (t) => {
  const b = await open(t, scratch(t));
  const calls: Promise<{ firstSeq: number; lastSeq: number; count: number }>[] = [];
  let n = 0;
  const expected = [];
  for (let i = 0; i < 500; i++) {
    const size = 1 + (i % 7);
    const call = readings(n, size, `dev-${i % 13}`);
    expected.push(...call);
    n += size;
    calls.push(b.append(call));
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const results = await Promise.all(calls);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    assert.equal(r.lastSeq - r.firstSeq + 1, r.count);
    if (i > 0)
      assert.equal(r.firstSeq, results[i - 1]!.lastSeq + 1, "calls are numbered in the order they were made");
  }
  const got = [];
  let previousLast = -Infinity;
  for (;;) {
    const batch = await b.lease({ maxReadings: 97 });
    if (batch === null) break;
    assert.ok(batch.firstSeq > previousLast);
    assert.equal(batch.lastSeq - batch.firstSeq + 1, batch.readings.length, "a batch is a contiguous range");
    assert.equal(batch.id, batch.firstSeq);
    assert.equal(batch.attempts, 1);
    previousLast = batch.lastSeq;
    got.push(...batch.readings);
    assert.equal(await b.release(batch.id), true);
  }
  assert.deepStrictEqual(got, expected);
  assert.equal((await b.stats()).readings, 0);
});

test("lease respects maxReadings and maxBytes, and a reading larger than maxBytes still goes alone", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 10));
  await b.append([{ ...reading(10), value: "x".repeat(5000) }]);
  await b.append(readings(11, 5));
  const b1 = await b.lease({ maxReadings: 4 });
  assert.equal(b1?.readings.length, 4);
  const b2 = await b.lease({ maxReadings: 100, maxBytes: 150 });
  assert.ok(b2 && b2.readings.length >= 1 && b2.readings.length < 6, `got ${b2?.readings.length}`);
  const rest = [];
  for (;;) {
    const x = await b.lease({ maxReadings: 100, maxBytes: 1000 });
    if (x === null) break;
    rest.push(x);
  }
  const big = rest.find((x) => typeof x.readings[0]?.value === "string");
  assert.equal(big?.readings.length, 1, "the oversized reading is a batch of its own");
  const all = [b1!, b2!, ...rest].flatMap((x) => x.readings);
  assert.deepStrictEqual(
    all.map((r) => r.ts),
    readings(0, 16).map((r) => r.ts),
  );
});

test("a leased batch is not handed out again while out; lease returns null when all is leased or empty", async (t) => {
  const b = await open(t, scratch(t));
  assert.equal(await b.lease({ maxReadings: 10 }), null);
  await b.append(readings(0, 5));
  const first = await b.lease({ maxReadings: 10 });
  assert.equal(first?.readings.length, 5);
  assert.equal(await b.lease({ maxReadings: 10 }), null);
  await b.append(readings(5, 2));
  const second = await b.lease({ maxReadings: 10 });
  assert.deepStrictEqual(second?.readings, readings(5, 2));
});

test("release deletes exactly its batch; releasing twice or an unknown batch says false", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 30));
  const b1 = (await b.lease({ maxReadings: 10 }))!;
  const b2 = (await b.lease({ maxReadings: 10 }))!;
  const b3 = (await b.lease({ maxReadings: 10 }))!;
  // Out of order: Iggy's confirmations may arrive in any order when batches are pipelined.
  assert.equal(await b.release(b2.id), true);
  assert.equal(await b.release(b2.id), false);
  assert.equal(await b.release(123456), false);
  assert.equal((await b.stats()).readings, 20);
  await b.requeue(b1.id);
  await b.requeue(b3.id);
  const again1 = (await b.lease({ maxReadings: 10 }))!;
  const again3 = (await b.lease({ maxReadings: 10 }))!;
  assert.deepStrictEqual(again1, { ...b1, attempts: 2 });
  assert.deepStrictEqual(again3, { ...b3, attempts: 2 });
  await b.release(again1.id);
  await b.release(again3.id);
  const s = await b.stats();
  assert.equal(s.readings, 0);
  assert.equal(s.leasedBatches, 0);
});

test("a requeued batch comes back identical and before newer readings", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 10));
  const first = (await b.lease({ maxReadings: 6 }))!;
  assert.equal(await b.requeue(first.id), true);
  const again = (await b.lease({ maxReadings: 1 }))!;
  assert.equal(again.id, first.id);
  assert.deepStrictEqual(
    again.readings,
    first.readings,
    "the recorded boundaries win over the new maxReadings",
  );
  assert.equal(again.attempts, 2);
  const next = (await b.lease({ maxReadings: 100 }))!;
  assert.deepStrictEqual(next.readings, readings(6, 4));
});

test("a batch still leased at close is handed out first after reopening, identical, then the rest in order", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  await b.append(readings(0, 25));
  const b1 = (await b.lease({ maxReadings: 10 }))!;
  const b2 = (await b.lease({ maxReadings: 5 }))!;
  await b.close();
  b = await open(t, dir);
  assert.deepStrictEqual(await b.lease({ maxReadings: 3 }), { ...b1, attempts: 2 });
  assert.deepStrictEqual(await b.lease({ maxReadings: 3 }), { ...b2, attempts: 2 });
  const rest = (await b.lease({ maxReadings: 100 }))!;
  assert.equal(rest.attempts, 1);
  assert.ok(rest.firstSeq > b2.lastSeq);
  assert.deepStrictEqual(rest.readings, readings(15, 10));
});

test("sequence numbers are never reused, even after the buffer was drained empty and reopened", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  const r1 = await b.append(readings(0, 10));
  await drain(b);
  await b.close();
  b = await open(t, dir);
  const r2 = await b.append(readings(10, 1));
  assert.ok(r2.firstSeq > r1.lastSeq, `${r2.firstSeq} > ${r1.lastSeq}`);
  assert.equal((await b.stats()).nextSeq, r2.lastSeq + 1);
});

test("a fresh buffer in a new directory starts above an older buffer's numbers (time-seeded base)", async (t) => {
  const a = await open(t, scratch(t));
  const ra = await a.append(readings(0, 1000));
  await new Promise((r) => setTimeout(r, 5));
  const b = await open(t, scratch(t));
  const rb = await b.append(readings(0, 1));
  assert.ok(rb.firstSeq > ra.lastSeq);
});
