// JSON: one Iggy message per reading, a flat object, the shape Iggy's sink connectors take with
// `schema = "json"` (each message becomes one row or point). Values that JSON cannot carry as they
// are: a 64-bit integer is written as an exact JSON number (it may exceed 2^53), NaN and the
// infinities as the strings "NaN", "Infinity", "-Infinity", bytes as base64; `type` says which.
//
// The encoder writes the bytes of what JSON.stringify writes for that object (key order fixed, a
// bigint as its digits), but from pieces: the escaped `,"device":..,"point":..,"ts":` of a series
// and the `,"quality":..,"unit":..}` ending are made once and kept as bytes, numbers are written
// digit by digit where that gives Number#toString's text. The batch goes into one buffer; each
// payload is a view of its slice.
import type { Reading, ReadingValue, ValueKind } from "../../protocols/adapter.js";
import { valueKind } from "../../protocols/adapter.js";
import { ByteSink } from "./json-bytes.js";
import { BatchFormatError, SCHEMA_VERSION, type BatchInput, type DecodedBatch } from "./series.js";

export interface JsonReading {
  gateway: string;
  seq: number;
  device: string;
  point: string;
  ts: number;
  type: ValueKind;
  value: unknown;
  quality: string;
  unit?: string;
  tags?: Record<string, string>;
}

const utf8 = (text: string): Uint8Array => Buffer.from(text, "utf8");

interface Ending {
  /** `,"quality":"good","unit":"degC"`: tags may follow. */
  open: Uint8Array;
  /** The same with the closing brace. */
  closed: Uint8Array;
}

/** Kept across batches; bounded so that a gateway with ever new point names cannot grow it forever. */
const MAX_CACHED = 20_000;
const heads = new Map<string, Map<string, Uint8Array>>();
const endings = new Map<string, Map<string | undefined, Ending>>();
let cached = 0;

function forget(): void {
  heads.clear();
  endings.clear();
  cached = 0;
}

/** `,"device":"..","point":"..","ts":` */
function head(device: string, point: string): Uint8Array {
  let points = heads.get(device);
  if (points === undefined) {
    if (cached >= MAX_CACHED) forget();
    points = new Map();
    heads.set(device, points);
  }
  let f = points.get(point);
  if (f === undefined) {
    if (++cached > MAX_CACHED) {
      forget();
      return head(device, point);
    }
    f = utf8(`,"device":${JSON.stringify(device)},"point":${JSON.stringify(point)},"ts":`);
    points.set(point, f);
  }
  return f;
}

function ending(quality: string, unit: string | undefined): Ending {
  let units = endings.get(quality);
  if (units === undefined) {
    if (cached >= MAX_CACHED) forget();
    units = new Map();
    endings.set(quality, units);
  }
  let e = units.get(unit);
  if (e === undefined) {
    if (++cached > MAX_CACHED) {
      forget();
      return ending(quality, unit);
    }
    const open = `,"quality":${JSON.stringify(quality)}${unit === undefined ? "" : `,"unit":${JSON.stringify(unit)}`}`;
    e = { open: utf8(open), closed: utf8(open + "}") };
    units.set(unit, e);
  }
  return e;
}

const TYPE_NUMBER = utf8(',"type":"number","value":');
const TYPE_INTEGER = utf8(',"type":"integer","value":');
const TYPE_BOOLEAN = utf8(',"type":"boolean","value":');
const TYPE_STRING = utf8(',"type":"string","value":');
const TYPE_BYTES = utf8(',"type":"bytes","value":"');
const TYPE_NULL = utf8(',"type":"null","value":null');
const TRUE = utf8("true");
const FALSE = utf8("false");
const TAGS = utf8(',"tags":');
const QUOTE = 0x22;
const CLOSE = 0x7d;
const MINUS = 0x2d;
const POINT = 0x2e;

const INT31 = 2 ** 31;

/** A millisecond timestamp: its leading digits and its last six as two small integers. */
function timestamp(sink: ByteSink, t: number): void {
  if (t >= 0 && t < INT31 * 1e6 && Number.isInteger(t)) {
    let high = Math.floor(t / 1e6);
    let low = t - high * 1e6;
    if (low < 0) {
      high -= 1;
      low += 1e6;
    }
    if (high === 0) sink.uint(low);
    else {
      sink.uint(high);
      sink.room(6);
      sink.digits(low, 6);
    }
  } else if (t - t === 0) sink.ascii(String(t));
  // A timestamp JSON cannot carry as a number is written as JSON.stringify writes it.
  else sink.ascii("null");
}

/**
 * A finite value with at most three decimals (as sensors and scaled registers give) is written
 * from its integer thousandths m: when m / 1000 gives back the same double, the decimal m/1000 is
 * the shortest text that reads back as v (two decimals of 10 digits or fewer are never within an
 * ulp of each other), which is Number#toString's, and so JSON.stringify's, text. Anything else
 * goes through Number#toString.
 */
