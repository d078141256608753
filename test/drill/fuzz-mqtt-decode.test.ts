// Hostile input at the MQTT payload decoders (protocols/mqtt/decode.ts): arbitrary bytes, JSON and
// MessagePack documents of arbitrary shape, and valid payloads mutated byte by byte, through every
// decoder. Each either gives a value a reading can hold (and a timestamp every codec can carry) or
// refuses with a DecodeError whose reason is a counter label; nothing else is thrown. Fixed seeds,
// bounded runs (fast-check).
import assert from "node:assert/strict";
import { test } from "node:test";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import fc from "fast-check";
import { codecs } from "../../gateway/codecs/index.js";
import { compileDecoder, DecodeError, ParsedPayload, type DecodeSpec } from "../../protocols/mqtt/decode.js";

const SPECS: DecodeSpec[] = [
  "number",
  "boolean",
  "string",
  "raw",
  "msgpack",
  { json: "a.b", ts: "at" },
  { json: 'list[1]["odd key"]' },
  { msgpack: "a.b", ts: "at" },
];
const DECODERS = SPECS.map((s) => ({ spec: s, decode: compileDecoder(s) }));
const REASONS = new Set([
  "not_a_number",
  "not_a_boolean",
  "bad_json",
  "missing_field",
  "not_a_scalar",
  "bad_msgpack",
  "bad_utf8",
]);
/** The range of a JavaScript Date, in ms. */
const MAX_TS = 8.64e15;

function checkAll(bytes: Uint8Array): void {
  const payload = new ParsedPayload(Buffer.from(bytes));
  for (const { spec, decode } of DECODERS) {
    let out;
    try {
      out = decode(payload);
    } catch (e) {
      if (!(e instanceof DecodeError))
        throw new Error(`${JSON.stringify(spec)}: not a DecodeError: ${String(e)}`);
      assert.ok(REASONS.has(e.reason), `${JSON.stringify(spec)}: unknown reason ${e.reason}`);
      continue;
    }
    const v = out.value;
    assert.ok(
      v === null || ["number", "bigint", "boolean", "string"].includes(typeof v) || v instanceof Uint8Array,
      `${JSON.stringify(spec)}: value of type ${typeof v}`,
    );
    if (out.ts !== undefined) {
      assert.ok(
        Number.isSafeInteger(out.ts) && Math.abs(out.ts) <= MAX_TS,
        `${JSON.stringify(spec)}: ts ${out.ts} is not whole milliseconds in a Date's range`,
      );
      // What the decoder accepts, every codec carries.
      for (const codec of Object.values(codecs)) {
        const readings = [{ device: "d", point: "p", ts: out.ts, value: 1, quality: "good" as const }];
        const back = codec.decode(codec.encode({ gateway: "g", firstSeq: 1, readings }));
        assert.equal(back.readings[0]!.ts, out.ts, `${codec.name} carries ts ${out.ts}`);
      }
    }
  }
}

const leaf = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
  fc.boolean(),
  fc.string(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
  fc.date({ noInvalidDate: true }),
);
const doc = fc.letrec((tie) => ({
  node: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("node"), { maxLength: 3 }), tie("map")),
  map: fc.dictionary(fc.constantFrom("a", "b", "at", "list", "odd key", "__proto__", "x"), tie("node"), {
    maxKeys: 4,
  }),
})).node;
const timestampish = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.constantFrom(1e300, -1e300, 1_764_000_000_000.5, 2 ** 60, 8.64e15 + 1, "2026-12-01T22:00:00.123456Z"),
);
const wellFormed = fc.record({ a: fc.record({ b: leaf }), at: timestampish });

const payloads = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  doc.map((d) =>
    new TextEncoder().encode(
      JSON.stringify(d, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)) ?? "",
    ),
  ),
  doc.map((d) => msgpackEncode(d, { useBigInt64: true })),
  wellFormed.map((d) =>
    new TextEncoder().encode(JSON.stringify(d, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))),
  ),
  wellFormed.map((d) => msgpackEncode(d, { useBigInt64: true })),
);

/** A valid payload with a few bytes changed, cut or inserted. */
const mutated = fc
  .tuple(
    payloads,
    fc.array(fc.tuple(fc.constantFrom("set", "cut", "insert"), fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 3,
    }),
  )
  .map(([bytes, ms]) => {
    let b = Array.from(bytes);
    for (const [kind, at, byte] of ms) {
      const i = b.length ? at % b.length : 0;
      if (kind === "set" && b.length) b[i] = byte;
      else if (kind === "cut") b = b.slice(0, i);
      else b.splice(i, 0, byte);
    }
    return Uint8Array.from(b);
  });

test("MQTT decoders: any payload gives a value and a carriable timestamp, or a DecodeError with a known reason", () => {
  fc.assert(fc.property(payloads, checkAll), { seed: 18_101, numRuns: 1500 });
  fc.assert(fc.property(mutated, checkAll), { seed: 18_102, numRuns: 1500 });
});

// Found by the runs above (seed 18101): a `ts` field holding a fraction of a millisecond made a
// reading the FlatBuffers codec cannot encode (the forwarder then stops at that batch), and one
// beyond a Date's range was carried as 0 by it.
test("MQTT decoders regression: a ts field is whole milliseconds within a Date's range, else ignored", () => {
  const decode = compileDecoder({ json: "a.b", ts: "at" });
  const ts = (at: unknown) => decode(new ParsedPayload(Buffer.from(JSON.stringify({ a: { b: 1 }, at })))).ts;
  assert.equal(ts(1_764_000_000_000.5), 1_764_000_000_001);
  assert.equal(ts(1_764_000_000_000.4), 1_764_000_000_000);
  assert.equal(ts(1e300), undefined);
  assert.equal(ts(-8.64e15 - 1), undefined);
  assert.equal(ts("2026-12-01T22:00:00.123Z"), Date.parse("2026-12-01T22:00:00.123Z"));
  const mp = compileDecoder({ msgpack: "a.b", ts: "at" });
  const big = mp(
    new ParsedPayload(Buffer.from(msgpackEncode({ a: { b: 1 }, at: 2n ** 62n }, { useBigInt64: true }))),
  );
  assert.equal(big.ts, undefined);
});
