// What a DataValue from the server becomes in a Reading: its value (or why none), its quality from
// the StatusCode's severity, and its timestamp (the source's, else the server's, else now).
import { DataType, type DataValue, type StatusCode, type Variant } from "node-opcua-client";
import type { Quality, ReadingValue } from "../adapter.js";
import type { OpcuaType } from "./coerce.js";

export function qualityOf(status: StatusCode): Quality {
  // The two top bits of a StatusCode: 00 good, 01 uncertain, 10/11 bad.
  const severity = status.value >>> 30;
  return severity === 0 ? "good" : severity === 1 ? "uncertain" : "bad";
}

export function timestampOf(dv: DataValue, now?: number): number {
  const t = dv.sourceTimestamp ?? dv.serverTimestamp;
  const ms = t?.getTime();
  return ms !== undefined && Number.isFinite(ms) && ms > 0 ? ms : (now ?? Date.now());
}

/** Why a value has none that a Reading can carry. */
export class Unconvertible {
  constructor(readonly reason: string) {}
}

/** The value itself (no object is made per value converted), or why there is none. */
export type Converted = ReadingValue | Unconvertible;

function int64(v: unknown, signed: boolean): bigint {
  if (Array.isArray(v) && v.length === 2) {
    const u = (BigInt(v[0] as number) << 32n) | BigInt(v[1] as number);
    return signed ? BigInt.asIntN(64, u) : u;
  }
  return BigInt(v as number);
}

export function convertVariant(variant: Variant, expected?: OpcuaType): Converted {
  const dt = variant.dataType;
  if (variant.arrayType !== undefined && variant.arrayType !== 0) {
    return new Unconvertible(`an array of ${DataType[dt]}`);
  }
  if (dt === DataType.Null) return null;
  if (expected !== undefined && DataType[dt] !== expected) {
    return new Unconvertible(`${DataType[dt]} where the map says ${expected}`);
  }
  const v: unknown = variant.value;
  switch (dt) {
    case DataType.Boolean:
      return Boolean(v);
    case DataType.SByte:
    case DataType.Byte:
    case DataType.Int16:
    case DataType.UInt16:
    case DataType.Int32:
    case DataType.UInt32:
    case DataType.Float:
    case DataType.Double:
      return typeof v === "number" ? v : new Unconvertible(`${DataType[dt]} without a number`);
    case DataType.Int64:
    case DataType.UInt64:
      return int64(v, dt === DataType.Int64);
    case DataType.String:
      return v === null ? null : String(v);
    case DataType.ByteString:
      return v === null ? null : new Uint8Array(v as Buffer);
    case DataType.DateTime:
      return v instanceof Date ? v.getTime() : new Unconvertible("DateTime without a date");
    case DataType.LocalizedText:
      return (v as { text?: string | null } | null)?.text ?? null;
    default:
      return new Unconvertible(`a value of type ${DataType[dt] ?? dt}`);
  }
}

/** A reading's numeric value in engineering units (scale and offset applied). */
export function scaled(value: ReadingValue, scale: number, offset: number): ReadingValue {
  if (scale === 1 && offset === 0) return value;
  if (typeof value === "number") return value * scale + offset;
  if (typeof value === "bigint") return Number(value) * scale + offset;
  return value;
}
