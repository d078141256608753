// MessagePack encoding of the same logical batch as the FlatBuffers one, with short keys:
// { v: schema, g: gateway, f: first_seq, n: count, s: [strings],
//   r: [ { d: device, p: point, u?: unit, a?: [[key, value]], k: kind, b: base_ts_ms,
//          t: [ts offsets], o: [seq offsets], q?: [quality 0|1|2], x?: [values] } ] }
// kind k: 0 number, 1 integer (int64), 2 boolean, 3 string, 4 bytes (bin), 5 no value.
// Numbers are float64 on the wire except whole ones, which the encoder writes as the shortest
// integer; a decoder reads kind 0 values as float64 either way (so -0 arrives as 0).
import { createRequire } from "node:module";
import type { Decoder, Encoder } from "@msgpack/msgpack";
import type { ValueKind } from "../../protocols/adapter.js";
import {
  BatchFormatError,
  fromSeries,
  QUALITIES,
  toSeries,
  type BatchInput,
  type DecodedBatch,
  type Series,
} from "./series.js";

const KINDS: readonly ValueKind[] = ["number", "integer", "boolean", "string", "bytes", "null"];

const require = createRequire(import.meta.url);
let coders: { encoder: Encoder; decoder: Decoder } | undefined;

/** @msgpack/msgpack, loaded on first use: a gateway on another codec never loads it. */
function msgpack(): { encoder: Encoder; decoder: Decoder } {
  if (coders === undefined) {
    const lib = require("@msgpack/msgpack") as typeof import("@msgpack/msgpack");
    // bigint goes out as int64/uint64.
    coders = {
      encoder: new lib.Encoder({ useBigInt64: true, ignoreUndefined: true }),
      decoder: new lib.Decoder({ useBigInt64: true }),
    };
  }
  return coders;
}

interface WireSeries {
  d: number;
  p: number;
  u?: number;
  a?: [string, string][];
  k: number;
  b: number;
  t: number[];
  o: number[];
  q?: number[];
  x?: unknown[];
}

export function encodeMsgpack(input: BatchInput): Uint8Array {
  const batch = toSeries(input);
  const r: WireSeries[] = batch.series.map((s) => ({
    d: s.device,
    p: s.point,
    u: s.unit ?? undefined,
    a: s.tags ?? undefined,
    k: KINDS.indexOf(s.kind),
    b: s.baseTs,
    t: s.tsOffsets,
    o: s.seqOffsets,
    q: s.qualities ? s.qualities.map((q) => QUALITIES.indexOf(q)) : undefined,
    x: s.kind === "null" ? undefined : s.values,
  }));
  return msgpack().encoder.encode({
    v: batch.schema,
    g: batch.gateway,
    f: batch.firstSeq,
    n: batch.count,
    s: batch.strings,
    r,
  });
}

export function decodeMsgpack(bytes: Uint8Array): DecodedBatch {
  let raw: unknown;
  try {
    raw = msgpack().decoder.decode(bytes);
  } catch (e) {
    throw new BatchFormatError(`corrupt MessagePack batch: ${(e as Error).message}`);
  }
  const m = raw as { v?: unknown; g?: unknown; f?: unknown; n?: unknown; s?: unknown; r?: unknown };
  if (
    typeof m !== "object" ||
    m === null ||
    typeof m.g !== "string" ||
    !Array.isArray(m.s) ||
    !Array.isArray(m.r)
  ) {
    throw new BatchFormatError("not an iggy-edge MessagePack batch (expected a map with g, s, r)");
  }
  const num = (v: unknown) => (typeof v === "bigint" ? Number(v) : Number(v));
  const series: Series[] = (m.r as WireSeries[]).map((w) => {
    const kind = KINDS[w.k];
    if (kind === undefined || !Array.isArray(w.t) || !Array.isArray(w.o))
      throw new BatchFormatError("malformed series");
    const values = (w.x ?? []).map((v) => {
      if (kind === "integer") return typeof v === "bigint" ? v : BigInt(v as number);
      if (kind === "number") return num(v);
      return v as string | boolean | Uint8Array;
    });
    return {
      device: w.d,
      point: w.p,
      unit: w.u ?? null,
      tags: w.a ?? null,
      kind,
      baseTs: num(w.b),
      tsOffsets: w.t.map(num),
      seqOffsets: w.o.map(num),
      qualities: w.q ? w.q.map((q) => QUALITIES[q] ?? "bad") : null,
      values,
    };
  });
  return fromSeries({
    schema: num(m.v),
    gateway: m.g,
    firstSeq: num(m.f),
    count: num(m.n),
    strings: m.s as string[],
    series,
  });
}
