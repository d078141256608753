// A Modbus point from the config, resolved once: table, address, size, type, order, scale.
import type { ModbusDeviceConfig } from "./schema.js";

export type ModbusType =
  "bool" | "int16" | "uint16" | "int32" | "uint32" | "int64" | "uint64" | "float32" | "float64" | "string";
export type ByteOrder = "ABCD" | "CDAB" | "BADC" | "DCBA";
export type Table = "coil" | "discrete" | "input" | "holding";

export const isBitTable = (t: Table): boolean => t === "coil" || t === "discrete";

export type ModbusPointConfig = ModbusDeviceConfig["points"][number];

export interface ResolvedPoint {
  /** Index in the device's point list. */
  index: number;
  name: string;
  table: Table;
  address: number;
  /** Registers (holding/input) or bits (coil/discrete) the point spans. */
  count: number;
  type: ModbusType;
  order: ByteOrder;
  length?: number | undefined;
  bit?: number | undefined;
  pollMs: number;
  scale: number;
  offset: number;
  deadband?: number | undefined;
  unit?: string | undefined;
  tags?: Record<string, string> | undefined;
  write?: { min?: number | undefined; max?: number | undefined; readback: boolean } | undefined;
}

const SIZES: Record<ModbusType, number> = {
  bool: 1,
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  float32: 2,
  int64: 4,
  uint64: 4,
  float64: 4,
  string: 0,
};

export function parseAddress(address: string): { table: Table; address: number } {
  const m = /^(coil|discrete|input|holding):(\d{1,5})$/.exec(address);
  if (!m || Number(m[2]) > 65535) throw new Error(`bad Modbus address ${JSON.stringify(address)}`);
  return { table: m[1] as Table, address: Number(m[2]) };
}

export function resolvePoints(device: ModbusDeviceConfig): ResolvedPoint[] {
  return device.points.map((p, index) => {
    const { table, address } = parseAddress(p.address);
    const type = p.type as ModbusType;
    const count = isBitTable(table) ? 1 : type === "string" ? (p.length ?? 1) : SIZES[type];
    if (address + count > 65536) {
      throw new Error(
        `device ${device.id} point ${p.name}: ${p.address} with ${count} registers runs past 65535`,
      );
    }
    const write =
      p.write === undefined
        ? undefined
        : p.write === true
          ? { readback: false }
          : { min: p.write.min, max: p.write.max, readback: p.write.readback };
    return {
      index,
      name: p.name,
      table,
      address,
      count,
      type,
      order: (p.order ?? device.order) as ByteOrder,
      length: p.length,
      bit: p.bit,
      pollMs: p.poll_ms ?? device.poll_ms,
      scale: p.scale,
      offset: p.offset,
      deadband: p.deadband,
      unit: p.unit,
      tags: p.tags,
      write,
    };
  });
}
