// Marks: small keys a source commits in the transaction of its readings (MQTT client mode keeps
// its QoS2 packet ids there). Set with the readings, not when the call is refused, alone in a call
// without readings, cleared by key or prefix, kept across a reopen; a file made before marks
// existed opens and gets the table.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { BufferFullError } from "../../buffer/index.js";
import { drain, open, readings, scratch } from "./helpers.js";

const TIMEOUT = { timeout: 60_000 };

test(
  "marks commit with the call's readings, not with a refused call, and alone without readings",
  TIMEOUT,
  async (t) => {
    const dir = scratch(t);
    const b = await open(t, dir, { maxRows: 10, onFull: "reject_new" });
    await b.append(readings(0, 5), { marks: { set: ["s1:1", "s1:2"] } });
    assert.deepEqual(await b.readMarks("s1:"), ["s1:1", "s1:2"]);
    await assert.rejects(
      b.append(readings(5, 6), { marks: { set: ["s1:3"], clear: ["s1:1"] } }),
      BufferFullError,
    );
    assert.deepEqual(await b.readMarks("s1:"), ["s1:1", "s1:2"], "a refused call changes no mark");
    // Full, yet a call with marks and no readings commits them.
    await b.append(readings(5, 5));
    const r = await b.append([], { marks: { clear: ["s1:1"], set: ["s2:7", "s1:9"] } });
    assert.equal(r.count, 0);
    assert.deepEqual(await b.readMarks("s1:"), ["s1:2", "s1:9"]);
    assert.deepEqual(await b.readMarks("s2:"), ["s2:7"]);
    assert.deepEqual(await b.readMarks(""), ["s1:2", "s1:9", "s2:7"]);
    assert.equal((await drain(b)).length, 10, "marks are not readings");
  },
);

test(
  "clearPrefix removes one prefix's marks before the call's own are set; marks survive a reopen",
  TIMEOUT,
  async (t) => {
    const dir = scratch(t);
    const b = await open(t, dir);
    await b.append(readings(0, 1), { marks: { set: ["a\u0000x:1", "a\u0000x:2", "a\u0000y:1", "b:1"] } });
    await b.append(readings(1, 1), { marks: { clearPrefix: "a\u0000x:", set: ["a\u0000x:5"] } });
    await b.close();
    const again = await open(t, dir);
    assert.deepEqual(await again.readMarks("a\u0000"), ["a\u0000x:5", "a\u0000y:1"]);
    assert.deepEqual(await again.readMarks("b:"), ["b:1"]);
    assert.equal((await drain(again)).length, 2);
  },
);

test(
  "a buffer file made before marks existed opens, gets the table, and keeps its readings",
  TIMEOUT,
  async (t) => {
    const dir = scratch(t);
    const b = await open(t, dir);
    await b.append(readings(0, 3));
    await b.close();
    const db = new Database(join(dir, "buffer", "buffer.db"));
    db.exec("DROP TABLE marks");
    db.close();
    const again = await open(t, dir);
    assert.deepEqual(await again.readMarks(""), []);
    await again.append([], { marks: { set: ["k"] } });
    assert.deepEqual(await again.readMarks(""), ["k"]);
    assert.deepEqual(await drain(again), readings(0, 3));
  },
);
