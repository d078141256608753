import assert from "node:assert/strict";
import { test } from "node:test";
import { codecs, BatchFormatError, type CodecName } from "../../gateway/codecs/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { edgeReadings, realisticReadings } from "./fixtures/readings.js";

const names = Object.keys(codecs) as CodecName[];

function same(actual: Reading[], expected: Reading[], codec: CodecName) {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => {
    const a = actual[i]!;
    const where = `${codec} reading ${i} (${e.point})`;
    assert.equal(a.device, e.device, where);
    assert.equal(a.point, e.point, where);
    assert.equal(a.ts, e.ts, where);
    assert.equal(a.quality, e.quality, where);
    assert.equal(a.unit, e.unit, where);
    assert.deepEqual(a.tags, e.tags, where);
    if (e.value instanceof Uint8Array) {
      assert.ok(a.value instanceof Uint8Array, where);
      assert.deepEqual([...a.value], [...e.value], where);
    } else {
      // Object.is tells NaN from NaN-less values, and bigint from number.
      assert.ok(
        Object.is(a.value, e.value) || (typeof e.value === "bigint" && a.value === e.value),
        `${where}: ${String(a.value)} vs ${String(e.value)}`,
      );
    }
  });
}

for (const name of names) {
  test(`${name}: every value kind and edge value round-trips in sequence order`, () => {
    const readings = edgeReadings();
    const codec = codecs[name];
    const decoded = codec.decode(
      codec.encode({ gateway: "line-3", firstSeq: 9_007_199_254_740_000, readings }),
    );
    assert.equal(decoded.gateway, "line-3");
    assert.equal(decoded.firstSeq, 9_007_199_254_740_000);
    assert.equal(decoded.schema, 1);
    same(decoded.readings, readings, name);
  });

  test(`${name}: encoding is deterministic (a resend carries the same bytes)`, () => {
    const input = { gateway: "gw", firstSeq: 42, readings: realisticReadings(500) };
    const a = codecs[name].encode(input);
    const b = codecs[name].encode({ ...input, readings: structuredClone(input.readings) });
    assert.deepEqual(
      a.map((p) => Buffer.from(p).toString("hex")),
      b.map((p) => Buffer.from(p).toString("hex")),
    );
  });

  test(`${name}: garbage and truncated payloads are a BatchFormatError, never a crash`, () => {
    const good = codecs[name].encode({ gateway: "gw", firstSeq: 1, readings: realisticReadings(50) });
    const bad: Uint8Array[][] = [
      [new Uint8Array([])],
      [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9])],
      [Buffer.from("definitely not a batch, nor JSON")],
      [good[0]!.subarray(0, Math.floor(good[0]!.length / 2))],
    ];
    for (const payloads of bad) {
      assert.throws(
        () => codecs[name].decode(payloads),
        BatchFormatError,
        `${name}: ${Buffer.from(payloads[0]!).toString("hex").slice(0, 40)}`,
      );
    }
  });
}

test("binary batches are compact: at most 40% of the JSON lines of the same realistic batch", () => {
  const input = { gateway: "line-3", firstSeq: 1000, readings: realisticReadings(1000) };
  const json = codecs.json.encode(input).reduce((n, p) => n + p.length + 1, 0);
  for (const name of ["flatbuffers", "msgpack"] as const) {
    const size = codecs[name].encode(input)[0]!.length;
    assert.ok(size <= 0.4 * json, `${name}: ${size} bytes vs JSON ${json}`);
  }
});

test("json: one payload per reading, flat objects a connector can store", () => {
  const readings = realisticReadings(3);
  const payloads = codecs.json.encode({ gateway: "gw", firstSeq: 7, readings });
  assert.equal(payloads.length, 3);
  const o = JSON.parse(Buffer.from(payloads[1]!).toString()) as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), [
    "gateway",
    "seq",
    "device",
    "point",
    "ts",
    "type",
    "value",
    "quality",
    "unit",
  ]);
  assert.equal(o.seq, 8);
  assert.equal(o.type, "number");
  const big = Buffer.from(
    codecs.json.encode({
      gateway: "gw",
      firstSeq: 1,
      readings: [{ ...readings[0]!, value: 2n ** 63n - 1n }],
    })[0]!,
  ).toString();
  assert.match(big, /"type":"integer","value":9223372036854775807,/);
});

test("flatbuffers decodes from an unaligned view (as a slice of a network buffer)", () => {
  const payload = codecs.flatbuffers.encode({
    gateway: "gw",
    firstSeq: 1,
    readings: realisticReadings(10),
  })[0]!;
  const host = new Uint8Array(payload.length + 3);
  host.set(payload, 3);
  const decoded = codecs.flatbuffers.decode([host.subarray(3)]);
  assert.equal(decoded.readings.length, 10);
});

test("series base timestamps across the int64 range a Number holds: before 1970, 0, past 2^32 and 2^53", () => {
  // The FlatBuffers encoder writes a series' base timestamp as two 32-bit halves.
  const stamps = [-11_644_473_600_000, -(2 ** 32) - 1, -1, 0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
  const readings: Reading[] = stamps.map((ts, i) => ({
    device: "d",
    point: `p${i}`,
    ts,
    value: i,
    quality: "good",
  }));
  for (const name of names) {
    const payloads = codecs[name].encode({ gateway: "gw", firstSeq: 1, readings });
    assert.deepEqual(
      codecs[name].decode(payloads).readings.map((r) => r.ts),
      stamps,
      name,
    );
  }
});
