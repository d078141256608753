// The stored form of a Reading: one compact byte string per row, self-describing given the series
// dictionary. Layout (all integers little-endian):
//
//   flags   u8   bits 0-3 value kind, bits 4-5 quality, bit 6 series inline, bit 7 ts is float64
//   series  varint dictionary id, or (bit 6) an inline series definition
//   ts      uint48 milliseconds, or (bit 7) float64 when not an integer in [0, 2^48) or -0
//   value   by kind: nothing (null/false/true), f64, f32, zigzag varint (int32-valued numbers),
//           i64, u64 (bigint), varint length + UTF-8 (string), varint length + bytes
//
// A series definition is device, point, unit (absent or text) and tags (absent or sorted pairs).
// Numbers take the smallest exact form (int32 → varint, float32-exact → 4 bytes, else 8), so every
// number, -0, NaN and ±Infinity included, decodes to the identical value.
import type { Quality, Reading, ReadingValue } from "../protocols/adapter.js";
import { ByteReader, ByteWriter, DecodeError } from "./bytes.js";

export const Kind = {
  Null: 0,
  False: 1,
  True: 2,
  F64: 3,
  F32: 4,
  Int: 5,
  I64: 6,
  U64: 7,
  Str: 8,
  Bytes: 9,
} as const;

const KIND_MASK = 0x0f;
const QUALITY_SHIFT = 4;
export const INLINE_SERIES = 0x40;
const TS_F64 = 0x80;
export const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];
const TWO_POW_48 = 2 ** 48;
const I64_MIN = -(2n ** 63n);
const U64_MAX = 2n ** 64n - 1n;
const I64_MAX = 2n ** 63n - 1n;

/** A reading that cannot be stored as given; the caller adds which reading it was. */
export class ReadingProblem extends Error {}

export interface SeriesDef {
  device: string;
  point: string;
  unit?: string;
  /** Frozen: decoded readings of one series share it. */
  tags?: Readonly<Record<string, string>>;
}

function wellFormed(s: string): boolean {
  return (s as unknown as { isWellFormed(): boolean }).isWellFormed();
}

// ---- series definitions ------------------------------------------------------------------------

function checkText(s: unknown, what: string): string {
  if (typeof s !== "string") throw new ReadingProblem(`${what} must be a string, got ${typeof s}`);
  if (!wellFormed(s)) throw new ReadingProblem(`${what} is not well-formed Unicode (lone surrogate)`);
  return s;
}

/** Checks device, point, unit and tags and returns the canonical definition (tags sorted and frozen). */
export function seriesOf(r: Reading): SeriesDef {
  const def: SeriesDef = { device: checkText(r.device, "device"), point: checkText(r.point, "point") };
  if (r.unit !== undefined) def.unit = checkText(r.unit, "unit");
  if (r.tags !== undefined) def.tags = canonicalTags(r.tags);
  return def;
}

function canonicalTags(tags: unknown): Readonly<Record<string, string>> {
  if (tags === null || typeof tags !== "object" || Array.isArray(tags))
    throw new ReadingProblem("tags must be an object of strings");
  const keys = Object.keys(tags).sort();
  const out: Record<string, string> = {};
  for (const k of keys)
    out[checkText(k, "tag name")] = checkText((tags as Record<string, unknown>)[k], `tag ${k}`);
  return Object.freeze(out);
}

export function writeSeries(w: ByteWriter, def: SeriesDef): void {
  w.str(def.device);
  w.str(def.point);
  if (def.unit === undefined) w.u8(0);
  else {
    w.u8(1);
    w.str(def.unit);
  }
  if (def.tags === undefined) w.varint(0);
  else {
    const keys = Object.keys(def.tags);
    w.varint(keys.length + 1);
    for (const k of keys) {
      w.str(k);
      w.str(def.tags[k]!);
    }
  }
}

export function readSeries(r: ByteReader): SeriesDef {
  const def: SeriesDef = { device: r.str(), point: r.str() };
  const hasUnit = r.u8();
  if (hasUnit === 1) def.unit = r.str();
  else if (hasUnit !== 0) throw new DecodeError("bad unit marker in series definition");
  const tagCount = r.varint();
  if (tagCount > 0) {
    const tags: Record<string, string> = {};
    for (let i = 0; i < tagCount - 1; i++) tags[r.str()] = r.str();
    def.tags = Object.freeze(tags);
  }
  return def;
}

