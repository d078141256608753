// Payload decoders: a payload (and, for JSON and MessagePack, the document parsed once per message
// and shared by every point on its topic) to a reading value and, optionally, a source timestamp.
import { decode as msgpackDecode } from "@msgpack/msgpack";
import type { MqttDeviceConfig } from "./schema.js";
import type { ReadingValue } from "../adapter.js";
import { FALSE_WORDS, notAScalar, preview, scalarValue, TRUE_WORDS } from "../payload-values.js";

export type DecodeSpec = MqttDeviceConfig["points"][number]["decode"];

/** Why a payload did not become a reading; the reason is what the reject counter is labelled with. */
export class DecodeError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** One message's parsed documents, shared by the points of its topic. */
export class ParsedPayload {
  private json: { ok: true; doc: unknown } | { ok: false; err: string } | undefined;
  private msgpack: { ok: true; doc: unknown } | { ok: false; err: string } | undefined;

  constructor(readonly bytes: Buffer) {}

  jsonDoc(): unknown {
    if (this.json === undefined) {
      try {
        this.json = { ok: true, doc: JSON.parse(utf8(this.bytes)) };
      } catch (e) {
        this.json = { ok: false, err: e instanceof DecodeError ? e.message : (e as Error).message };
      }
    }
    if (!this.json.ok) throw new DecodeError("bad_json", `not JSON: ${this.json.err}`);
    return this.json.doc;
  }

  msgpackDoc(): unknown {
    if (this.msgpack === undefined) {
      try {
        this.msgpack = { ok: true, doc: msgpackDecode(this.bytes, { useBigInt64: true }) };
      } catch (e) {
        this.msgpack = { ok: false, err: (e as Error).message };
      }
    }
    if (!this.msgpack.ok) throw new DecodeError("bad_msgpack", `not MessagePack: ${this.msgpack.err}`);
    return this.msgpack.doc;
  }
}

export interface Decoded {
  value: ReadingValue;
  /** Source timestamp from the payload, ms. */
  ts?: number;
}

export type PointDecoder = (payload: ParsedPayload) => Decoded;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

function utf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new DecodeError("bad_utf8", "not UTF-8 text");
  }
}

export function compileDecoder(spec: DecodeSpec): PointDecoder {
  if (typeof spec === "string") {
    switch (spec) {
      case "number":
        return (p) => ({ value: parseNumber(utf8(p.bytes)) });
      case "boolean":
        return (p) => ({ value: parseBoolean(utf8(p.bytes)) });
      case "string":
        return (p) => ({ value: utf8(p.bytes) });
      case "raw":
        // A copy: the payload may be a slice of a larger socket buffer that should not stay alive.
        return (p) => ({ value: new Uint8Array(p.bytes) });
      case "msgpack":
        return (p) => ({ value: scalar(p.msgpackDoc(), "the MessagePack document") });
    }
  }
  const isJson = "json" in spec;
  const path = compilePath(isJson ? spec.json : spec.msgpack);
  const tsPath = spec.ts === undefined ? undefined : compilePath(spec.ts);
  const label = isJson ? spec.json : spec.msgpack;
  return (p) => {
    const doc = isJson ? p.jsonDoc() : p.msgpackDoc();
    const found = walk(doc, path);
    if (found === undefined) throw new DecodeError("missing_field", `no field ${label}`);
    const out: Decoded = { value: scalar(found, `field ${label}`) };
    if (tsPath !== undefined) {
      const ts = timestamp(walk(doc, tsPath));
      if (ts !== undefined) out.ts = ts;
    }
    return out;
  };
}

function parseNumber(text: string): number {
  const t = text.trim();
  const n = t === "" ? NaN : Number(t);
  if (!Number.isFinite(n)) throw new DecodeError("not_a_number", `not a number: ${preview(t)}`);
  return n;
}

function parseBoolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (TRUE_WORDS.has(t)) return true;
  if (FALSE_WORDS.has(t)) return false;
  throw new DecodeError("not_a_boolean", `not a boolean: ${preview(t)}`);
}

function scalar(v: unknown, what: string): ReadingValue {
  const value = scalarValue(v);
  if (value === undefined) throw new DecodeError("not_a_scalar", notAScalar(v, what));
  return value;
}

/** The range of a JavaScript Date, in ms: what every codec carries. */
const MAX_TS_MS = 8.64e15;

/**
 * A source timestamp in whole milliseconds (a fraction is rounded: the FlatBuffers codec carries
 * integers only), or undefined (the arrival time is used) for anything else or beyond a Date's range.
 */
function timestamp(v: unknown): number | undefined {
  let ms: number | undefined;
  if (typeof v === "number") ms = v;
  else if (typeof v === "bigint") ms = Number(v);
  else if (typeof v === "string") ms = Date.parse(v);
  if (ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > MAX_TS_MS) return undefined;
  // + 0: -0 (a rounded small negative) is 0
  return Math.round(ms) + 0;
}

type Segment = string | number;

/** `a.b`, `values[2].v`, `["odd key"]` into segments. The schema has checked the shape. */
export function compilePath(path: string): Segment[] {
  const out: Segment[] = [];
  const re = /\.?([A-Za-z0-9_$-]+)|\[(\d+)\]|\["([^"]*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(path)) !== null) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(m[3]!);
  }
  return out;
}

function walk(doc: unknown, path: Segment[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    if (typeof seg === "number") {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[seg];
    } else if (cur instanceof Map) {
      cur = cur.get(seg);
    } else {
      if (!Object.hasOwn(cur, seg)) return undefined;
      cur = (cur as Record<string, unknown>)[seg];
    }
  }
  return cur;
}
