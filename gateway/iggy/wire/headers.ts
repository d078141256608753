// User headers: a run of key/value TLVs (kind u8, length u32, bytes). Both generations use it.
import type { HeaderValue, UserHeaders } from "../types.js";
import { LayoutError, Reader, Writer } from "./bytes.js";

const KIND_CODE = {
  raw: 1,
  string: 2,
  bool: 3,
  int8: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  int128: 8,
  uint8: 9,
  uint16: 10,
  uint32: 11,
  uint64: 12,
  uint128: 13,
  float32: 14,
  float64: 15,
} as const satisfies Record<HeaderValue["kind"], number>;

const FIXED_SIZE: Record<number, number> = {
  3: 1,
  4: 1,
  5: 2,
  6: 4,
  7: 8,
  8: 16,
  9: 1,
  10: 2,
  11: 4,
  12: 8,
  13: 16,
  14: 4,
  15: 8,
};

/** The maximum a server accepts for one message's headers block. */
export const MAX_USER_HEADERS_BYTES = 100_000;

function valueBytes(v: HeaderValue): Buffer {
  switch (v.kind) {
    case "raw":
      return Buffer.from(v.value);
    case "string":
      return Buffer.from(v.value, "utf8");
    case "bool":
      return Buffer.from([v.value ? 1 : 0]);
    case "int8":
    case "uint8":
    case "int16":
    case "uint16":
    case "int32":
    case "uint32": {
      const size = FIXED_SIZE[KIND_CODE[v.kind]]!;
      const b = Buffer.alloc(size);
      if (!Number.isInteger(v.value)) throw new RangeError(`header value ${v.value} is not an integer`);
      if (v.kind.startsWith("u")) b.writeUIntLE(v.value, 0, size);
      else b.writeIntLE(v.value, 0, size);
      return b;
    }
    case "float32": {
      const b = Buffer.alloc(4);
      b.writeFloatLE(v.value);
      return b;
    }
    case "float64": {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(v.value);
      return b;
    }
    case "int64":
    case "uint64": {
      const b = Buffer.alloc(8);
      if (v.kind === "int64") b.writeBigInt64LE(v.value);
      else b.writeBigUInt64LE(v.value);
      return b;
    }
    case "int128":
    case "uint128": {
      const n = v.kind === "int128" ? BigInt.asUintN(128, v.value) : v.value;
      if (n < 0n || n >> 128n !== 0n) throw new RangeError(`header value ${v.value} does not fit ${v.kind}`);
      const b = Buffer.alloc(16);
      b.writeBigUInt64LE(BigInt.asUintN(64, n));
      b.writeBigUInt64LE(n >> 64n, 8);
      return b;
    }
  }
}

function field(w: Writer, kind: number, b: Buffer, what: string): void {
  if (b.length < 1 || b.length > 255) throw new RangeError(`${what} must be 1..255 bytes, got ${b.length}`);
  w.u8(kind).u32(b.length).bytes(b);
}

/** Encodes headers; throws RangeError when a key or value cannot be carried. */
export function encodeHeaders(headers: UserHeaders | undefined): Buffer {
  if (!headers || headers.size === 0) return Buffer.alloc(0);
  const w = new Writer(64);
  for (const [key, value] of headers) {
    field(w, 2, Buffer.from(key, "utf8"), `header key "${key}"`);
    field(w, KIND_CODE[value.kind], valueBytes(value), `header "${key}" value`);
  }
  const out = w.finish();
  if (out.length > MAX_USER_HEADERS_BYTES) {
    throw new RangeError(`user headers take ${out.length} bytes, more than ${MAX_USER_HEADERS_BYTES}`);
  }
  return out;
}

function decodeValue(kind: number, b: Buffer): HeaderValue {
  const fixed = FIXED_SIZE[kind];
  if (fixed !== undefined && b.length !== fixed) {
    throw new LayoutError(`header value of kind ${kind} must be ${fixed} bytes, got ${b.length}`);
  }
  switch (kind) {
    case 1:
      return { kind: "raw", value: Buffer.from(b) };
    case 2:
      return { kind: "string", value: b.toString("utf8") };
    case 3:
      return { kind: "bool", value: b[0] !== 0 };
    case 4:
      return { kind: "int8", value: b.readInt8(0) };
    case 5:
      return { kind: "int16", value: b.readInt16LE(0) };
    case 6:
      return { kind: "int32", value: b.readInt32LE(0) };
    case 7:
      return { kind: "int64", value: b.readBigInt64LE(0) };
    case 8:
      return {
        kind: "int128",
        value: BigInt.asIntN(128, b.readBigUInt64LE(0) | (b.readBigUInt64LE(8) << 64n)),
      };
    case 9:
      return { kind: "uint8", value: b.readUInt8(0) };
    case 10:
      return { kind: "uint16", value: b.readUInt16LE(0) };
    case 11:
      return { kind: "uint32", value: b.readUInt32LE(0) };
    case 12:
      return { kind: "uint64", value: b.readBigUInt64LE(0) };
    case 13:
      return { kind: "uint128", value: b.readBigUInt64LE(0) | (b.readBigUInt64LE(8) << 64n) };
    case 14:
      return { kind: "float32", value: b.readFloatLE(0) };
    case 15:
      return { kind: "float64", value: b.readDoubleLE(0) };
    default:
      throw new LayoutError(`unknown header value kind ${kind}`);
  }
}

function readField(r: Reader, what: string): { kind: number; bytes: Buffer } {
  const kind = r.u8(`${what} kind`);
  const len = r.u32(`${what} length`);
  if (kind === 0 || len < 1 || len > 255)
    throw new LayoutError(`${what}: kind ${kind} with length ${len} is invalid`);
  return { kind, bytes: r.bytes(len, what) };
}

/** Decodes a headers block; keys that are not of kind String are read as UTF-8 all the same. */
export function decodeHeaders(block: Buffer): UserHeaders {
  const out: UserHeaders = new Map();
  const r = new Reader(block, "user headers");
  while (r.remaining > 0) {
    const key = readField(r, "header key");
    const value = readField(r, "header value");
    out.set(key.bytes.toString("utf8"), decodeValue(value.kind, value.bytes));
  }
  return out;
}
