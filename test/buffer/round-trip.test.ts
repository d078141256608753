// Whatever a reading holds comes back from the buffer identical; what cannot be stored faithfully is
// refused with the offending reading's index, and nothing of that call is stored.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BufferClosedError, InvalidReadingError } from "../../buffer/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { drain, open, reading, scratch } from "./helpers.js";

const values: Reading["value"][] = [
  0,
  -0,
  1,
  -1,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 31,
  -(2 ** 31) - 1,
  0.1,
  21.5,
  -273.15,
  1e300,
  -1e-300,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  2 ** 60,
  NaN,
  Infinity,
  -Infinity,
  0n,
  -1n,
  2n ** 63n - 1n,
  -(2n ** 63n),
  2n ** 63n,
  2n ** 64n - 1n,
  true,
  false,
  "",
  "héllo wörld ✓ 🎉 \u0000 nul inside",
  "x".repeat(100_000),
  new Uint8Array(0),
  new Uint8Array([0, 1, 127, 128, 255]),
  new Uint8Array(70_000).fill(7),
  null,
];

const timestamps = [
  0,
  1_700_000_000_123,
  1_700_000_000_123.456,
  -5,
  2 ** 48,
  -0,
  Number.MAX_SAFE_INTEGER,
  NaN,
];

function sample(): Reading[] {
  const out: Reading[] = [];
  values.forEach((value, i) => {
    out.push({
      device: i % 3 === 0 ? "boiler-1" : `dévice-${i % 4}`,
      point: i % 2 === 0 ? "temperature" : "状態",
      ts: timestamps[i % timestamps.length]!,
      value,
      quality: (["good", "uncertain", "bad"] as const)[i % 3]!,
      ...(i % 5 === 1 ? { unit: "degC" } : i % 5 === 2 ? { unit: "" } : {}),
      ...(i % 4 === 1 ? { tags: { line: "3", cell: "b" } } : i % 4 === 2 ? { tags: {} } : {}),
    });
  });
  return out;
}

for (const seriesLimit of [65536, 0]) {
  test(`every value, timestamp, quality, unit and tag set round-trips exactly (names ${seriesLimit ? "in the dictionary" : "inline"})`, async (t) => {
    const dir = scratch(t);
    const input = sample();
    let b = await open(t, dir, { seriesLimit });
    const r = await b.append(input);
    assert.equal(r.count, input.length);
    assert.equal(r.lastSeq - r.firstSeq + 1, input.length);
    const first = await b.lease({ maxReadings: 10_000 });
    assert.ok(first);
    assert.deepStrictEqual(first.readings, input);
    await b.close();
    // And the same from the file, after a reopen (the lease is handed out again, identical).
    b = await open(t, dir, { seriesLimit });
    const again = await b.lease({ maxReadings: 10_000 });
    assert.ok(again);
    assert.equal(again.id, first.id);
    assert.deepStrictEqual(again.readings, input);
  });
}

test("tags come back with the same content however their keys were ordered", async (t) => {
  const b = await open(t, scratch(t));
  await b.append([
    { ...reading(1), tags: { b: "2", a: "1" } },
    { ...reading(2), tags: { a: "1", b: "2" } },
  ]);
  const out = await drain(b);
  assert.deepStrictEqual(out[0]!.tags, { a: "1", b: "2" });
  assert.deepStrictEqual(out[1]!.tags, { a: "1", b: "2" });
});

test("a byte value is copied at append: changing the caller's array afterwards changes nothing stored", async (t) => {
  const b = await open(t, scratch(t));
  const bytes = new Uint8Array([1, 2, 3]);
  const p = b.append([{ ...reading(1), value: bytes }]);
  bytes[0] = 99;
  await p;
  const [r] = await drain(b);
  assert.deepStrictEqual(r!.value, new Uint8Array([1, 2, 3]));
});

const invalid: [string, (r: Reading) => unknown][] = [
  ["a lone surrogate in a string value", (r) => ({ ...r, value: "ab\ud800" })],
  ["a lone surrogate in the device name", (r) => ({ ...r, device: "dev\udc00" })],
  ["a bigint above 2^64-1", (r) => ({ ...r, value: 2n ** 64n })],
  ["a bigint below -2^63", (r) => ({ ...r, value: -(2n ** 63n) - 1n })],
  ["an unknown quality", (r) => ({ ...r, quality: "excellent" })],
  ["an undefined value", (r) => ({ ...r, value: undefined })],
  ["an object value", (r) => ({ ...r, value: { a: 1 } })],
  ["an array value", (r) => ({ ...r, value: [1, 2] })],
  ["a string timestamp", (r) => ({ ...r, ts: "2024-01-01" })],
  ["a tag that is not a string", (r) => ({ ...r, tags: { a: 1 } })],
  ["tags as an array", (r) => ({ ...r, tags: ["a"] })],
  ["a device that is a number", (r) => ({ ...r, device: 5 })],
  ["a unit that is a number", (r) => ({ ...r, unit: 3 })],
  ["not an object", () => null],
];

for (const [what, spoil] of invalid) {
  test(`refuses ${what} and stores nothing of that call`, async (t) => {
    const b = await open(t, scratch(t));
    const call = [reading(1), reading(2), spoil(reading(3)) as Reading, reading(4)];
    await assert.rejects(b.append(call), (e: unknown) => {
      assert.ok(e instanceof InvalidReadingError);
      assert.equal(e.code, "BUFFER_INVALID_READING");
      assert.equal(e.index, 2);
      return true;
    });
    await b.append([reading(5)]);
    assert.deepStrictEqual(await drain(b), [reading(5)]);
    assert.equal((await b.stats()).rejected.invalid, 4);
  });
}

test("refuses a reading larger than maxReadingBytes", async (t) => {
  const b = await open(t, scratch(t), { maxReadingBytes: 1000 });
  await assert.rejects(b.append([{ ...reading(1), value: "x".repeat(2000) }]), InvalidReadingError);
  await b.append([{ ...reading(1), value: "x".repeat(500) }]);
  assert.equal((await drain(b)).length, 1);
});

test("an empty append resolves with nothing stored; appends after close fail with BUFFER_CLOSED", async (t) => {
  const b = await open(t, scratch(t));
  assert.deepStrictEqual(await b.append([]), { firstSeq: 0, lastSeq: -1, count: 0 });
  await b.close();
  await assert.rejects(b.append([reading(1)]), BufferClosedError);
  await assert.rejects(b.lease({ maxReadings: 1 }), BufferClosedError);
});
