// A buffer written by format 1 (a row per reading) opens in format 2 (chunks): its readings, their
// sequence numbers and its recorded batches are kept, migrated in the transaction that opens it.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { FORMAT_VERSION } from "../../buffer/store-schema.js";
import { drain, open, readings, scratch, storedRows } from "./helpers.js";

/** Rewrites a closed buffer's file as format 1 left it: one row per reading in `readings`. */
function toFormat1(file: string): void {
  const db = new Database(file);
  try {
    db.transaction(() => {
      const rows = storedRows(db);
      db.exec("CREATE TABLE readings (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)");
      const insert = db.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
      for (const [seq, body] of rows) insert.run(seq, body);
      db.exec("DROP TABLE chunks");
      db.pragma("user_version = 1");
    })();
  } finally {
    db.close();
  }
}

test("a format 1 buffer is migrated on open: readings, sequence numbers and recorded batches kept", async (t) => {
  const dir = scratch(t);
  const file = join(dir, "buffer", "buffer.db");
  let b = await open(t, dir);
  for (let i = 0; i < 600; i += 60) await b.append(readings(i, 60));
  const held = (await b.lease({ maxReadings: 250 }))!;
  const released = (await b.lease({ maxReadings: 100 }))!;
  assert.ok(await b.release(released.id));
  await b.close();
  toFormat1(file);
  const before = new Database(file, { readonly: true });
  assert.equal(before.pragma("user_version", { simple: true }), 1);
  assert.equal(before.prepare("SELECT count(*) FROM readings").pluck().get(), 500);
  before.close();

  b = await open(t, dir);
  assert.equal((await b.stats()).readings, 500);
  const again = await b.exchange({ lease: { maxReadings: 1000 } });
  assert.equal(again.batches.length, 1);
  const resent = again.batches[0]!;
  assert.deepEqual(
    [resent.firstSeq, resent.lastSeq, resent.attempts],
    [held.firstSeq, held.lastSeq, 2],
    "the recorded batch comes back first, with its boundaries",
  );
  assert.deepStrictEqual(resent.readings, readings(0, 250));
  assert.ok(await b.release(resent.id));
  const next = (await b.lease({ maxReadings: 1000 }))!;
  assert.equal(next.firstSeq, released.lastSeq + 1);
  assert.deepStrictEqual(next.readings, readings(350, 250));
  assert.ok(await b.release(next.id));
  const r = await b.append(readings(600, 3));
  assert.ok(r.firstSeq > next.lastSeq);
  assert.deepStrictEqual(await drain(b), readings(600, 3));
  await b.close();

  const after = new Database(file, { readonly: true });
  t.after(() => after.close());
  assert.equal(after.pragma("user_version", { simple: true }), FORMAT_VERSION);
  assert.equal(
    after.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'readings'").pluck().get(),
    0,
    "the old table is gone",
  );
});