export function encodeSeries(def: SeriesDef): Uint8Array {
  const w = new ByteWriter(64);
  writeSeries(w, def);
  return w.bytes.slice(0, w.pos);
}

export function decodeSeries(bytes: Uint8Array): SeriesDef {
  const r = new ByteReader(bytes);
  const def = readSeries(r);
  if (r.pos !== bytes.length) throw new DecodeError("trailing bytes after series definition");
  return def;
}

// ---- readings ----------------------------------------------------------------------------------

function qualityBits(q: unknown): number {
  switch (q) {
    case "good":
      return 0;
    case "uncertain":
      return 1 << QUALITY_SHIFT;
    case "bad":
      return 2 << QUALITY_SHIFT;
  }
  throw new ReadingProblem(`quality must be "good", "uncertain" or "bad", got ${JSON.stringify(q)}`);
}

function isNegZero(v: number): boolean {
  return v === 0 && 1 / v < 0;
}

/**
 * Appends one reading. `series` is its dictionary id, or its definition to be written inline.
 * Throws ReadingProblem (and may leave partial bytes past the writer's old position) on bad input.
 */
export function writeReading(w: ByteWriter, r: Reading, series: number | SeriesDef): void {
  const ts = r.ts;
  if (typeof ts !== "number")
    throw new ReadingProblem(`ts must be a number of milliseconds, got ${typeof ts}`);
  const tsInt = Number.isInteger(ts) && ts >= 0 && ts < TWO_POW_48 && !isNegZero(ts);
  let flags =
    qualityBits(r.quality) | (tsInt ? 0 : TS_F64) | (typeof series === "number" ? 0 : INLINE_SERIES);
  const v: ReadingValue = r.value;
  let kind: number;
  switch (typeof v) {
    case "number":
      if (Number.isInteger(v) && v >= -0x8000_0000 && v <= 0x7fff_ffff && !isNegZero(v)) kind = Kind.Int;
      else if (Math.fround(v) === v || v !== v) kind = Kind.F32;
      else kind = Kind.F64;
      break;
    case "bigint":
      if (v >= I64_MIN && v <= I64_MAX) kind = Kind.I64;
      else if (v > I64_MAX && v <= U64_MAX) kind = Kind.U64;
      else throw new ReadingProblem("bigint value is outside the 64-bit range");
      break;
    case "boolean":
      kind = v ? Kind.True : Kind.False;
      break;
    case "string":
      if (!wellFormed(v))
        throw new ReadingProblem("string value is not well-formed Unicode (lone surrogate)");
      kind = Kind.Str;
      break;
    case "object":
      if (v === null) kind = Kind.Null;
      else if (v instanceof Uint8Array) kind = Kind.Bytes;
      else throw new ReadingProblem("value must be a number, bigint, boolean, string, Uint8Array or null");
      break;
    default:
      throw new ReadingProblem(`value of type ${typeof v} cannot be stored`);
  }
  flags |= kind;
  w.u8(flags);
  if (typeof series === "number") w.varint(series);
  else writeSeries(w, series);
  if (tsInt) w.uint48(ts);
  else w.f64(ts);
  switch (kind) {
    case Kind.Int: {
      const n = v as number;
      w.varint(((n << 1) ^ (n >> 31)) >>> 0);
      break;
    }
    case Kind.F32:
      w.f32(v as number);
      break;
    case Kind.F64:
      w.f64(v as number);
      break;
    case Kind.I64:
      w.i64(v as bigint);
      break;
    case Kind.U64:
      w.u64(v as bigint);
      break;
    case Kind.Str:
      w.str(v as string);
      break;
    case Kind.Bytes:
      w.raw(v as Uint8Array);
      break;
  }
}

export type SeriesLookup = (id: number) => SeriesDef | undefined;

/**
 * Readings by column: what the binary codecs encode from, without a Reading object per reading.
 * Reading i is series[i] (readings of one stored series share one frozen definition), ts[i],
 * values[i] and QUALITIES[quality[i]].
 */
