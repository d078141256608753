// The logical batch both binary codecs share: readings grouped into series (one point, one value
// kind), names interned once per batch. See reading-batch.fbs for the meaning of every field.
import type { ReadingColumns, SeriesDef } from "../../buffer/index.js";
import {
  valueKind,
  type Quality,
  type Reading,
  type ReadingValue,
  type ValueKind,
} from "../../protocols/adapter.js";

export const SCHEMA_VERSION = 1;

export interface BatchInput {
  gateway: string;
  /** Buffer sequence of readings[0]; readings[i] has firstSeq + i. */
  firstSeq: number;
  /** Read only when `columns` is absent, or by a codec that needs objects (JSON). */
  readings: readonly Reading[];
  /** The same readings by column (as the buffer decodes them): encoded without objects. */
  columns?: ReadingColumns;
}

export interface Series {
  device: number;
  point: number;
  unit: number | null;
  tags: [string, string][] | null;
  kind: ValueKind;
  baseTs: number;
  tsOffsets: number[];
  seqOffsets: number[];
  /** null when every reading is good. */
  qualities: Quality[] | null;
  values: ReadingValue[];
}

export interface SeriesBatch {
  schema: number;
  gateway: string;
  firstSeq: number;
  count: number;
  strings: string[];
  series: Series[];
}

export interface DecodedBatch {
  schema: number;
  gateway: string;
  firstSeq: number;
  /** In sequence order: readings[i] has sequence firstSeq + i. */
  readings: Reading[];
}

export const QUALITIES: readonly Quality[] = ["good", "uncertain", "bad"];
const MAX_OFFSET = 0xffffffff;