function number(sink: ByteSink, v: number): void {
  const m = v * 1000;
  if (m > -INT31 && m < INT31 && Number.isInteger(m) && m / 1000 === v) {
    if (m < 0) sink.byte(MINUS);
    const a = (m < 0 ? -m : m) | 0;
    const frac = a % 1000;
    sink.uint((a - frac) / 1000);
    if (frac !== 0) {
      sink.byte(POINT);
      sink.room(3);
      if (frac % 10 !== 0) sink.digits(frac, 3);
      else if (frac % 100 !== 0) sink.digits(frac / 10, 2);
      else sink.digits(frac / 100, 1);
    }
  } else if (v - v === 0) sink.ascii(String(v));
  else sink.ascii(`"${v}"`);
}

function value(sink: ByteSink, v: ReadingValue): void {
  switch (typeof v) {
    case "number":
      sink.bytes(TYPE_NUMBER);
      number(sink, v);
      return;
    case "bigint":
      sink.bytes(TYPE_INTEGER);
      sink.ascii(v.toString());
      return;
    case "boolean":
      sink.bytes(TYPE_BOOLEAN);
      sink.bytes(v ? TRUE : FALSE);
      return;
    case "string":
      sink.bytes(TYPE_STRING);
      sink.utf8(JSON.stringify(v));
      return;
  }
  if (v === null) sink.bytes(TYPE_NULL);
  else if (v instanceof Uint8Array) {
    sink.bytes(TYPE_BYTES);
    sink.ascii(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64"));
    sink.byte(QUOTE);
  } else valueKind(v); // throws: not a reading value
}

const sink = new ByteSink();
let lastGateway: string | undefined;
let gatewayPrefix = utf8("");

/** One payload per reading, each a view of one buffer holding the batch. */
export function encodeJson(input: BatchInput): Uint8Array[] {
  const { readings, firstSeq } = input;
  const n = readings.length;
  if (input.gateway !== lastGateway) {
    gatewayPrefix = utf8(`{"gateway":${JSON.stringify(input.gateway)},"seq":`);
    lastGateway = input.gateway;
  }
  const prefix = gatewayPrefix;
  const ends = new Uint32Array(n);
  sink.at = 0;
  for (let i = 0; i < n; i++) {
    const r = readings[i]!;
    sink.bytes(prefix);
    const seq = firstSeq + i;
    if (seq >= 0 && seq < INT31 && Number.isInteger(seq)) sink.uint(seq);
    else sink.ascii(String(seq));
    sink.bytes(head(r.device, r.point));
    timestamp(sink, r.ts);
    value(sink, r.value);
    const e = ending(r.quality, r.unit);
    if (r.tags === undefined) sink.bytes(e.closed);
    else {
      sink.bytes(e.open);
      sink.bytes(TAGS);
      sink.utf8(JSON.stringify(r.tags));
      sink.byte(CLOSE);
    }
    ends[i] = sink.at;
  }
  const out = sink.take();
  const payloads = new Array<Uint8Array>(n);
  let at = 0;
  for (let i = 0; i < n; i++) {
    const end = ends[i]!;
    payloads[i] = new Uint8Array(out.buffer, at, end - at);
    at = end;
  }
  return payloads;
}

const BIG_INT_VALUE = /"type":"integer","value":(-?\d+)/;

export function decodeJsonReading(payload: Uint8Array): { gateway: string; seq: number; reading: Reading } {
  const text = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
  let o: JsonReading;
  try {
    o = JSON.parse(text) as JsonReading;
  } catch (e) {
    throw new BatchFormatError(`not a JSON reading: ${(e as Error).message}`);
  }
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.device !== "string" ||
    typeof o.point !== "string" ||
    typeof o.ts !== "number"
  ) {
    throw new BatchFormatError("not an iggy-edge JSON reading (expected device, point, ts)");
  }
  let value: ReadingValue;
  switch (o.type) {
    case "integer":
      value = BigInt(BIG_INT_VALUE.exec(text)?.[1] ?? String(o.value));
      break;
    case "bytes":
      value = new Uint8Array(Buffer.from(String(o.value), "base64"));
      break;
    case "number":
      value = typeof o.value === "string" ? Number(o.value) : (o.value as number);
      break;
    case "null":
      value = null;
      break;
    default:
      value = o.value as ReadingValue;
  }
  const reading: Reading = {
    device: o.device,
    point: o.point,
    ts: o.ts,
    value,
    quality: o.quality as Reading["quality"],
  };
  if (o.unit !== undefined) reading.unit = o.unit;
  if (o.tags !== undefined) reading.tags = o.tags;
  return { gateway: o.gateway, seq: o.seq, reading };
}

export function decodeJson(payloads: readonly Uint8Array[]): DecodedBatch {
  const decoded = payloads.map(decodeJsonReading);
  const first = decoded[0];
  return {
    schema: SCHEMA_VERSION,
    gateway: first?.gateway ?? "",
    firstSeq: first?.seq ?? 0,
    readings: decoded.map((d) => d.reading),
  };
}
