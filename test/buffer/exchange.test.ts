// exchange(): the release of confirmed batches and the lease of the next ones in one round trip and
// one transaction, as the pipelined forwarder uses it. Batches come out in order across overlapping
// calls, a call may lease several, `resume` hands back what a failed run held, and a batch whose
// readings all fail to decode does not make a later batch jump the queue.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { Batch } from "../../buffer/index.js";
import { corruptStored, open, readings, scratch } from "./helpers.js";

const values = (batches: Batch[]) => batches.flatMap((b) => b.readings.map((r) => r.value));
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

test("an exchange releases the confirmed batches and leases the next ones, in order", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 35));
  const first = await b.exchange({ lease: { maxReadings: 10 } });
  assert.deepEqual(first.released, []);
  assert.equal(first.batches.length, 1);
  assert.equal(first.more, true);
  const [b1] = first.batches;
  assert.deepEqual(values([b1!]), range(0, 10));

  const second = await b.exchange({ release: [b1!.id], lease: { maxReadings: 10, batches: 2 } });
  assert.deepEqual(second.released, [true]);
  assert.deepEqual(values(second.batches), range(10, 20));
  assert.equal(second.batches[1]!.firstSeq, second.batches[0]!.lastSeq + 1);
  assert.ok(second.batches.every((x) => x.attempts === 1 && x.id === x.firstSeq));
  let s = await b.stats();
  assert.equal(s.readings, 25, "the released batch is gone");
  assert.equal(s.leasedBatches, 2);

  // Releasing the same batch twice, or one never leased, says false; the rest is still leased.
  const third = await b.exchange({
    release: [second.batches[0]!.id, second.batches[0]!.id, b1!.id, 424242],
    lease: { maxReadings: 100, batches: 3 },
  });
  assert.deepEqual(third.released, [true, false, false, false]);
  assert.deepEqual(values(third.batches), range(30, 5));
  assert.equal(third.more, false, "nothing is left to lease");
  s = await b.stats();
  assert.equal(s.readings, 15);
  assert.equal(s.leasedBatches, 2);

  const last = await b.exchange({ release: [second.batches[1]!.id, third.batches[0]!.id] });
  assert.deepEqual(last.released, [true, true]);
  assert.deepEqual(last.batches, []);
  s = await b.stats();
  assert.equal(s.readings, 0);
  assert.equal(s.leasedBatches, 0);
  await b.append(readings(35, 1));
  assert.equal((await b.exchange({})).more, true, "more says that a lease now would hand out something");
});

test("overlapping exchanges hand out their batches in the order they were called, each reading once", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 1000));
  const calls = [];
  for (let i = 0; i < 12; i++)
    calls.push(b.exchange({ lease: { maxReadings: 7 + i, batches: 1 + (i % 3) } }));
  const results = await Promise.all(calls);
  const batches = results.flatMap((r) => r.batches);
  for (let i = 1; i < batches.length; i++)
    assert.equal(batches[i]!.firstSeq, batches[i - 1]!.lastSeq + 1, `batch ${i} follows batch ${i - 1}`);
  const leased = values(batches);
  assert.deepEqual(leased, range(0, leased.length));
  assert.equal((await b.stats()).leasedBatches, batches.length);
});

test("resume hands every batch not released back first, identical and in order, then new readings", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 40));
  const { batches } = await b.exchange({ lease: { maxReadings: 10, batches: 3 } });
  assert.equal(batches.length, 3);
  // The first was confirmed and released; the other two, and one leased since, were held by a run that failed.
  await b.exchange({ release: [batches[0]!.id] });
  const [since] = (await b.exchange({ lease: { maxReadings: 10 } })).batches;
  const resumed = await b.exchange({ resume: true, lease: { maxReadings: 3, batches: 5 } });
  assert.deepEqual(
    resumed.batches,
    [batches[1]!, batches[2]!, since!].map((x) => ({ ...x, attempts: 2 })),
    "the recorded boundaries win over the new maxReadings; nothing new was appended",
  );
  assert.equal(resumed.more, false);
});

test("a lease of several batches is recorded before it returns: after a reopen they come back identical", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  await b.append(readings(0, 30));
  const { batches } = await b.exchange({ lease: { maxReadings: 8, batches: 3 } });
  await b.close();
  b = await open(t, dir);
  const again = await b.exchange({ lease: { maxReadings: 100, batches: 4 } });
  assert.deepEqual(
    again.batches,
    [...batches.map((x) => ({ ...x, attempts: 2 })), again.batches[3]!],
    "the recorded boundaries win over the new maxReadings",
  );
  assert.deepEqual(values([again.batches[3]!]), range(24, 6));
});

test("a batch whose readings all fail to decode comes back empty and dead-lettered; the next ones keep their place", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  await b.append(readings(0, 15));
  await b.close();
  corruptStored(join(dir, "buffer", "buffer.db"), 5, 10);
  b = await open(t, dir);
  const [r1, r2] = await Promise.all([
    b.exchange({ lease: { maxReadings: 5, batches: 2 } }),
    b.exchange({ lease: { maxReadings: 5 } }),
  ]);
  assert.deepEqual(
    [...r1.batches, ...r2.batches].map((x) => x.readings.length),
    [5, 0, 5],
  );
  assert.deepEqual(values(r1.batches), range(0, 5));
  assert.deepEqual(values(r2.batches), range(10, 5), "the batch after it is not handed out early or twice");
  assert.equal(r1.batches[1]!.firstSeq, r1.batches[0]!.lastSeq + 1);
  const [entry] = await b.listDeadLetters();
  assert.equal(entry!.readings, 5);
  assert.match(entry!.reason, /does not decode/);
  const s = await b.stats();
  assert.equal(s.leasedBatches, 2, "the emptied batch is gone from the buffer");
  assert.equal(s.readings, 10);
});

test("an exchange refuses a lease of fewer than one reading or batch", async (t) => {
  const b = await open(t, scratch(t));
  await assert.rejects(b.exchange({ lease: { maxReadings: 0 } }), RangeError);
  await assert.rejects(b.exchange({ lease: { maxReadings: 10, batches: 0 } }), RangeError);
});
