// Opening after trouble: an unclean stop resends its unconfirmed batches first; a corrupt file is
// moved aside (never deleted) with a log line and a count, and a fresh buffer starts; a file that is
// not ours, a buffer held by another process and a missing buffer are clear errors that touch nothing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import {
  BufferFormatError,
  BufferLockedError,
  BufferNotFoundError,
  BufferStorageError,
  openBuffer,
  type Batch,
} from "../../buffer/index.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { captureLog, drain, open, quiet, readings, scratch } from "./helpers.js";

const HANG = join(import.meta.dirname, "fixtures", "lease-and-hang.js");

test("after a SIGKILL, the batches leased but unconfirmed are handed out first, in order, identical", async (t) => {
  const dir = scratch(t);
  const bufferDir = join(dir, "buffer");
  const held = await new Promise<Batch[]>((resolve, reject) => {
    const child = killAtEnd(
      t,
      spawn(process.execPath, [HANG, bufferDir], { stdio: ["ignore", "pipe", "inherit"] }),
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
      if (out.endsWith("\n")) child.kill("SIGKILL");
    });
    child.on("error", reject);
    child.on("close", () => resolve(JSON.parse(out) as Batch[]));
  });
  const b = await open(t, dir);
  const s = await b.stats();
  assert.equal(s.leasedBatches, 2);
  assert.equal(s.readings, 25);
  const again1 = (await b.lease({ maxReadings: 100 }))!;
  const again2 = (await b.lease({ maxReadings: 100 }))!;
  const fresh = (await b.lease({ maxReadings: 100 }))!;
  assert.deepStrictEqual({ ...again1, attempts: 1 }, held[0]);
  assert.deepStrictEqual({ ...again2, attempts: 1 }, held[1]);
  assert.equal(again1.attempts, 2);
  assert.equal(fresh.attempts, 1);
  assert.equal(fresh.firstSeq, held[1]!.lastSeq + 1);
  assert.equal(fresh.readings.length, 10);
});

async function assertQuarantined(t: Parameters<typeof scratch>[0], dir: string, original: Buffer) {
  const { log, lines } = captureLog();
  const b = await open(t, dir, { log });
  const moved = readdirSync(dir).filter((n) => n.startsWith("buffer.corrupt-"));
  assert.equal(moved.length, 1, "the damaged buffer directory is moved aside");
  assert.deepStrictEqual(readFileSync(join(dir, moved[0]!, "buffer.db")), original, "and kept byte for byte");
  const line = lines.find((l) => l.event === "buffer_quarantined");
  assert.ok(line, "one clear log line says so");
  assert.equal(line.level, 50);
  assert.match(line.msg, /corrupt/);
  assert.match(line.msg, new RegExp(moved[0]!.replace(/[.]/g, "\\.")));
  const s = await b.stats();
  assert.equal(s.quarantinedThisRun, 1);
  assert.equal(s.quarantinedOnDisk, 1);
  assert.equal(s.readings, 0);
  await b.append(readings(0, 3));
  assert.deepStrictEqual(await drain(b), readings(0, 3), "the fresh buffer works");
}

test("a file that is not SQLite at all is quarantined and a fresh buffer starts", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "buffer"));
  const garbage = Buffer.alloc(20_000, "garbage! ");
  writeFileSync(join(dir, "buffer", "buffer.db"), garbage);
  await assertQuarantined(t, dir, garbage);
});

test("a buffer with damaged pages is found by the check at open, quarantined, and a fresh buffer starts", async (t) => {
  const dir = scratch(t);
  const seed = await openBuffer({ dir: join(dir, "buffer"), log: quiet });
  for (let i = 0; i < 20_000; i += 1000) await seed.append(readings(i, 1000));
  await seed.close();
  const file = join(dir, "buffer", "buffer.db");
  const bytes = readFileSync(file);
  for (let p = 3; p < 12; p++) bytes.fill(0xa5, p * 4096 + 100, p * 4096 + 4000);
  writeFileSync(file, bytes);
  await assertQuarantined(t, dir, bytes);
});

test("a buffer whose header's schema format was overwritten (SQLite: unsupported file format) is quarantined", async (t) => {
  // Found by the disk drill's corrupt rounds: before, the gateway retried opening it for ever.
  const dir = scratch(t);
  const seed = await openBuffer({ dir: join(dir, "buffer"), log: quiet });
  await seed.append(readings(0, 100));
  await seed.close();
  const file = join(dir, "buffer", "buffer.db");
  const bytes = readFileSync(file);
  bytes.writeUInt32BE(0x5a5a5a5a, 44);
  writeFileSync(file, bytes);
  await assertQuarantined(t, dir, bytes);
});

