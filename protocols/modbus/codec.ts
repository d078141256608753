// Modbus value codec: registers <-> values for every point type and the four byte/word orders.
// Pure functions, no I/O. Orders name the four bytes of a 32-bit value as they sit on the wire:
//   ABCD  big-endian bytes, big-endian words (the Modbus default; "high word first")
//   CDAB  big-endian bytes, words swapped ("low word first", pymodbus word_order="little")
//   BADC  bytes swapped inside each word, words big-endian
//   DCBA  fully little-endian
// The same rule extends to 64-bit values (CDAB reverses the order of all four words) and to 16-bit
// values (only the byte swap of BADC/DCBA applies). Strings keep ascending register order; BADC and
// DCBA put the low byte of each register first.
import type { ModbusType, ByteOrder } from "./points.js";

/** Registers a value of this type occupies (strings: `length`). */
export function registerCount(type: ModbusType, length?: number): number {
  switch (type) {
    case "bool":
    case "int16":
    case "uint16":
      return 1;
    case "int32":
    case "uint32":
    case "float32":
      return 2;
    case "int64":
    case "uint64":
    case "float64":
      return 4;
    case "string":
      if (length === undefined || length < 1) throw new Error("a string point needs length (registers)");
      return length;
  }
}

const swapsBytes = (order: ByteOrder) => order === "BADC" || order === "DCBA";
const swapsWords = (order: ByteOrder) => order === "CDAB" || order === "DCBA";

/** The value's bytes in big-endian (ABCD...) order, from `n` registers starting at `at`. */
export function canonicalBytes(
  regs: ArrayLike<number>,
  at: number,
  n: number,
  order: ByteOrder,
  out: Buffer = Buffer.allocUnsafe(n * 2),
): Buffer {
  const sb = swapsBytes(order);
  const sw = swapsWords(order);
  for (let i = 0; i < n; i++) {
    const r = (regs[at + (sw ? n - 1 - i : i)] ?? 0) & 0xffff;
    out[2 * i] = sb ? r & 0xff : r >> 8;
    out[2 * i + 1] = sb ? r >> 8 : r & 0xff;
  }
  return out;
}

/** The registers that carry big-endian value bytes `bytes` in `order` (inverse of canonicalBytes). */
export function registersFromCanonical(bytes: Uint8Array, order: ByteOrder): number[] {
  const n = bytes.length >> 1;
  const regs = new Array<number>(n);
  const sb = swapsBytes(order);
  const sw = swapsWords(order);
  for (let i = 0; i < n; i++) {
    const hi = bytes[2 * i]!;
    const lo = bytes[2 * i + 1]!;
    regs[sw ? n - 1 - i : i] = sb ? (lo << 8) | hi : (hi << 8) | lo;
  }
  return regs;
}

export type RawValue = number | bigint | boolean | string;

export interface RegisterPointShape {
  type: ModbusType;
  order: ByteOrder;
  length?: number | undefined;
  bit?: number | undefined;
}

const utf8 = new TextDecoder("utf-8");
/** Decoding is synchronous, so one scratch buffer serves every numeric decode. */
const SCRATCH = Buffer.alloc(8);

/** Decodes the raw (unscaled) value of a register point from `regs[at..]`. */
export function decodeRegisters(regs: ArrayLike<number>, at: number, p: RegisterPointShape): RawValue {
  switch (p.type) {
    case "bool": {
      const r = (regs[at] ?? 0) & 0xffff;
      // A bit is numbered in the register's value (bit 0 = least significant), whatever the order.
      return p.bit !== undefined ? ((r >> p.bit) & 1) === 1 : r !== 0;
    }
    case "string": {
      const n = registerCount("string", p.length);
      const b = Buffer.allocUnsafe(n * 2);
      const sb = swapsBytes(p.order);
      for (let i = 0; i < n; i++) {
        const r = (regs[at + i] ?? 0) & 0xffff;
        b[2 * i] = sb ? r & 0xff : r >> 8;
        b[2 * i + 1] = sb ? r >> 8 : r & 0xff;
      }
      let end = b.indexOf(0);
      if (end < 0) end = b.length;
      return utf8.decode(b.subarray(0, end)).replace(/ +$/, "");
    }
    case "uint16":
    case "int16": {
      let r = (regs[at] ?? 0) & 0xffff;
      if (swapsBytes(p.order)) r = ((r & 0xff) << 8) | (r >> 8);
      return p.type === "int16" && r > 0x7fff ? r - 0x10000 : r;
    }
    default: {
      const n = registerCount(p.type);
      const b = canonicalBytes(regs, at, n, p.order, SCRATCH);
      switch (p.type) {
        case "int32":
          return b.readInt32BE(0);
        case "uint32":
          return b.readUInt32BE(0);
        case "float32":
          return shortestFloat32(b.readFloatBE(0));
        case "int64":
          return b.readBigInt64BE(0);
        case "uint64":
          return b.readBigUInt64BE(0);
        case "float64":
          return b.readDoubleBE(0);
      }
    }
  }
  throw new Error(`unknown type ${String(p.type)}`);
}

