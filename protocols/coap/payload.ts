// A CoAP payload to readings: the parser is chosen by the Content-Format (text/plain, JSON, CBOR,
// SenML JSON, SenML CBOR; RFC 8428 for SenML: base name, base time, base unit, base value, relative
// times); each point of the resource then takes its value from the parsed document.
import { decode as cborDecode } from "cborg";
import type { ReadingValue } from "../adapter.js";
import { FALSE_WORDS, notAScalar, preview, scalarValue, TRUE_WORDS } from "../payload-values.js";
import type { CoapPointConfig } from "./schema.js";

/** Why a payload did not become readings; `reason` labels the reject counter. */
export class PayloadError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export type Format = "text" | "octets" | "json" | "cbor" | "senml+json" | "senml+cbor";

/** Content-Format as the coap package reports it (a registered name, or the number) to our format. */
export function formatOf(contentFormat: unknown): Format | null {
  switch (contentFormat) {
    case undefined:
    case null:
    case "text/plain":
    case 0:
      return "text";
    case "application/octet-stream":
    case 42:
      return "octets";
    case "application/json":
    case 50:
      return "json";
    case "application/cbor":
    case 60:
      return "cbor";
    case "application/senml+json":
    case 110:
      return "senml+json";
    case "application/senml+cbor":
    case 112:
      return "senml+cbor";
  }
  return null;
}

/** The Content-Format number of a format (for requests and notifications we send). */
export const FORMAT_NUMBER: Record<Format, number> = {
  text: 0,
  octets: 42,
  json: 50,
  cbor: 60,
  "senml+json": 110,
  "senml+cbor": 112,
};

export interface SenmlRecord {
  name: string;
  /** ms since the epoch. */
  ts: number;
  value: ReadingValue;
  unit?: string;
}

export type Parsed =
  | { format: "text"; text: string; bytes: Uint8Array }
  | { format: "octets"; bytes: Uint8Array }
  | { format: "json" | "cbor"; doc: unknown; bytes: Uint8Array }
  | { format: "senml"; records: SenmlRecord[] };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function utf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new PayloadError("bad_utf8", "the payload is not UTF-8 text");
  }
}

function cbor(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new PayloadError("bad_cbor", "not CBOR: the payload is empty");
  try {
    return cborDecode(bytes, { useMaps: true });
  } catch (e) {
    throw new PayloadError("bad_cbor", `not CBOR: ${(e as Error).message}`);
  }
}

function json(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(utf8(bytes));
  } catch (e) {
    if (e instanceof PayloadError) throw e;
    throw new PayloadError("bad_json", `not JSON: ${(e as Error).message}`);
  }
}

export function parsePayload(format: Format, bytes: Uint8Array, now = Date.now()): Parsed {
  switch (format) {
    case "text":
      return { format, text: utf8(bytes), bytes };
    case "octets":
      return { format, bytes };
    case "json":
      return { format, doc: json(bytes), bytes };
    case "cbor":
      return { format, doc: cbor(bytes), bytes };
    case "senml+json":
      return { format: "senml", records: resolveSenml(json(bytes), false, now) };
    case "senml+cbor":
      return { format: "senml", records: resolveSenml(cbor(bytes), true, now) };
  }
}

// RFC 8428 section 6: the CBOR labels of the SenML fields.
const CBOR_LABELS: Record<string, string> = {
  "-1": "bver",
  "-2": "bn",
  "-3": "bt",
  "-4": "bu",
  "-5": "bv",
  "-6": "bs",
  "0": "n",
  "1": "u",
  "2": "v",
  "3": "vs",
  "4": "vb",
  "5": "s",
  "6": "t",
  "7": "ut",
  "8": "vd",
};

