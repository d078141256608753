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

/** Whether a reading at `ts` can join series `s` (its offset from the base fits a uint32). */
function fits(s: Series, ts: number): boolean {
  return ts >= s.baseTs && ts - s.baseTs <= MAX_OFFSET;
}

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

/** An open series and what tells it apart from the others of its device and point. */
interface OpenSeries {
  s: Series;
  kind: ValueKind;
  unit: string | undefined;
  tags: string;
}

/** Groups readings, added in sequence order, into series. */
class SeriesGrouping {
  readonly names = new StringTable();
  readonly series: Series[] = [];
  // By device, then point (a batch's strings repeat, so each lookup hashes a string once), then a
  // short list told apart by kind, unit and tags.
  private readonly open = new Map<string, Map<string, OpenSeries[]>>();
  private count = 0;

  /** The open series of a device and point (to pass to add). */
  candidates(device: string, point: string): OpenSeries[] {
    let points = this.open.get(device);
    if (points === undefined) this.open.set(device, (points = new Map()));
    let candidates = points.get(point);
    if (candidates === undefined) points.set(point, (candidates = []));
    return candidates;
  }

  add(
    candidates: OpenSeries[],
    device: string,
    point: string,
    unit: string | undefined,
    tk: string,
    ts: number,
    value: ReadingValue,
    quality: Quality,
  ): OpenSeries {
    const kind = valueKind(value);
    let entry: OpenSeries | undefined;
    for (const c of candidates)
      if (c.kind === kind && c.unit === unit && c.tags === tk) {
        entry = c;
        break;
      }
    const s = entry?.s;
    // uint32 timestamp offsets: a reading earlier than its series' base, or more than 49 days after
    // it, starts a new series of the same point.
    if (s !== undefined && fits(s, ts)) {
      this.push(s, kind, ts, value, quality);
      return entry!;
    }
    const names = this.names;
    // A new series holds its first reading from the start: vectors made empty and pushed to would
    // each get room for 17, and in a batch of many points most series hold one reading.
    const fresh: Series = {
      device: names.intern(device),
      point: names.intern(point),
      unit: unit === undefined ? null : names.intern(unit),
      tags: tk ? (JSON.parse(tk) as [string, string][]) : null,
      kind,
      baseTs: ts,
      tsOffsets: [0],
      seqOffsets: [this.count++],
      qualities: quality === "good" ? null : [quality],
      values: kind === "null" ? [] : [value],
    };
    this.series.push(fresh);
    if (entry) {
      entry.s = fresh;
      return entry;
    }
    const open: OpenSeries = { s: fresh, kind, unit, tags: tk };
    candidates.push(open);
    return open;
  }

  private push(s: Series, kind: ValueKind, ts: number, value: ReadingValue, quality: Quality): void {
    if (quality !== "good" && s.qualities === null) s.qualities = s.tsOffsets.map(() => "good");
    s.tsOffsets.push(ts - s.baseTs);
    s.seqOffsets.push(this.count++);
    s.qualities?.push(quality);
    if (kind !== "null") s.values.push(value);
  }

  /** Adds a good reading to `e`'s open series if it fits there (what `add` would do); false if not. */
  tryAppend(e: OpenSeries, ts: number, value: ReadingValue): boolean {
    if (e.s.qualities !== null || !fits(e.s, ts) || valueKind(value) !== e.kind) return false;
    this.push(e.s, e.kind, ts, value, "good");
    return true;
  }
}

function groupReadings(g: SeriesGrouping, readings: readonly Reading[]): void {
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i]!;
    g.add(
      g.candidates(r.device, r.point),
      r.device,
      r.point,
      r.unit,
      tagsKey(r.tags),
      r.ts,
      r.value,
      r.quality,
    );
  }
}

/**
 * The same grouping, looking each stored series up once per batch rather than once per reading,
 * and adding a good reading straight to the series its stored series joined last.
 */
function groupColumns(g: SeriesGrouping, c: ReadingColumns): void {
  const known = new Map<SeriesDef, { candidates: OpenSeries[]; tk: string; last: OpenSeries | null }>();
  for (let i = 0; i < c.ts.length; i++) {
    const def = c.series[i]!;
    let k = known.get(def);
    if (k === undefined) {
      k = { candidates: g.candidates(def.device, def.point), tk: tagsKey(def.tags), last: null };
      known.set(def, k);
    }
    if (k.last !== null && c.quality[i] === 0 && g.tryAppend(k.last, c.ts[i]!, c.values[i]!)) continue;
    k.last = g.add(
      k.candidates,
      def.device,
      def.point,
      def.unit,
      k.tk,
      c.ts[i]!,
      c.values[i]!,
      QUALITIES[c.quality[i]!]!,
    );
  }
}

export function toSeries(input: BatchInput): SeriesBatch {
  const g = new SeriesGrouping();
  if (input.columns) groupColumns(g, input.columns);
  else groupReadings(g, input.readings);
  const count = input.columns ? input.columns.ts.length : input.readings.length;
  return {
    schema: SCHEMA_VERSION,
    gateway: input.gateway,
    firstSeq: input.firstSeq,
    count,
    strings: g.names.strings,
    series: g.series,
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
