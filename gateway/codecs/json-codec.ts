// JSON: one Iggy message per reading, a flat object, the shape Iggy's sink connectors take with
// `schema = "json"` (each message becomes one row or point). Values that JSON cannot carry as they
// are: a 64-bit integer is written as an exact JSON number (it may exceed 2^53), NaN and the
// infinities as the strings "NaN", "Infinity", "-Infinity", bytes as base64; `type` says which.
import type { Reading, ReadingValue, ValueKind } from "../../protocols/adapter.js";
import { valueKind } from "../../protocols/adapter.js";
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

function jsonValue(v: ReadingValue): string {
  const kind = valueKind(v);
  if (kind === "integer") return (v as bigint).toString();
  if (kind === "bytes") return JSON.stringify(Buffer.from(v as Uint8Array).toString("base64"));
  if (kind === "number" && !Number.isFinite(v as number)) return JSON.stringify(String(v));
  return JSON.stringify(v);
}

export function encodeJsonReading(gateway: string, seq: number, r: Reading): string {
  // Built by hand so that a bigint goes out as an exact number; key order is fixed.
  let s = `{"gateway":${JSON.stringify(gateway)},"seq":${seq},"device":${JSON.stringify(r.device)},"point":${JSON.stringify(r.point)},"ts":${r.ts},"type":"${valueKind(r.value)}","value":${jsonValue(r.value)},"quality":"${r.quality}"`;
  if (r.unit !== undefined) s += `,"unit":${JSON.stringify(r.unit)}`;
  if (r.tags !== undefined) s += `,"tags":${JSON.stringify(r.tags)}`;
  return s + "}";
}

const encoder = new TextEncoder();

/** One payload per reading. */
export function encodeJson(input: BatchInput): Uint8Array[] {
  return input.readings.map((r, i) =>
    encoder.encode(encodeJsonReading(input.gateway, input.firstSeq + i, r)),
  );
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
