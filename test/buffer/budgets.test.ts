// max_bytes and max_rows with both policies: reject_new refuses whole calls with BUFFER_FULL and
// keeps everything accepted; drop_oldest deletes the oldest unleased readings, counts them, and logs
// once per burst. Space freed by a drain goes back to the file system.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BufferFullError } from "../../buffer/index.js";
import { captureLog, drain, open, readings, scratch } from "./helpers.js";

function isFull(reason: string) {
  return (e: unknown) => {
    assert.ok(e instanceof BufferFullError, String(e));
    assert.equal(e.code, "BUFFER_FULL");
    assert.equal(e.reason, reason);
    return true;
  };
}

test("reject_new at max_rows: the call that does not fit is refused whole; space after a release is usable", async (t) => {
  const b = await open(t, scratch(t), { maxRows: 100, onFull: "reject_new" });
  for (let i = 0; i < 10; i++) await b.append(readings(i * 10, 10));
  await assert.rejects(b.append(readings(100, 1)), isFull("max_rows"));
  await assert.rejects(b.append(readings(100, 5)), isFull("max_rows"));
  const s = await b.stats();
  assert.equal(s.readings, 100);
  assert.equal(s.rejected.buffer_full, 6);
  const batch = (await b.lease({ maxReadings: 30 }))!;
  await b.release(batch.id);
  await b.append(readings(100, 30));
  await assert.rejects(b.append(readings(130, 1)), isFull("max_rows"));
  assert.deepStrictEqual(await drain(b), readings(30, 100));
});

test("reject_new at max_bytes: the database stays within the budget and every accepted reading is kept", async (t) => {
  const dir = scratch(t);
  const maxBytes = 256 * 1024;
  const b = await open(t, dir, { maxBytes, onFull: "reject_new" });
  const accepted = [];
  let refused = 0;
  for (let i = 0; i < 2000 && refused < 3; i++) {
    const call = readings(i * 50, 50);
    try {
      await b.append(call);
      accepted.push(...call);
    } catch (e) {
      isFull("max_bytes")(e);
      refused++;
    }
  }
  assert.equal(refused, 3);
  const s = await b.stats();
  assert.ok(s.bytes <= maxBytes + 8192, `${s.bytes} bytes in use, budget ${maxBytes}`);
  assert.ok(accepted.length > 1000);
  assert.deepStrictEqual(await drain(b), accepted);
});

test("drop_oldest at max_rows: the oldest readings go, counted by reason, logged once for the burst", async (t) => {
  const { log, lines } = captureLog();
  const b = await open(t, scratch(t), { maxRows: 100, onFull: "drop_oldest", log });
  for (let i = 0; i < 15; i++) await b.append(readings(i * 10, 10));
  const s = await b.stats();
  assert.equal(s.readings, 100);
  assert.deepStrictEqual(s.dropped, { max_rows: 50 });
  assert.deepStrictEqual(s.rejected, {});
  assert.deepStrictEqual(await drain(b), readings(50, 100));
  const warnings = lines.filter((l) => l.msg.includes("dropping the oldest"));
  assert.equal(warnings.length, 1, "one line for the burst, not one per commit");
  await b.close();
  assert.equal(
    lines.filter((l) => l.msg.includes("stopped dropping")).length,
    1,
    "the burst's summary at close",
  );
});

test("drop_oldest never drops leased readings", async (t) => {
  const b = await open(t, scratch(t), { maxRows: 100, onFull: "drop_oldest" });
  await b.append(readings(0, 100));
  const leased = (await b.lease({ maxReadings: 30 }))!;
  await b.append(readings(100, 20));
  assert.deepStrictEqual((await b.stats()).dropped, { max_rows: 20 });
  assert.equal(await b.release(leased.id), true);
  assert.deepStrictEqual(leased.readings, readings(0, 30));
  assert.deepStrictEqual(await drain(b), readings(50, 70));
});

test("drop_oldest refuses a call larger than the whole budget instead of dropping everything", async (t) => {
  const b = await open(t, scratch(t), { maxRows: 10, onFull: "drop_oldest" });
  await b.append(readings(0, 5));
  await assert.rejects(b.append(readings(5, 11)), isFull("max_rows"));
  assert.deepStrictEqual((await b.stats()).dropped, {});
  assert.deepStrictEqual(await drain(b), readings(0, 5));
});

test("drop_oldest at max_bytes keeps the database near the budget and the newest readings in order", async (t) => {
  const maxBytes = 256 * 1024;
  const b = await open(t, scratch(t), { maxBytes, onFull: "drop_oldest" });
  const n = 40_000;
  for (let i = 0; i < n; i += 500) await b.append(readings(i, 500));
  const s = await b.stats();
  assert.ok(s.bytes <= maxBytes + 8192, `${s.bytes} bytes in use, budget ${maxBytes}`);
  assert.ok((s.dropped.max_bytes ?? 0) > 0);
  assert.equal(s.readings + s.dropped.max_bytes!, n, "every reading is either kept or counted as dropped");
  const kept = await drain(b);
  assert.deepStrictEqual(
    kept,
    readings(n - kept.length, kept.length),
    "what is kept is the newest, in order",
  );
});

test("the file shrinks again after a large backlog is drained", async (t) => {
  const dir = scratch(t);
  const b = await open(t, dir, { sync: "normal" });
  for (let i = 0; i < 300_000; i += 5000) await b.append(readings(i, 5000, `dev-${i % 7}`));
  const file = join(dir, "buffer", "buffer.db");
  const before = (await b.stats()).fileBytes;
  assert.ok(before > 5_000_000, `backlog file ${before}`);
  await drain(b, 5000);
  await b.close();
  const after = statSync(file).size;
  assert.ok(after < 1_000_000, `file after drain and close: ${after} bytes (was ${before})`);
});
