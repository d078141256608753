// FlatBuffers encoding of a batch (schema: reading-batch.fbs, generated code in generated/).
import * as flatbuffers from "flatbuffers";
import type { ReadingValue, ValueKind } from "../../protocols/adapter.js";
import {
  Batch,
  Blob,
  BooleanValues,
  BytesValues,
  IntegerValues,
  NumberValues,
  Series as FbSeries,
  StringValues,
  Tag,
  Values,
} from "./generated/reading-batch_generated.js";
import type { ReadingColumns } from "../../buffer/index.js";
import {
  BatchFormatError,
  columnsOf,
  fromSeries,
  groupColumnSeries,
  QUALITIES,
  SCHEMA_VERSION,
  type BatchInput,
  type ColumnSeries,
  type DecodedBatch,
  type Series,
} from "./series.js";

const KIND_TO_UNION: Record<ValueKind, Values> = {
  number: Values.NumberValues,
  integer: Values.IntegerValues,
  boolean: Values.BooleanValues,
  string: Values.StringValues,
  bytes: Values.BytesValues,
  null: Values.NONE,
};

function valuesTable(b: flatbuffers.Builder, kind: ValueKind, values: ReadingValue[]): number {
  switch (kind) {
    case "number":
      return NumberValues.createNumberValues(b, NumberValues.createValuesVector(b, values as number[]));
    case "integer":
      return IntegerValues.createIntegerValues(b, IntegerValues.createValuesVector(b, values as bigint[]));
    case "boolean":
      return BooleanValues.createBooleanValues(b, BooleanValues.createValuesVector(b, values as boolean[]));
    case "string":
      return StringValues.createStringValues(
        b,
        StringValues.createValuesVector(
          b,
          (values as string[]).map((s) => b.createString(s)),
        ),
      );
    case "bytes": {
      const blobs = (values as Uint8Array[]).map((v) => Blob.createBlob(b, Blob.createDataVector(b, v)));
      return BytesValues.createBytesValues(b, BytesValues.createValuesVector(b, blobs));
    }
    case "null":
      return 0;
  }
}

// Field 4 of Series. The generated adder takes a bigint, and the library's int64 write makes five
// more per call: one series per reading in a batch of many points, so this writes the two halves.
const BASE_TS_FIELD = 4;

function addBaseTs(b: flatbuffers.Builder, ms: number): void {
  const high = Math.floor(ms / 2 ** 32);
  b.prep(8, 0);
  b.writeInt32(high | 0);
  b.writeInt32((ms - high * 2 ** 32) | 0);
  b.slot(BASE_TS_FIELD);
}

function tagsVector(b: flatbuffers.Builder, tags: [string, string][] | null): number {
  return tags
    ? FbSeries.createTagsVector(
        b,
        tags.map(([k, v]) => Tag.createTag(b, b.createSharedString(k), b.createSharedString(v))),
      )
    : 0;
}

/** One series' values, gathered for valuesTable; emptied after each batch (it holds readings' values). */
const gathered: ReadingValue[] = [];

/** The Series table of series s of the grouped columns. */
function columnSeriesTable(b: flatbuffers.Builder, g: ColumnSeries, c: ReadingColumns, s: number): number {
  const from = g.start[s]!;
  const to = g.start[s + 1]!;
  const n = to - from;
  const base = g.baseTs[s]!;
  const kind = g.kind[s]!;
  const tags = tagsVector(b, g.tags[s]!);
  b.startVector(4, n, 4);
  for (let j = to - 1; j >= from; j--) b.addInt32(c.ts[g.order[j]!]! - base);
  const ts = b.endVector();
  b.startVector(4, n, 4);
  for (let j = to - 1; j >= from; j--) b.addInt32(g.order[j]!);
  const seq = b.endVector();
  let qualities = 0;
  if (g.notGood[s]) {
    b.startVector(1, n, 1);
    for (let j = to - 1; j >= from; j--) b.addInt8(c.quality[g.order[j]!]!);
    qualities = b.endVector();
  }
  gathered.length = 0;
  if (kind !== "null") for (let j = from; j < to; j++) gathered.push(c.values[g.order[j]!]!);
  const values = valuesTable(b, kind, gathered);
  const unit = g.unit[s]!;
  FbSeries.startSeries(b);
  FbSeries.addDevice(b, g.device[s]!);
  FbSeries.addPoint(b, g.point[s]!);
  // `unit` is an optional scalar: 0 is a real index, so it must not be elided as a default.
  if (unit >= 0) b.addFieldInt32(2, unit, null);
  if (tags) FbSeries.addTags(b, tags);
  addBaseTs(b, base);
  FbSeries.addTsOffsetsMs(b, ts);
  FbSeries.addSeqOffsets(b, seq);
  if (qualities) FbSeries.addQualities(b, qualities);
  if (kind !== "null") {
    FbSeries.addValuesType(b, KIND_TO_UNION[kind]);
    FbSeries.addValues(b, values);
  }
  return FbSeries.endSeries(b);
}

// The batch's names (devices, points, units) are the same from batch to batch: their UTF-8 is kept
// rather than encoded again for every batch. Bounded; emptied when full.
const UTF8_CACHE_MAX = 20_000;
const utf8Cache = new Map<string, Uint8Array>();
const textEncoder = new TextEncoder();

