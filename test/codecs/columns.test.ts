// The buffer hands the forwarder a batch by column (series, ts, value, quality per reading, as
// decoded from storage) and the binary codecs encode from the columns without a Reading object per
// reading: the bytes must be those of the same readings as objects, or a resend after an upgrade
// would differ and the readings in Iggy would not be the stored ones.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { ByteReader, ByteWriter } from "../../buffer/bytes.js";
import {
  emptyColumns,
  readingAt,
  readReading,
  readReadingInto,
  seriesOf,
  writeReading,
  type SeriesDef,
} from "../../buffer/reading-codec.js";
import { codecs, type CodecName } from "../../gateway/codecs/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { edgeReadings, realisticReadings } from "./fixtures/readings.js";

/** The readings as the buffer stores them: odd ones with their series inline, the rest by dictionary id. */
function stored(readings: Reading[]) {
  const ids = new Map<string, number>();
  const defs: SeriesDef[] = [];
  const w = new ByteWriter(1 << 16);
  const lengths: number[] = [];
  readings.forEach((r, i) => {
    const def = seriesOf(r);
    const key = JSON.stringify(def);
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = defs.push(Object.freeze(def)) - 1));
    const start = w.pos;
    writeReading(w, r, i % 2 === 1 ? def : id);
    lengths.push(w.pos - start);
  });
  return { bytes: w.bytes.slice(0, w.pos), lengths, lookup: (id: number) => defs[id] };
}

function decodeBoth(readings: Reading[]) {
  const s = stored(readings);
  const columns = emptyColumns(s.lengths.length);
  const objects: Reading[] = [];
  const r = new ByteReader(s.bytes);
  let off = 0;
  s.lengths.forEach((len, i) => {
    r.pos = off;
    r.end = off + len;
    readReadingInto(r, off + len, s.lookup, columns, i);
    r.pos = off;
    objects.push(readReading(r, off + len, s.lookup));
    off += len;
  });
  return { columns, objects };
}

/** Encoded from the columns and from the objects: [columns, objects] as hex, one per message. */
function encodeBoth(name: CodecName, readings: Reading[]): [string[], string[]] {
  const { columns, objects } = decodeBoth(readings);
  const hex = (ps: Uint8Array[]) => ps.map((p) => Buffer.from(p).toString("hex"));
  const fromObjects = codecs[name].encode({ gateway: "gw", firstSeq: 7, readings: objects });
  const fromColumns = codecs[name].encode({
    gateway: "gw",
    firstSeq: 7,
    columns,
    get readings(): Reading[] {
      throw new Error("the binary codecs must not build the objects");
    },
  });
  return [hex(fromColumns), hex(fromObjects)];
}

const batches: [string, Reading[]][] = [
  ["every value kind and edge value", edgeReadings()],
  ["a realistic batch", realisticReadings(1000)],
];

for (const [what, readings] of batches) {
  test(`${what}: the columns hold the readings the objects hold`, () => {
    const { columns, objects } = decodeBoth(readings);
    assert.equal(columns.ts.length, objects.length);
    objects.forEach((o, i) => assert.deepStrictEqual(readingAt(columns, i), o, `reading ${i}`));
  });

  for (const name of ["flatbuffers", "msgpack"] as CodecName[]) {
    test(`${name}, ${what}: encoded from the columns, the same bytes as from the objects`, () => {
      const [fromColumns, fromObjects] = encodeBoth(name, readings);
      assert.deepEqual(fromColumns, fromObjects);
    });
  }
}

// Series interleaved, value kinds and qualities changing within a series, timestamps going back or
// jumping past a series' 49-day offset range: the bytes from the stored columns must be those from
// the objects, and decode back to the readings.
const mixedReading = fc.record({
  device: fc.constantFrom("a", "b"),
  point: fc.constantFrom("x", "y", "z"),
  ts: fc.oneof(fc.integer({ min: 0, max: 10 }), fc.constant(5_000_000_000)),
  value: fc.oneof(fc.double({ noNaN: true }), fc.constant(null), fc.boolean(), fc.constantFrom("on", "off")),
  quality: fc.constantFrom("good", "good", "good", "uncertain", "bad") as fc.Arbitrary<Reading["quality"]>,
  unit: fc.constantFrom("degC", undefined),
  tags: fc.constantFrom(undefined, { line: "1" }, { line: "2", cell: "a" }),
});

for (const name of ["flatbuffers", "msgpack"] as CodecName[]) {
  test(`${name}: any mix of series, kinds, qualities and timestamps encodes the same from the columns`, () => {
    fc.assert(
      fc.property(fc.array(mixedReading, { minLength: 1, maxLength: 60 }), (rs) => {
        const readings = rs.map((r) => {
          const { unit, tags, ...rest } = r;
          return { ...rest, ...(unit === undefined ? {} : { unit }), ...(tags ? { tags } : {}) } as Reading;
        });
        const [fromColumns, fromObjects] = encodeBoth(name, readings);
        assert.deepEqual(fromColumns, fromObjects);
        // Both go through one grouping: decoding tells whether it kept every reading as it was
        // (-0 as 0: msgpack writes it as the integer 0).
        const signless = (rs: Reading[]) => rs.map((r) => (Object.is(r.value, -0) ? { ...r, value: 0 } : r));
        const decoded = codecs[name].decode(fromColumns.map((h) => Buffer.from(h, "hex"))).readings;
        assert.deepStrictEqual(signless(decoded), signless(decodeBoth(readings).objects));
      }),
      { numRuns: 300 },
    );
  });
}
