// A format 2 buffer (chunks) rewritten into format 1 (a row per reading) for a rollback to a
// version before chunks: format 1's tables with every reading under its sequence number, the
// recorded batch, the dead letter, series, marks and meta kept; then opened by this version again
// (migrated up) with every reading exactly once, in order.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { downgradeBuffer } from "../../buffer/store-downgrade.js";
import type { Reading } from "../../protocols/adapter.js";
import { open, readings, scratch, storedRows } from "./helpers.js";

/** Format 1's table of readings as format 1 releases created it. */
const FORMAT_1_READINGS = "CREATE TABLE readings (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)";
const KEPT = ["meta", "series", "batches", "dead_letters", "dead_letter_readings", "marks"];

function tableRows(db: Database.Database, table: string): unknown[][] {
  return db.prepare(`SELECT * FROM ${table} ORDER BY 1`).raw().all() as unknown[][];
}

test("downgrade to format 1: a row per reading, batches, dead letters, series and marks kept; up again, every reading once", async (t) => {
  const dir = scratch(t);
  const bufferDir = join(dir, "buffer");
  const file = join(bufferDir, "buffer.db");
  let b = await open(t, dir);
  for (let i = 0; i < 600; i += 60) await b.append(readings(i, 60), { marks: { set: [`file-a:${i}`] } });
  await b.append(readings(600, 20, "pump-7"));
  const held = (await b.lease({ maxReadings: 250 }))!;
  const bad = (await b.lease({ maxReadings: 50 }))!;
  const entry = (await b.deadLetter(bad.id, "Iggy: invalid message (code 4)"))!;
  const released = (await b.lease({ maxReadings: 100 }))!;
  assert.ok(await b.release(released.id));
  await b.close();

  let db = new Database(file, { readonly: true });
  const rows = storedRows(db);
  assert.equal(rows.length, 620 - 150);
  const kept = Object.fromEntries(KEPT.map((name) => [name, tableRows(db, name)]));
  assert.equal(kept.batches!.length, 1, "the held batch is recorded");
  assert.equal(kept.dead_letter_readings!.length, 50);
  db.close();

  const r = downgradeBuffer(bufferDir, 1);
  assert.deepEqual(r, { file, from: 2, to: 1, readings: rows.length });

  db = new Database(file, { readonly: true });
  assert.equal(db.pragma("user_version", { simple: true }), 1);
  const tables = db
    .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' ORDER BY name")
    .raw()
    .all();
  assert.deepEqual(
    (tables as [string, string][]).filter(([n]) => !n.startsWith("sqlite_")).map(([n]) => n),
    [...KEPT, "readings"].sort(),
    "format 1's tables, no chunks",
  );
  assert.equal(
    db.prepare("SELECT sql FROM sqlite_schema WHERE name = 'readings'").pluck().get(),
    FORMAT_1_READINGS,
  );
  const asRows = db.prepare("SELECT seq, body FROM readings ORDER BY seq").raw().all() as [number, Buffer][];
  assert.deepEqual(
    asRows.map(([seq, body]) => [seq, Buffer.from(body)]),
    rows.map(([seq, body]) => [seq, Buffer.from(body)]),
    "every reading a row, under its own sequence number",
  );
  for (const name of KEPT) assert.deepEqual(tableRows(db, name), kept[name], `${name} unchanged`);
  db.close();

  const bytes = readFileSync(file);
  assert.deepEqual(downgradeBuffer(bufferDir, 1), { file, from: 1, to: 1, readings: 0 }, "nothing to do");
  assert.deepEqual(readFileSync(file), bytes, "a format 1 file is left alone");

  // This version opens it again: migrated up, nothing lost, nothing twice.
  b = await open(t, dir);
  const first = (await b.lease({ maxReadings: 1000 }))!;
  assert.deepEqual([first.firstSeq, first.lastSeq, first.attempts], [held.firstSeq, held.lastSeq, 2]);
  const sent: Reading[] = [...first.readings];
  assert.ok(await b.release(first.id));
  for (;;) {
    const next = await b.lease({ maxReadings: 64 });
    if (next === null) break;
    sent.push(...next.readings);
    assert.ok(await b.release(next.id));
  }
  assert.deepStrictEqual(sent, [...readings(0, 250), ...readings(400, 200), ...readings(600, 20, "pump-7")]);
  const [e] = await b.listDeadLetters();
  assert.deepEqual([e!.id, e!.firstSeq, e!.lastSeq, e!.readings], [entry, bad.firstSeq, bad.lastSeq, 50]);
  assert.deepStrictEqual(
    (await b.readDeadLetter(entry)).map((s) => s.reading),
    readings(250, 50),
  );
  assert.deepEqual(
    await b.readMarks("file-a:"),
    Array.from({ length: 10 }, (_, k) => `file-a:${k * 60}`).sort(),
  );
  await b.close();
});

test("downgrade refuses a buffer a gateway holds and leaves it as it was; a format it does not know is an error", async (t) => {
  const dir = scratch(t);
  const bufferDir = join(dir, "buffer");
  const b = await open(t, dir);
  await b.append(readings(0, 10));
  assert.throws(() => downgradeBuffer(bufferDir, 1), { code: "BUFFER_LOCKED" });
  assert.deepStrictEqual(
    (await b.lease({ maxReadings: 100 }))!.readings,
    readings(0, 10),
    "still format 2, all there",
  );
  await b.close();
  assert.throws(
    () => downgradeBuffer(bufferDir, 0),
    /no buffer format 0 to go to: this version knows formats 1 to 2/,
  );
  assert.throws(() => downgradeBuffer(bufferDir, 3), /no buffer format 3 to go to/);
  assert.deepEqual(downgradeBuffer(join(dir, "elsewhere"), 1), {
    file: join(dir, "elsewhere", "buffer.db"),
    from: 0,
    to: 0,
    readings: 0,
  });
});
