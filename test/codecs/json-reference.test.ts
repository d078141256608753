// The JSON codec writes its payloads from cached pieces and digit by digit; these tests hold every
// payload to the bytes of JSON.stringify of the reference object (a bigint spliced in as its
// digits), over many random readings built to hit escapes, surrogates, number formats and limits.
import assert from "node:assert/strict";
import { test } from "node:test";
import { codecs } from "../../gateway/codecs/index.js";
import { valueKind, type Quality, type Reading, type ReadingValue } from "../../protocols/adapter.js";
import { edgeReadings, realisticReadings } from "./fixtures/readings.js";

/** mulberry32: a small seeded generator, so a failure is reproducible from the seed it prints. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  return { next, int, pick };
}
type Gen = ReturnType<typeof generator>;

const PIECES = [
  "a",
  "Z",
  "0",
  " ",
  '"',
  "\\",
  "/",
  "\u0000",
  "\u0001",
  "\b",
  "\t",
  "\n",
  "\f",
  "\r",
  "\u001f",
  "\u007f",
  "\u0080",
  "é",
  "ß",
  "温度",
  "\u2028",
  "\u2029",
  "\ufeff",
  "\uffff",
  "🌡️",
  "\ud83d\ude00",
  "\ud800", // lone high surrogate
  "\udfff", // lone low surrogate
  "\udc00\ud800", // reversed pair: two lone surrogates
  '{"gateway":',
  ',"value":1,',
  "sensor_",
];

function text(g: Gen, max = 12): string {
  const n = g.int(max + 1);
  let s = "";
  for (let i = 0; i < n; i++) s += g.pick(PIECES);
  return s;
}

function randomDouble(g: Gen): number {
  const b = new DataView(new ArrayBuffer(8));
  b.setUint32(0, g.int(2 ** 32));
  b.setUint32(4, g.int(2 ** 32));
  return b.getFloat64(0);
}

const SPECIAL_NUMBERS = [
  0,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  Number.MAX_VALUE,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  Number.EPSILON,
  1e21,
  1e-7,
  1e-6,
  0.1,
  0.2 + 0.1,
  2 ** 31,
  2 ** 31 - 1,
  -(2 ** 31),
  2_147_483.647,
  2_147_483.648,
  -2_147_483.647,
  2_147_483.6475,
  0.001,
  -0.001,
  0.0005,
  999.999,
  1000.5,
  123.45600000000002,
];

function randomNumber(g: Gen): number {
  switch (g.int(6)) {
    case 0:
      return g.pick(SPECIAL_NUMBERS);
    case 1:
      return randomDouble(g);
    case 2: {
      // A few decimals, of every magnitude the sensors give and beyond.
      const decimals = g.int(7);
      const scale = 10 ** g.int(12);
      const v = Math.round((g.next() - 0.5) * scale * 10 ** decimals) / 10 ** decimals;
      return v;
    }
    case 3:
      return (g.next() - 0.5) * 10 ** (g.int(40) - 20);
    case 4:
      return g.int(2 ** 31) * (g.next() < 0.5 ? -1 : 1);
    default:
      // float32 readings widened to double, as OPC-UA and Modbus floats arrive.
      return Math.fround((g.next() - 0.5) * 10 ** g.int(8));
  }
}

function randomBigint(g: Gen): bigint {
  const bits = g.pick([1, 8, 31, 32, 53, 54, 63, 64, 65, 128, 300]);
  let v = 0n;
  for (let i = 0; i < bits; i += 16) v = (v << 16n) | BigInt(g.int(65536));
  v &= (1n << BigInt(bits)) - 1n;
  return g.next() < 0.5 ? -v : v;
}

function randomValue(g: Gen): ReadingValue {
  switch (g.int(8)) {
    case 0:
    case 1:
    case 2:
      return randomNumber(g);
    case 3:
      return randomBigint(g);
    case 4:
      return g.next() < 0.5;
    case 5:
      return text(g, 20);
    case 6: {
      const bytes = new Uint8Array(g.int(40));
      for (let i = 0; i < bytes.length; i++) bytes[i] = g.int(256);
      // Sometimes a view into a larger buffer, as a slice of a network read would be.
      return g.next() < 0.5 ? bytes : bytes.subarray(g.int(bytes.length + 1));
    }
    default:
      return null;
  }
}

function randomTs(g: Gen): number {
  switch (g.int(8)) {
    case 0:
      return g.pick([0, -0, 1, 999_999, 1_000_000, 2 ** 31 * 1e6, 2 ** 31 * 1e6 - 1, 2 ** 53, 1e21]);
    case 1:
      return g.int(2 ** 31) * 1e6 + g.int(1e6);
    case 2:
      return Math.floor(g.next() * Number.MAX_SAFE_INTEGER);
    case 3:
      return g.next() * 1e13; // fractional milliseconds
    case 4:
      return -g.int(2 ** 40);
    case 5:
      return g.pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    default:
      return 1_764_000_000_000 + g.int(86_400_000);
  }
}

/** Names repeat (the codec keeps pieces per device, point and unit) but keep appearing new. */
function randomReading(g: Gen, names: string[]): Reading {
  const name = () => {
    if (names.length < 5 || g.next() < 0.3) names.push(text(g));
    return g.pick(names);
  };
  const r: Reading = {
    device: name(),
    point: name(),
    ts: randomTs(g),
    value: randomValue(g),
    quality: g.pick<Quality>(["good", "uncertain", "bad"]),
  };
  if (g.next() < 0.5) r.unit = g.next() < 0.7 ? g.pick(["degC", "bar", "W", "%", "µS/cm"]) : name();
  if (g.next() < 0.2) {
    const tags: Record<string, string> = {};
    for (let i = g.int(4); i > 0; i--) tags[text(g, 4)] = text(g, 6);
    r.tags = tags;
  }
  return r;
}