test("a file left without tables by a kill during creation opens as a fresh buffer that can reclaim space", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "buffer"));
  const file = join(dir, "buffer", "buffer.db");
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.close();
  const b = await open(t, dir);
  await b.append(readings(0, 2));
  assert.deepStrictEqual(await drain(b), readings(0, 2));
  await b.close();
  const check = new Database(file);
  assert.equal(check.pragma("auto_vacuum", { simple: true }), 2);
  check.close();
  assert.equal(readdirSync(dir).length, 1, "nothing was quarantined");
});

test("a SQLite database of another application is refused and left untouched", async (t) => {
  const dir = scratch(t);
  mkdirSync(join(dir, "buffer"));
  const file = join(dir, "buffer", "buffer.db");
  const db = new Database(file);
  db.exec(
    "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5);",
  );
  db.close();
  const before = readFileSync(file);
  await assert.rejects(openBuffer({ dir: join(dir, "buffer"), log: quiet }), BufferFormatError);
  assert.deepStrictEqual(readFileSync(file), before);
  assert.deepStrictEqual(readdirSync(dir), ["buffer"]);
});

test("a buffer from a newer gateway version is refused, not quarantined", async (t) => {
  const dir = scratch(t);
  const b = await open(t, dir);
  await b.close();
  const db = new Database(join(dir, "buffer", "buffer.db"));
  db.pragma("user_version = 99");
  db.close();
  await assert.rejects(openBuffer({ dir: join(dir, "buffer"), log: quiet }), /newer than this gateway/);
  assert.deepStrictEqual(readdirSync(dir), ["buffer"]);
});

test("a second opener of a buffer in use gets BUFFER_LOCKED and changes nothing", async (t) => {
  const dir = scratch(t);
  const b = await open(t, dir);
  await b.append(readings(0, 5));
  await assert.rejects(openBuffer({ dir: join(dir, "buffer"), log: quiet }), (e: unknown) => {
    assert.ok(e instanceof BufferLockedError);
    assert.equal(e.code, "BUFFER_LOCKED");
    return true;
  });
  assert.deepStrictEqual(readdirSync(dir), ["buffer"], "a locked buffer is never mistaken for a corrupt one");
  await b.append(readings(5, 5));
  assert.deepStrictEqual(await drain(b), readings(0, 10));
});

test("create: false on a directory without a buffer fails with BUFFER_NOT_FOUND and creates nothing", async (t) => {
  const dir = scratch(t);
  await assert.rejects(
    openBuffer({ dir: join(dir, "buffer"), create: false, log: quiet }),
    BufferNotFoundError,
  );
  assert.equal(existsSync(join(dir, "buffer")), false);
});

test("damage found while running moves the buffer aside and the gateway carries on with a fresh one", async (t) => {
  const dir = scratch(t);
  let b = await open(t, dir, { sync: "normal" });
  // More than the page cache holds, so reading the oldest readings later goes to the file.
  for (let i = 0; i < 800_000; i += 10_000) await b.append(readings(i, 10_000));
  await b.close();
  const { log, lines } = captureLog();
  b = await open(t, dir, { log });
  const file = join(dir, "buffer", "buffer.db");
  const bytes = readFileSync(file);
  for (let p = 8; p < 40; p++) bytes.fill(0x5a, p * 4096 + 8, p * 4096 + 4096);
  writeFileSync(file, bytes);
  await assert.rejects(b.lease({ maxReadings: 1000 }), (e: unknown) => {
    assert.ok(e instanceof BufferStorageError);
    assert.match(e.message, /corrupt/);
    return true;
  });
  assert.ok(lines.some((l) => l.event === "buffer_quarantined"));
  const s = await b.stats();
  assert.equal(s.quarantinedThisRun, 1);
  assert.equal(s.readings, 0);
  const r = await b.append(readings(0, 3));
  assert.ok(r.firstSeq > 800_000, "sequence numbers keep growing in the fresh file");
  assert.deepStrictEqual(await drain(b), readings(0, 3));
  assert.equal(readdirSync(dir).filter((n) => n.startsWith("buffer.corrupt-")).length, 1);
});
