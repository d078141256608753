// Readings that can never be sent: a batch Iggy refuses goes to the dead letters with its reason,
// where it can be listed, read, replayed (as new readings, in order) or purged. A stored reading
// that no longer decodes is dead-lettered on its own and the rest of its batch goes on.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { BufferNotFoundError } from "../../buffer/index.js";
import { corruptStored, drain, open, readings, scratch } from "./helpers.js";

test("a dead-lettered batch is listed with its reason and readings, and no longer leased", async (t) => {
  const b = await open(t, scratch(t));
  await b.append(readings(0, 30));
  const bad = (await b.lease({ maxReadings: 10 }))!;
  const entry = await b.deadLetter(bad.id, "Iggy: invalid message (code 4)");
  assert.equal(typeof entry, "number");
  assert.equal(await b.deadLetter(bad.id, "again"), null, "the batch is gone from the queue");
  const [e, ...none] = await b.listDeadLetters();
  assert.deepStrictEqual(none, []);
  assert.equal(e!.id, entry);
  assert.equal(e!.reason, "Iggy: invalid message (code 4)");
  assert.equal(e!.readings, 10);
  assert.equal(e!.firstSeq, bad.firstSeq);
  assert.equal(e!.lastSeq, bad.lastSeq);
  assert.equal(e!.attempts, 1);
  const stored = await b.readDeadLetter(entry!);
  assert.deepStrictEqual(
    stored.map((s) => s.reading),
    bad.readings,
  );
  assert.deepStrictEqual(
    stored.map((s) => s.seq),
    bad.readings.map((_, i) => bad.firstSeq + i),
  );
  assert.deepStrictEqual(
    (await b.readDeadLetter(entry!, { offset: 8, limit: 5 })).map((s) => s.reading),
    bad.readings.slice(8),
  );
  const s = await b.stats();
  assert.equal(s.readings, 20);
  assert.equal(s.deadLetterEntries, 1);
  assert.equal(s.deadLetterReadings, 10);
  assert.deepStrictEqual(await drain(b), readings(10, 20));
});

test("replay appends the readings again as new readings in their old order; purge deletes for good", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  await b.append(readings(0, 12));
  const one = (await b.lease({ maxReadings: 4 }))!;
  const two = (await b.lease({ maxReadings: 4 }))!;
  const three = (await b.lease({ maxReadings: 4 }))!;
  const e1 = (await b.deadLetter(one.id, "bad"))!;
  const e2 = (await b.deadLetter(two.id, "bad"))!;
  const e3 = (await b.deadLetter(three.id, "bad"))!;
  await b.append(readings(100, 2));
  await b.close();
  // Dead letters survive a restart.
  b = await open(t, dir);
  const replay = await b.replayDeadLetters([e3, e1]);
  assert.equal(replay.entries, 2);
  assert.equal(replay.readings, 8);
  assert.ok(replay.firstSeq! > three.lastSeq, "replayed readings get new sequence numbers at the tail");
  assert.deepStrictEqual(await drain(b), [...readings(100, 2), ...readings(0, 4), ...readings(8, 4)]);
  assert.deepStrictEqual(
    (await b.listDeadLetters()).map((e) => e.id),
    [e2],
  );
  await assert.rejects(b.replayDeadLetters([e1]), BufferNotFoundError);
  assert.deepStrictEqual(await b.purgeDeadLetters("all"), { entries: 1, readings: 4 });
  assert.deepStrictEqual(await b.listDeadLetters(), []);
  assert.equal((await b.stats()).deadLetterReadings, 0);
  assert.deepStrictEqual(await b.replayDeadLetters("all"), {
    entries: 0,
    readings: 0,
    firstSeq: null,
    lastSeq: null,
  });
});

test("a stored reading that does not decode is dead-lettered alone; its batch goes on, identical after a restart", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir);
  await b.append(readings(0, 10));
  await b.close();
  corruptStored(join(dir, "buffer", "buffer.db"), 3, 4);
  b = await open(t, dir);
  const batch = (await b.lease({ maxReadings: 100 }))!;
  const expected = readings(0, 10).filter((_, i) => i !== 3);
  assert.deepStrictEqual(batch.readings, expected);
  const [e] = await b.listDeadLetters();
  assert.equal(e!.readings, 1);
  assert.match(e!.reason, /does not decode/);
  assert.equal(e!.firstSeq, batch.firstSeq + 3);
  const [undecodable] = await b.readDeadLetter(e!.id);
  assert.equal(undecodable!.reading, null);
  assert.match(undecodable!.error!, /kind|truncated|series/);
  await b.close();
  b = await open(t, dir);
  const again = (await b.lease({ maxReadings: 100 }))!;
  assert.deepStrictEqual(again, { ...batch, attempts: 2 }, "the resend after a restart is the same batch");
});