const MARK = "\u0000bigint-goes-here\u0000";

/** JSON.stringify of the object the README describes, with a bigint value as its exact digits. */
function reference(gateway: string, seq: number, r: Reading): string {
  const kind = valueKind(r.value);
  let value: unknown = r.value;
  if (kind === "integer") value = MARK;
  if (kind === "bytes") value = Buffer.from(r.value as Uint8Array).toString("base64");
  if (kind === "number" && !Number.isFinite(r.value as number)) value = String(r.value);
  const o: Record<string, unknown> = {
    gateway,
    seq,
    device: r.device,
    point: r.point,
    ts: r.ts,
    type: kind,
    value,
    quality: r.quality,
  };
  if (r.unit !== undefined) o.unit = r.unit;
  if (r.tags !== undefined) o.tags = r.tags;
  const json = JSON.stringify(o);
  if (kind !== "integer") return json;
  // Outside a JSON string a quote is never escaped, so `,"value":` is the key and nothing else.
  const marked = `,"value":${JSON.stringify(MARK)},`;
  assert.ok(json.includes(marked));
  return json.replace(marked, `,"value":${(r.value as bigint).toString()},`);
}

function assertSameAsReference(gateway: string, firstSeq: number, readings: Reading[], where: string) {
  const payloads = codecs.json.encode({ gateway, firstSeq, readings });
  assert.equal(payloads.length, readings.length, where);
  readings.forEach((r, i) => {
    const expected = Buffer.from(reference(gateway, firstSeq + i, r), "utf8");
    const actual = Buffer.from(payloads[i]!.buffer, payloads[i]!.byteOffset, payloads[i]!.byteLength);
    if (!actual.equals(expected)) {
      assert.fail(
        `${where}, reading ${i}: ${JSON.stringify(String(r.value))} (${typeof r.value}), ts ${r.ts}\n` +
          `expected ${expected.toString("utf8")}\n` +
          `actual   ${actual.toString("utf8")}`,
      );
    }
  });
  return payloads;
}

test("json: random readings encode to exactly JSON.stringify of the reference object", () => {
  for (const seed of [1, 2, 3, 0x5eed, 0xc0ffee]) {
    const g = generator(seed);
    const names: string[] = [];
    for (let batch = 0; batch < 40; batch++) {
      const gateway = batch % 10 === 0 ? text(g) : "line-3";
      const firstSeq = g.pick([0, 1, 2 ** 31 - 100, 2 ** 31 + g.int(1e6), 2 ** 53 - 1000, g.int(1e9)]);
      const readings = Array.from({ length: 1 + g.int(300) }, () => randomReading(g, names));
      assertSameAsReference(gateway, firstSeq, readings, `seed ${seed}, batch ${batch}`);
    }
  }
});