export interface ReadingColumns {
  series: SeriesDef[];
  ts: Float64Array;
  values: ReadingValue[];
  quality: Uint8Array;
}

export function emptyColumns(capacity: number): ReadingColumns {
  return {
    series: [],
    ts: new Float64Array(capacity),
    values: [],
    quality: new Uint8Array(capacity),
  };
}

/** The first `count` entries of columns filled for more. */
export function trimColumns(c: ReadingColumns, count: number): ReadingColumns {
  if (c.ts.length === count) return c;
  return { series: c.series, ts: c.ts.slice(0, count), values: c.values, quality: c.quality.slice(0, count) };
}

/**
 * Decodes one stored reading spanning [r.pos, end) into entry `at` of the columns (`at` is the
 * number of entries filled so far: series and values are pushed).
 */
export function readReadingInto(
  r: ByteReader,
  end: number,
  lookup: SeriesLookup,
  out: ReadingColumns,
  at: number,
): void {
  const flags = r.u8();
  let def: SeriesDef | undefined;
  if (flags & INLINE_SERIES) def = readSeries(r);
  else {
    const id = r.varint();
    def = lookup(id);
    if (def === undefined) throw new DecodeError(`stored reading refers to unknown series ${id}`);
  }
  const ts = flags & TS_F64 ? r.f64() : r.uint48();
  const q = (flags >> QUALITY_SHIFT) & 3;
  if (q > 2) throw new DecodeError("stored reading has an unknown quality");
  let value: ReadingValue;
  switch (flags & KIND_MASK) {
    case Kind.Null:
      value = null;
      break;
    case Kind.False:
      value = false;
      break;
    case Kind.True:
      value = true;
      break;
    case Kind.F64:
      value = r.f64();
      break;
    case Kind.F32:
      value = r.f32();
      break;
    case Kind.Int: {
      const z = r.varint();
      value = z % 2 === 0 ? z / 2 : -(z + 1) / 2;
      break;
    }
    case Kind.I64:
      value = r.i64();
      break;
    case Kind.U64:
      value = r.u64();
      break;
    case Kind.Str:
      value = r.str();
      break;
    case Kind.Bytes:
      value = r.raw();
      break;
    default:
      throw new DecodeError(`stored reading has unknown value kind ${flags & KIND_MASK}`);
  }
  if (r.pos !== end) throw new DecodeError("stored reading has trailing bytes");
  out.series.push(def);
  out.ts[at] = ts;
  out.values.push(value);
  out.quality[at] = q;
}

/** Reading i of the columns as an object. */
export function readingAt(c: ReadingColumns, i: number): Reading {
  const def = c.series[i]!;
  const reading: Reading = {
    device: def.device,
    point: def.point,
    ts: c.ts[i]!,
    value: c.values[i]!,
    quality: QUALITIES[c.quality[i]!]!,
  };
  if (def.unit !== undefined) reading.unit = def.unit;
  if (def.tags !== undefined) reading.tags = def.tags as Record<string, string>;
  return reading;
}

/** Decodes one stored reading spanning [r.pos, end). */
export function readReading(r: ByteReader, end: number, lookup: SeriesLookup): Reading {
  const one = emptyColumns(1);
  readReadingInto(r, end, lookup, one, 0);
  return readingAt(one, 0);
}

/** The dictionary id a stored reading refers to, or -1 when its series is inline. */
export function seriesIdOf(body: Uint8Array): number {
  if (body.length === 0 || body[0]! & INLINE_SERIES) return -1;
  let id = 0;
  let scale = 1;
  for (let i = 1; i < body.length && i < 9; i++) {
    const b = body[i]!;
    id += (b & 0x7f) * scale;
    if (b < 0x80) return id;
    scale *= 0x80;
  }
  return -1;
}

/** The source timestamp of a stored reading, without decoding the rest. */
export function tsOf(body: Uint8Array): number {
  const r = new ByteReader(body);
  const flags = r.u8();
  if (flags & INLINE_SERIES) {
    r.skipStr();
    r.skipStr();
    if (r.u8() === 1) r.skipStr();
    const tags = r.varint();
    for (let i = 0; i < 2 * Math.max(0, tags - 1); i++) r.skipStr();
  } else r.varint();
  return flags & TS_F64 ? r.f64() : r.uint48();
}