const INT_RANGE: Record<string, [bigint, bigint]> = {
  int16: [-32768n, 32767n],
  uint16: [0n, 65535n],
  int32: [-2147483648n, 2147483647n],
  uint32: [0n, 4294967295n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
};

/** Thrown when a value cannot be encoded for a point (wrong type, out of the type's range, too long). */
export class EncodeError extends Error {
  override name = "EncodeError";
}

/**
 * Encodes a raw (already unscaled) value into registers. Integers given as non-integral numbers are
 * rounded to the nearest integer (the device's resolution); out-of-range values are refused.
 * For `bool` with `bit`, returns the single-bit value as register 0/1 (the caller read-modify-writes).
 */
export function encodeRegisters(value: RawValue, p: RegisterPointShape): number[] {
  switch (p.type) {
    case "bool": {
      const b = toBool(value);
      return [b ? 1 : 0];
    }
    case "string": {
      if (typeof value !== "string") throw new EncodeError(`expected a string, got ${describe(value)}`);
      const n = registerCount("string", p.length);
      const bytes = Buffer.from(value, "utf-8");
      if (bytes.length > n * 2) {
        throw new EncodeError(
          `string of ${bytes.length} bytes does not fit in ${n} registers (${n * 2} bytes)`,
        );
      }
      const padded = Buffer.alloc(n * 2);
      bytes.copy(padded);
      const regs = new Array<number>(n);
      const sb = swapsBytes(p.order);
      for (let i = 0; i < n; i++) {
        const hi = padded[2 * i]!;
        const lo = padded[2 * i + 1]!;
        regs[i] = sb ? (lo << 8) | hi : (hi << 8) | lo;
      }
      return regs;
    }
    case "float32":
    case "float64": {
      const v = toNumber(value);
      if (!Number.isFinite(v)) throw new EncodeError(`expected a finite number, got ${describe(value)}`);
      const b = Buffer.allocUnsafe(p.type === "float32" ? 4 : 8);
      if (p.type === "float32") {
        // Beyond the largest float32 by more than its rounding step: it would become Infinity.
        if (!Number.isFinite(Math.fround(v))) throw new EncodeError(`${v} is out of range for float32`);
        b.writeFloatBE(v, 0);
      } else b.writeDoubleBE(v, 0);
      return registersFromCanonical(b, p.order);
    }
    default: {
      const range = INT_RANGE[p.type]!;
      let big: bigint;
      if (typeof value === "bigint") big = value;
      else {
        const v = toNumber(value);
        if (!Number.isFinite(v)) throw new EncodeError(`expected a finite number, got ${describe(value)}`);
        big = BigInt(Math.round(v));
      }
      if (big < range[0] || big > range[1]) {
        throw new EncodeError(`${big} is out of range for ${p.type} (${range[0]}..${range[1]})`);
      }
      const n = registerCount(p.type);
      const b = Buffer.allocUnsafe(n * 2);
      if (n === 1) b.writeUInt16BE(Number(BigInt.asUintN(16, big)), 0);
      else if (n === 2) b.writeUInt32BE(Number(BigInt.asUintN(32, big)), 0);
      else b.writeBigUInt64BE(BigInt.asUintN(64, big), 0);
      return registersFromCanonical(b, p.order);
    }
  }
}

function describe(v: unknown): string {
  return typeof v === "string" ? `the string ${JSON.stringify(v)}` : `${typeof v} ${String(v)}`;
}

function toNumber(v: RawValue): number {
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return Number(v);
  throw new EncodeError(`expected a number, got ${describe(v)}`);
}

/** true/false, or the numbers 0/1. */
export function toBool(v: RawValue): boolean {
  if (typeof v === "boolean") return v;
  if ((typeof v === "number" || typeof v === "bigint") && (v == 0 || v == 1)) return v == 1;
  throw new EncodeError(`expected a boolean (or 0/1), got ${describe(v)}`);
}

/**
 * The reading value of a raw value: `raw * scale + offset` for numbers (float64), bigint kept for
 * unscaled 64-bit integers, booleans and strings as they are.
 */
/**
 * The shortest decimal that is the same float32: 20.499 rather than 20.499000549316406, the float64
 * spelling of the float32 nearest to 20.499. Nine significant digits always identify a float32.
 */
export function shortestFloat32(f: number): number {
  if (!Number.isFinite(f) || f === 0) return f;
  for (let digits = 1; digits < 9; digits++) {
    const d = Number(f.toPrecision(digits));
    if (Math.fround(d) === f) return d;
  }
  return Number(f.toPrecision(9));
}

export function toEngineering(
  raw: RawValue,
  scale: number,
  offset: number,
): number | bigint | boolean | string {
  if (typeof raw === "boolean" || typeof raw === "string") return raw;
  if (typeof raw === "bigint") return scale === 1 && offset === 0 ? raw : Number(raw) * scale + offset;
  return scale === 1 && offset === 0 ? raw : raw * scale + offset;
}

/** The raw value to encode for an engineering value: undoes scale and offset. */
export function fromEngineering(value: RawValue, type: ModbusType, scale: number, offset: number): RawValue {
  if (type === "bool" || type === "string") return value;
  if (scale === 1 && offset === 0) return value;
  if (scale === 0) throw new EncodeError("cannot write a point whose scale is 0");
  const v = toNumber(value);
  return (v - offset) / scale;
}