function senmlFields(raw: unknown, isCbor: boolean, i: number): Record<string, unknown> {
  const entries: [string, unknown][] =
    raw instanceof Map
      ? [...raw.entries()].map(([k, v]) => [String(k), v])
      : raw !== null && typeof raw === "object" && !Array.isArray(raw)
        ? Object.entries(raw)
        : [];
  if (entries.length === 0) throw new PayloadError("bad_senml", `SenML record ${i} is not a map`);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[isCbor ? (CBOR_LABELS[k] ?? k) : k] = v;
  return out;
}

const REL_TIME_LIMIT = 2 ** 28;

/** SenML records resolved (RFC 8428 section 4.6): full names, absolute times, units and values. */
export function resolveSenml(doc: unknown, isCbor: boolean, now = Date.now()): SenmlRecord[] {
  if (!Array.isArray(doc)) throw new PayloadError("bad_senml", "SenML is an array of records");
  if (doc.length === 0) throw new PayloadError("bad_senml", "the SenML pack has no record");
  let bn = "";
  let bt = 0;
  let bu: string | undefined;
  let bv = 0;
  const out: SenmlRecord[] = [];
  doc.forEach((raw, i) => {
    const r = senmlFields(raw, isCbor, i);
    const str = (key: string): string | undefined => {
      const v = r[key];
      if (v === undefined) return undefined;
      if (typeof v !== "string") throw new PayloadError("bad_senml", `SenML record ${i}: ${key} is not text`);
      return v;
    };
    const num = (key: string): number | undefined => {
      const v = r[key];
      if (v === undefined) return undefined;
      if (typeof v !== "number" || !Number.isFinite(v))
        throw new PayloadError("bad_senml", `SenML record ${i}: ${key} is not a number`);
      return v;
    };
    if (r.bver !== undefined && (typeof r.bver !== "number" || r.bver > 10))
      throw new PayloadError("bad_senml", `SenML record ${i}: unsupported version ${String(r.bver)}`);
    bn = str("bn") ?? bn;
    bt = num("bt") ?? bt;
    bu = str("bu") ?? bu;
    bv = num("bv") ?? bv;
    const name = bn + (str("n") ?? "");
    const values: ReadingValue[] = [];
    const v = num("v");
    if (v !== undefined) values.push(v + bv);
    const vs = str("vs");
    if (vs !== undefined) values.push(vs);
    if (r.vb !== undefined) {
      if (typeof r.vb !== "boolean")
        throw new PayloadError("bad_senml", `SenML record ${i}: vb is not a boolean`);
      values.push(r.vb);
    }
    if (r.vd !== undefined) {
      if (r.vd instanceof Uint8Array) values.push(new Uint8Array(r.vd));
      else if (typeof r.vd === "string" && /^[A-Za-z0-9_-]*$/.test(r.vd))
        values.push(new Uint8Array(Buffer.from(r.vd, "base64url")));
      else throw new PayloadError("bad_senml", `SenML record ${i}: vd is not base64url data`);
    }
    if (values.length === 0) {
      // A record with only a sum, or base fields only (a header record): it carries no reading.
      if (r.s !== undefined || r.n === undefined) return;
      throw new PayloadError("bad_senml", `SenML record ${i} (${name}) has no value`);
    }
    if (values.length > 1)
      throw new PayloadError("bad_senml", `SenML record ${i} (${name}) has several values`);
    if (name === "") throw new PayloadError("bad_senml", `SenML record ${i} has no name`);
    const t = bt + (num("t") ?? 0);
    // Resolved times below 2^28 are relative to now (RFC 8428 section 4.5.3); seconds, to ms.
    const ts = t < REL_TIME_LIMIT ? now + t * 1000 : t * 1000;
    const unit = str("u") ?? bu;
    const rec: SenmlRecord = { name, ts: Math.round(ts), value: values[0]! };
    if (unit !== undefined) rec.unit = unit;
    out.push(rec);
  });
  return out;
}