test("json: the fixture readings and a realistic batch match the reference", () => {
  assertSameAsReference("line-3", 9_007_199_254_740_000, edgeReadings(), "edge readings");
  assertSameAsReference("gw", 1, realisticReadings(2000), "realistic readings");
});

test("json: every double with up to three decimals near the fast path's limits matches Number#toString", () => {
  // The codec writes these from integer thousandths; the edges of that path, one by one.
  const readings: Reading[] = [];
  const add = (value: number) =>
    readings.push({ device: "d", point: "p", ts: 1_764_000_000_000, value, quality: "good" });
  for (const base of [0, 1, 9.999, 1_000, 2_147_483, -2_147_483, 4_503_599_627]) {
    for (let k = -1500; k <= 1500; k++) {
      add(base + k / 1000);
      add((base * 1000 + k) / 1000);
    }
  }
  assertSameAsReference("gw", 1, readings, "decimals");
});

test("json: batches past the reused buffer's size and past the name cache's bound still match", () => {
  const big = "x".repeat(5 * 1024 * 1024);
  const readings: Reading[] = [
    { device: "d", point: "huge", ts: 1, value: big, quality: "good" },
    { device: "d", point: "after", ts: 2, value: 1.5, quality: "good" },
  ];
  assertSameAsReference("gw", 1, readings, "5 MB string");
  // More distinct device/point pairs than the codec keeps pieces for (it starts over mid-batch).
  const many: Reading[] = Array.from({ length: 30_000 }, (_, i) => ({
    device: `dev-${i % 7}`,
    point: `p-${i}`,
    ts: 1_764_000_000_000 + i,
    value: i / 8,
    quality: "good",
    unit: `u${i % 3000}`,
  }));
  assertSameAsReference("gw", 1, many, "30,000 points");
  assertSameAsReference("gw", 1, realisticReadings(100), "after both");
});

test("json: payloads of a batch stay intact when later batches are encoded", () => {
  const first = codecs.json.encode({ gateway: "gw", firstSeq: 1, readings: realisticReadings(500) });
  const copy = first.map((p) => Buffer.from(p).toString("hex"));
  codecs.json.encode({ gateway: "other", firstSeq: 9, readings: realisticReadings(5000, 0) });
  codecs.json.encode({ gateway: "gw", firstSeq: 1, readings: edgeReadings() });
  assert.deepEqual(
    first.map((p) => Buffer.from(p).toString("hex")),
    copy,
  );
});

test("json: a value no reading can hold is a TypeError, and the next batch encodes cleanly", () => {
  const bad = [
    ...realisticReadings(3),
    { device: "d", point: "p", ts: 1, value: { not: "a value" }, quality: "good" } as unknown as Reading,
  ];
  assert.throws(() => codecs.json.encode({ gateway: "gw", firstSeq: 1, readings: bad }), TypeError);
  assertSameAsReference("gw", 1, realisticReadings(10), "after the failed batch");
});