export class StringTable {
  readonly strings: string[] = [];
  private readonly index = new Map<string, number>();
  intern(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** Frozen tag sets already keyed: the readings of one stored series share one. */
const tagsKeys = new WeakMap<object, string>();

function tagsKey(tags: Readonly<Record<string, string>> | undefined): string {
  if (!tags) return "";
  let key = tagsKeys.get(tags);
  if (key === undefined) {
    const keys = Object.keys(tags);
    key = keys.length ? JSON.stringify(keys.sort().map((k) => [k, tags[k]])) : "";
    if (Object.isFrozen(tags)) tagsKeys.set(tags, key);
  }
  return key;
}

/**
 * Readings as columns, each reading its own series definition (the grouping tells series apart by
 * device, point, unit and tags, not by the definition's identity).
 */
export function columnsOf(readings: readonly Reading[]): ReadingColumns {
  const n = readings.length;
  const c: ReadingColumns = {
    series: new Array<SeriesDef>(n),
    ts: new Float64Array(n),
    values: new Array<ReadingValue>(n),
    quality: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const r = readings[i]!;
    c.series[i] = r;
    c.ts[i] = r.ts;
    c.values[i] = r.value;
    c.quality[i] = QUALITIES.indexOf(r.quality);
  }
  return c;
}

/**
 * A batch's columns grouped into series with no object per series: series s has its fields at
 * index s of the arrays below, and its readings are `order[start[s]]` to `order[start[s + 1] - 1]`
 * (indexes into the columns, in sequence order). Series are made in the order of their first
 * reading, their names interned as they are made.
 */
export interface ColumnSeries {
  count: number;
  strings: string[];
  device: Int32Array;
  point: Int32Array;
  /** -1: no unit. */
  unit: Int32Array;
  tags: ([string, string][] | null)[];
  kind: ValueKind[];
  baseTs: Float64Array;
  /** 1 where a reading of the series is not good (its qualities are written). */
  notGood: Uint8Array;
  start: Int32Array;
  order: Int32Array;
}

interface OpenSlot {
  slot: number;
  kind: ValueKind;
  unit: string | undefined;
  tags: string;
}

interface KnownDef {
  candidates: OpenSlot[];
  tk: string;
  /** The tags as pairs, parsed from `tk` when a series of them is first made. */
  pairs?: [string, string][] | null;
  last: OpenSlot | null;
}

/** The arrays of the last grouping, reused by the next (grown to a power of two). */
let scratch = allocScratch(0);

function allocScratch(capacity: number) {
  return {
    capacity,
    device: new Int32Array(capacity),
    point: new Int32Array(capacity),
    unit: new Int32Array(capacity),
    baseTs: new Float64Array(capacity),
    notGood: new Uint8Array(capacity),
    start: new Int32Array(capacity + 1),
    next: new Int32Array(capacity),
    slotOf: new Int32Array(capacity),
    order: new Int32Array(capacity),
  };
}

/**
 * Valid until the next call: its arrays are reused (and longer than `count`). `defsShared`: the
 * readings of a stored series share its definition, so each is looked up once per batch (false for
 * columnsOf's, a definition per reading, where that lookup would only cost).
 */
export function groupColumnSeries(c: ReadingColumns, defsShared = true): ColumnSeries {
  const n = c.ts.length;
  if (scratch.capacity < n) scratch = allocScratch(2 ** Math.ceil(Math.log2(n)));
  // At most one series per reading: room for that, read up to `count`.
  const { device, point, unit, baseTs, notGood, start, next, slotOf, order } = scratch;
  const names = new StringTable();
  const tags: ([string, string][] | null)[] = [];
  const kinds: ValueKind[] = [];
  const open = new Map<string, Map<string, OpenSlot[]>>();
  const known = new Map<SeriesDef, KnownDef>();
  let count = 0;
  start[0] = 0;
  for (let i = 0; i < n; i++) {
    const def = c.series[i]!;
    let k = defsShared ? known.get(def) : undefined;
    if (k === undefined) {
      let points = open.get(def.device);
      if (points === undefined) open.set(def.device, (points = new Map()));
      let candidates = points.get(def.point);
      if (candidates === undefined) points.set(def.point, (candidates = []));
      const tk = tagsKey(def.tags);
      k = { candidates, tk, last: null };
      if (defsShared) known.set(def, k);
    }
    const ts = c.ts[i]!;
    const kind = valueKind(c.values[i]!);
    let e = k.last;
    if (e === null || e.kind !== kind) {
      e = null;
      for (const o of k.candidates)
        if (o.kind === kind && o.unit === def.unit && o.tags === k.tk) {
          e = o;
          break;
        }
    }
    // uint32 timestamp offsets: a reading earlier than its series' base, or more than 49 days after
    // it, starts a new series of the same point.
    let slot = e === null ? -1 : e.slot;
    if (slot < 0 || ts < baseTs[slot]! || ts - baseTs[slot]! > MAX_OFFSET) {
      slot = count++;
      device[slot] = names.intern(def.device);
      point[slot] = names.intern(def.point);
      unit[slot] = def.unit === undefined ? -1 : names.intern(def.unit);
      tags.push((k.pairs ??= k.tk ? (JSON.parse(k.tk) as [string, string][]) : null));
      kinds.push(kind);
      baseTs[slot] = ts;
      notGood[slot] = 0;
      start[slot + 1] = 0;
      if (e === null) k.candidates.push((e = { slot, kind, unit: def.unit, tags: k.tk }));
      else e.slot = slot;
    }
    k.last = e;
    slotOf[i] = slot;
    start[slot + 1]!++;
    if (c.quality[i] !== 0) notGood[slot] = 1;
  }
  // Counting sort of the readings by series, stable: each series' readings in sequence order.
  for (let s = 1; s <= count; s++) start[s]! += start[s - 1]!;
  next.set(start.subarray(0, count));
  for (let i = 0; i < n; i++) order[next[slotOf[i]!]!++] = i;
  return {
    count,
    strings: names.strings,
    device,
    point,
    unit,
    tags,
    kind: kinds,
    baseTs,
    notGood,
    start,
    order,
  };
}

/** Column series as Series objects (for a codec that writes arrays). */
function seriesOfColumns(g: ColumnSeries, c: ReadingColumns): Series[] {
  const out: Series[] = [];
  for (let s = 0; s < g.count; s++) {
    const from = g.start[s]!;
    const to = g.start[s + 1]!;
    const base = g.baseTs[s]!;
    const kind = g.kind[s]!;
    const tsOffsets: number[] = [];
    const seqOffsets: number[] = [];
    const values: ReadingValue[] = [];
    const qualities: Quality[] | null = g.notGood[s] ? [] : null;
    for (let j = from; j < to; j++) {
      const i = g.order[j]!;
      tsOffsets.push(c.ts[i]! - base);
      seqOffsets.push(i);
      qualities?.push(QUALITIES[c.quality[i]!]!);
      if (kind !== "null") values.push(c.values[i]!);
    }
    out.push({
      device: g.device[s]!,
      point: g.point[s]!,
      unit: g.unit[s]! < 0 ? null : g.unit[s]!,
      tags: g.tags[s]!,
      kind,
      baseTs: base,
      tsOffsets,
      seqOffsets,
      qualities,
      values,
    });
  }
  return out;
}

export function toSeries(input: BatchInput): SeriesBatch {
  const c = input.columns ?? columnsOf(input.readings);
  const g = groupColumnSeries(c, input.columns !== undefined);
  return {
    schema: SCHEMA_VERSION,
    gateway: input.gateway,
    firstSeq: input.firstSeq,
    count: c.ts.length,
    strings: g.strings,
    series: seriesOfColumns(g, c),
  };
}

export class BatchFormatError extends Error {
  override name = "BatchFormatError";
}

/** Back to readings in sequence order; checks that the series cover 0..count-1 exactly once. */
export function fromSeries(batch: SeriesBatch): DecodedBatch {
  const out: (Reading | undefined)[] = new Array<Reading | undefined>(batch.count).fill(undefined);
  let filled = 0;
  const name = (i: number) => {
    const s = batch.strings[i];
    if (s === undefined)
      throw new BatchFormatError(`string index ${i} out of range (${batch.strings.length} strings)`);
    return s;
  };
  for (const s of batch.series) {
    const n = s.seqOffsets.length;
    if (
      s.tsOffsets.length !== n ||
      (s.qualities && s.qualities.length !== n) ||
      (s.kind !== "null" && s.values.length !== n)
    ) {
      throw new BatchFormatError("a series has vectors of different lengths");
    }
    const device = name(s.device);
    const point = name(s.point);
    const unit = s.unit === null ? undefined : name(s.unit);
    const tags = s.tags ? Object.fromEntries(s.tags) : undefined;
    for (let i = 0; i < n; i++) {
      const at = s.seqOffsets[i]!;
      if (at >= batch.count || out[at] !== undefined)
        throw new BatchFormatError(`sequence offset ${at} is out of range or repeated`);
      const r: Reading = {
        device,
        point,
        ts: s.baseTs + s.tsOffsets[i]!,
        value: s.kind === "null" ? null : s.values[i]!,
        quality: s.qualities ? s.qualities[i]! : "good",
      };
      if (unit !== undefined) r.unit = unit;
      if (tags) r.tags = { ...tags };
      out[at] = r;
      filled++;
    }
  }
  if (filled !== batch.count)
    throw new BatchFormatError(`the series do not cover all ${batch.count} readings`);
  return {
    schema: batch.schema,
    gateway: batch.gateway,
    firstSeq: batch.firstSeq,
    readings: out as Reading[],
  };
}
