// A command's value made into the value an OPC-UA node of a given DataType takes, range checked
// before it leaves: the integer types' own ranges, Float's, and the point's declared write range.
// Pure (no node-opcua), so the rules are testable without a server.
import type { WriteValue } from "../adapter.js";

export const OPCUA_TYPES = [
  "Boolean",
  "SByte",
  "Byte",
  "Int16",
  "UInt16",
  "Int32",
  "UInt32",
  "Int64",
  "UInt64",
  "Float",
  "Double",
  "String",
] as const;
export type OpcuaType = (typeof OPCUA_TYPES)[number];

const INT_RANGES: Partial<Record<OpcuaType, [bigint, bigint]>> = {
  SByte: [-128n, 127n],
  Byte: [0n, 255n],
  Int16: [-32768n, 32767n],
  UInt16: [0n, 65535n],
  Int32: [-2147483648n, 2147483647n],
  UInt32: [0n, 4294967295n],
  Int64: [-(2n ** 63n), 2n ** 63n - 1n],
  UInt64: [0n, 2n ** 64n - 1n],
};
const FLOAT_MAX = 3.4028234663852886e38;

export class CoercionError extends Error {
  override name = "CoercionError";
}

/** The value to send: a JS number, boolean or string, or a bigint for Int64/UInt64. */
export type NodeValue = number | bigint | boolean | string;

export interface WriteRangeSpec {
  min?: number | undefined;
  max?: number | undefined;
}

/**
 * `value` (engineering units: the point's `scale`/`offset` are undone here) as the node's `type`
 * takes it. Throws CoercionError with a message naming `where`, the value and the violated range.
 */
export function coerceForWrite(
  where: string,
  type: OpcuaType,
  value: WriteValue,
  range: WriteRangeSpec = {},
  scale = 1,
  offset = 0,
): NodeValue {
  if (type === "Boolean") return toBoolean(where, value);
  if (type === "String") {
    if (typeof value === "string") return value;
    throw new CoercionError(
      `cannot write ${where}: a String node takes text, not ${typeof value} ${String(value)}`,
    );
  }
  const n = toNumeric(where, value);
  checkRange(where, n, range);
  const v = scale === 1 && offset === 0 ? n : (Number(n) - offset) / scale;
  if (type === "Float" || type === "Double") {
    const f = Number(v);
    if (!Number.isFinite(f))
      throw new CoercionError(`cannot write ${where}: ${String(value)} is not a finite number`);
    if (type === "Float" && Math.abs(f) > FLOAT_MAX) {
      throw new CoercionError(
        `cannot write ${where}: ${String(value)} is outside Float's range -${FLOAT_MAX}..${FLOAT_MAX}`,
      );
    }
    return f;
  }
  const [lo, hi] = INT_RANGES[type]!;
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else {
    if (!Number.isFinite(v) || !Number.isInteger(v)) {
      throw new CoercionError(`cannot write ${where}: ${type} takes whole numbers, not ${String(value)}`);
    }
    if (!Number.isSafeInteger(v)) {
      throw new CoercionError(
        `cannot write ${where}: ${String(value)} is not exact as a number; send it as a 64-bit integer`,
      );
    }
    b = BigInt(v);
  }
  if (b < lo || b > hi) {
    throw new CoercionError(
      `cannot write ${where}: ${String(value)} is outside ${type}'s range ${lo}..${hi}`,
    );
  }
  return type === "Int64" || type === "UInt64" ? b : Number(b);
}

function toBoolean(where: string, value: WriteValue): boolean {
  if (typeof value === "boolean") return value;
  if (value === 0 || value === 1 || value === 0n || value === 1n) return Boolean(value);
  if (value === "true" || value === "false") return value === "true";
  throw new CoercionError(
    `cannot write ${where}: a Boolean node takes true/false (or 1/0), not ${String(value)}`,
  );
}

function toNumeric(where: string, value: WriteValue): number | bigint {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new CoercionError(`cannot write ${where}: ${value} is not a finite number`);
    return value;
  }
  if (typeof value === "bigint") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  throw new CoercionError(
    `cannot write ${where}: expected a number, got ${typeof value} ${JSON.stringify(value)}`,
  );
}

function checkRange(where: string, n: number | bigint, { min, max }: WriteRangeSpec): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new CoercionError(
      `cannot write ${where}: ${String(n)} is outside the allowed range ${min ?? "-inf"}..${max ?? "+inf"}`,
    );
  }
}