test("json: the tricky cases one by one, as text and as what a JSON parser reads back", () => {
  const base = { device: "d", point: "p", ts: 1_764_000_000_123, quality: "good" as Quality };
  // [what, reading, the payload's exact text after `{"gateway":"gw","seq":N,`]
  const cases: [string, Reading, string][] = [
    [
      "unicode names and units are written as UTF-8, not escaped",
      { ...base, device: "Kessel-Größe", point: "温度", value: 1, unit: "µS/cm 🌡️" },
      '"device":"Kessel-Größe","point":"温度","ts":1764000000123,"type":"number","value":1,"quality":"good","unit":"µS/cm 🌡️"}',
    ],
    [
      "quotes, backslashes and control characters are escaped; U+2028 is not",
      { ...base, value: 'a"b\\c\n\t\u0000\u001f\u007f\u2028' },
      '"device":"d","point":"p","ts":1764000000123,"type":"string","value":"a\\"b\\\\c\\n\\t\\u0000\\u001f\u007f\u2028","quality":"good"}',
    ],
    [
      "a lone surrogate is escaped (well-formed JSON.stringify), a pair is written as UTF-8",
      { ...base, point: "\ud800x\udfff", value: "\ud83d\ude00" },
      '"device":"d","point":"\\ud800x\\udfff","ts":1764000000123,"type":"string","value":"😀","quality":"good"}',
    ],
    [
      "-0 as value and timestamp is 0",
      { ...base, ts: -0, value: -0 },
      '"device":"d","point":"p","ts":0,"type":"number","value":0,"quality":"good"}',
    ],
    [
      "NaN as a value is the string NaN",
      { ...base, value: Number.NaN },
      '"device":"d","point":"p","ts":1764000000123,"type":"number","value":"NaN","quality":"good"}',
    ],
    [
      "-Infinity as a value is the string -Infinity",
      { ...base, value: Number.NEGATIVE_INFINITY },
      '"device":"d","point":"p","ts":1764000000123,"type":"number","value":"-Infinity","quality":"good"}',
    ],
    [
      "a timestamp JSON cannot carry is null, as JSON.stringify writes it",
      { ...base, ts: Number.POSITIVE_INFINITY, value: 2 },
      '"device":"d","point":"p","ts":null,"type":"number","value":2,"quality":"good"}',
    ],
    [
      "huge and tiny doubles in Number#toString's exponent form",
      { ...base, ts: 1e21, value: 5e-324 },
      '"device":"d","point":"p","ts":1e+21,"type":"number","value":5e-324,"quality":"good"}',
    ],
    [
      "the largest double, negative",
      { ...base, value: -Number.MAX_VALUE },
      '"device":"d","point":"p","ts":1764000000123,"type":"number","value":-1.7976931348623157e+308,"quality":"good"}',
    ],
    [
      "decimals that are not what they look like",
      { ...base, value: 0.1 + 0.2 },
      '"device":"d","point":"p","ts":1764000000123,"type":"number","value":0.30000000000000004,"quality":"good"}',
    ],
    [
      "a float32 reading widened to double keeps all its digits",
      { ...base, value: Math.fround(21.7) },
      '"device":"d","point":"p","ts":1764000000123,"type":"number","value":21.700000762939453,"quality":"good"}',
    ],
    [
      "a 64-bit integer past 2^53 is exact digits",
      { ...base, value: -(2n ** 63n) },
      '"device":"d","point":"p","ts":1764000000123,"type":"integer","value":-9223372036854775808,"quality":"good"}',
    ],
    [
      "empty tags are an empty object, an empty unit an empty string",
      { ...base, value: true, unit: "", tags: {} },
      '"device":"d","point":"p","ts":1764000000123,"type":"boolean","value":true,"quality":"good","unit":"","tags":{}}',
    ],
    [
      "tags keep their order and are escaped",
      { ...base, value: null, tags: { z: "1", 'a"': "é\n" } },
      '"device":"d","point":"p","ts":1764000000123,"type":"null","value":null,"quality":"good","tags":{"z":"1","a\\"":"é\\n"}}',
    ],
    [
      "bytes are base64, empty bytes an empty string",
      { ...base, value: new Uint8Array([]) },
      '"device":"d","point":"p","ts":1764000000123,"type":"bytes","value":"","quality":"good"}',
    ],
    [
      "empty device and point names",
      { ...base, device: "", point: "", value: 0.001 },
      '"device":"","point":"","ts":1764000000123,"type":"number","value":0.001,"quality":"good"}',
    ],
  ];
  const firstSeq = 2 ** 53 - 2 * cases.length;
  const payloads = assertSameAsReference(
    "gw",
    firstSeq,
    cases.map(([, r]) => r),
    "tricky cases",
  );
  cases.forEach(([what, r], i) => {
    const text = Buffer.from(payloads[i]!).toString("utf8");
    assert.equal(text, `{"gateway":"gw","seq":${firstSeq + i},${cases[i]![2]}`, what);
    // What any JSON parser reads back is what it reads from JSON.stringify's text.
    assert.deepEqual(JSON.parse(text), JSON.parse(reference("gw", firstSeq + i, r)), what);
  });
});