function utf8Of(s: string): Uint8Array {
  let bytes = utf8Cache.get(s);
  if (bytes === undefined) {
    if (utf8Cache.size >= UTF8_CACHE_MAX) utf8Cache.clear();
    bytes = textEncoder.encode(s);
    utf8Cache.set(s, bytes);
  }
  return bytes;
}

export function encodeFlatbuffers(input: BatchInput): Uint8Array {
  // Columns as the forwarder has them (objects become columns): no object or array per series.
  const c = input.columns ?? columnsOf(input.readings);
  const g = groupColumnSeries(c, input.columns !== undefined);
  const count = c.ts.length;
  // Room for the usual size (about 25 bytes a reading, 50 a series), so the buffer rarely grows.
  const b = new flatbuffers.Builder(256 + count * 32 + g.count * 64);
  const strings = Batch.createStringsVector(
    b,
    g.strings.map((s) => b.createString(utf8Of(s))),
  );
  const tables: number[] = [];
  for (let s = 0; s < g.count; s++) tables.push(columnSeriesTable(b, g, c, s));
  gathered.length = 0;
  const series = Batch.createSeriesVector(b, tables);
  const gateway = b.createString(utf8Of(input.gateway));
  Batch.startBatch(b);
  Batch.addSchema(b, SCHEMA_VERSION);
  Batch.addGateway(b, gateway);
  Batch.addFirstSeq(b, BigInt(input.firstSeq));
  Batch.addCount(b, count);
  Batch.addStrings(b, strings);
  Batch.addSeries(b, series);
  Batch.finishBatchBuffer(b, Batch.endBatch(b));
  return b.asUint8Array();
}

function readValues(s: FbSeries, kind: Values, n: number): { kind: ValueKind; values: ReadingValue[] } {
  switch (kind) {
    case Values.NONE:
      return { kind: "null", values: [] };
    case Values.NumberValues: {
      const t = s.values(new NumberValues()) as NumberValues;
      return { kind: "number", values: Array.from(t.valuesArray() ?? []) };
    }
    case Values.IntegerValues: {
      const t = s.values(new IntegerValues()) as IntegerValues;
      return { kind: "integer", values: Array.from({ length: t.valuesLength() }, (_, i) => t.values(i)!) };
    }
    case Values.BooleanValues: {
      const t = s.values(new BooleanValues()) as BooleanValues;
      return { kind: "boolean", values: Array.from({ length: t.valuesLength() }, (_, i) => t.values(i)!) };
    }
    case Values.StringValues: {
      const t = s.values(new StringValues()) as StringValues;
      return { kind: "string", values: Array.from({ length: t.valuesLength() }, (_, i) => t.values(i)) };
    }
    case Values.BytesValues: {
      const t = s.values(new BytesValues()) as BytesValues;
      return {
        kind: "bytes",
        values: Array.from({ length: t.valuesLength() }, (_, i) =>
          Uint8Array.from(t.values(i)?.dataArray() ?? []),
        ),
      };
    }
    default:
      throw new BatchFormatError(`unknown value kind ${String(kind)} in a series of ${n} readings`);
  }
}

export function decodeFlatbuffers(bytes: Uint8Array): DecodedBatch {
  // Typed-array views over the buffer need it 8-byte aligned.
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const bb = new flatbuffers.ByteBuffer(aligned);
  if (aligned.length < 8 || !Batch.bufferHasIdentifier(bb)) {
    throw new BatchFormatError("not an iggy-edge FlatBuffers batch (file identifier IEB1 missing)");
  }
  try {
    const fb = Batch.getRootAsBatch(bb);
    const strings = Array.from({ length: fb.stringsLength() }, (_, i) => fb.strings(i));
    const series: Series[] = [];
    for (let i = 0; i < fb.seriesLength(); i++) {
      const s = fb.series(i)!;
      const n = s.seqOffsetsLength();
      const { kind, values } = readValues(s, s.valuesType(), n);
      const tags = Array.from({ length: s.tagsLength() }, (_, j): [string, string] => [
        s.tags(j)!.key()!,
        s.tags(j)!.value()!,
      ]);
      const q = s.qualitiesArray();
      series.push({
        device: s.device(),
        point: s.point(),
        unit: s.unit(),
        tags: tags.length ? tags : null,
        kind,
        baseTs: Number(s.baseTsMs()),
        tsOffsets: Array.from(s.tsOffsetsMsArray() ?? []),
        seqOffsets: Array.from(s.seqOffsetsArray() ?? []),
        qualities: q ? Array.from(q, (x) => QUALITIES[x] ?? "bad") : null,
        values,
      });
    }
    return fromSeries({
      schema: fb.schema(),
      gateway: fb.gateway() ?? "",
      firstSeq: Number(fb.firstSeq()),
      count: fb.count(),
      strings,
      series,
    });
  } catch (e) {
    if (e instanceof BatchFormatError) throw e;
    throw new BatchFormatError(`corrupt FlatBuffers batch: ${(e as Error).message}`);
  }
}