/** Whether a resolved SenML name carries the point: its `senml` name, or its name after the last ':' or '/'. */
export function senmlMatches(point: CoapPointConfig, name: string): boolean {
  const want = point.senml ?? point.name;
  if (name === want) return true;
  if (point.senml !== undefined) return false;
  const cut = Math.max(name.lastIndexOf(":"), name.lastIndexOf("/"));
  return cut >= 0 && name.slice(cut + 1) === want;
}

type Segment = string | number;

/** Parsed field paths: they come from the config, so the map stays as small as it is. */
const segmentCache = new Map<string, Segment[]>();

function segments(path: string): Segment[] {
  let out = segmentCache.get(path);
  if (out === undefined) segmentCache.set(path, (out = parseSegments(path)));
  return out;
}

function parseSegments(path: string): Segment[] {
  const out: Segment[] = [];
  const re = /\.?([A-Za-z0-9_$-]+)|\[(\d+)\]|\["([^"]*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) out.push(m[1] ?? (m[2] !== undefined ? Number(m[2]) : m[3]!));
  return out;
}

function walk(doc: unknown, path: Segment[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (typeof seg === "number") cur = Array.isArray(cur) ? cur[seg] : undefined;
    else if (cur instanceof Map) cur = cur.get(seg);
    else cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
  }
  return cur;
}

function fromText(kind: "number" | "boolean" | "string", text: string): ReadingValue {
  if (kind === "string") return text;
  const t = text.trim();
  if (kind === "boolean") {
    if (TRUE_WORDS.has(t.toLowerCase())) return true;
    if (FALSE_WORDS.has(t.toLowerCase())) return false;
    throw new PayloadError("not_a_boolean", `not a boolean: ${preview(t)}`);
  }
  const n = t === "" ? NaN : Number(t);
  if (!Number.isFinite(n)) throw new PayloadError("not_a_number", `not a number: ${preview(t)}`);
  return n;
}

function fromDoc(kind: "number" | "boolean" | "string", v: unknown, what: string): ReadingValue {
  if (typeof v === "bigint") v = Number(v);
  if (kind === "number" && typeof v === "number" && Number.isFinite(v)) return v;
  if (kind === "boolean" && typeof v === "boolean") return v;
  if (kind === "string" && typeof v === "string") return v;
  if (typeof v === "string" && kind !== "string") return fromText(kind, v);
  throw new PayloadError(
    `not_a_${kind}`,
    `${what} is not a ${kind}: ${preview(JSON.stringify(v) ?? String(v))}`,
  );
}

function scalar(v: unknown, what: string): ReadingValue {
  const value = scalarValue(v);
  if (value === undefined) throw new PayloadError("not_a_scalar", notAScalar(v, what));
  return value;
}

/** A point's value from a non-SenML payload. */
export function pointValue(
  point: CoapPointConfig,
  parsed: Exclude<Parsed, { format: "senml" }>,
): ReadingValue {
  const d = point.decode;
  if (d === "raw") return new Uint8Array(parsed.bytes);
  if (typeof d === "object") {
    if (parsed.format !== "json" && parsed.format !== "cbor")
      throw new PayloadError(
        "wrong_format",
        `point ${point.name} reads field ${d.json} of a JSON or CBOR payload`,
      );
    const found = walk(parsed.doc, segments(d.json));
    if (found === undefined) throw new PayloadError("missing_field", `no field ${d.json}`);
    return scalar(found, `field ${d.json}`);
  }
  switch (parsed.format) {
    case "text":
      return fromText(d, parsed.text);
    case "octets":
      return fromText(d, utf8(parsed.bytes));
    case "json":
    case "cbor":
      return fromDoc(d, parsed.doc, `the ${parsed.format.toUpperCase()} document`);
  }
}

/** A number as the point's scale and offset make it; other values pass. */
export function scaled(point: CoapPointConfig, v: ReadingValue): ReadingValue {
  if (typeof v !== "number" || (point.scale === 1 && point.offset === 0)) return v;
  return v * point.scale + point.offset;
}
