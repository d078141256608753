// Shared by the Modbus tests: device configs through the real schema, a log that records (the MQTT,
// CoAP and OPC-UA tests use it too), waits.
import { Writable } from "node:stream";
import pino from "pino";
import { modbusDevice as deviceSchema, type ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import type { AdapterDeps, Reading } from "../../protocols/adapter.js";

/** A modbus device config through the schema (defaults filled); port 0 (any free port, for simulators) is let through. */
export function modbusDevice(d: Record<string, unknown>): ModbusDeviceConfig {
  const conn = (d.connection ?? {}) as Record<string, unknown>;
  const anyPort = conn.port === 0;
  const parsed = deviceSchema.parse({
    protocol: "modbus",
    ...d,
    connection: { ...conn, ...(anyPort ? { port: 1 } : {}) },
  });
  if (parsed.protocol !== "modbus") throw new Error("not modbus");
  if (anyPort) parsed.connection.port = 0;
  return parsed;
}

export interface Recorder {
  deps: AdapterDeps;
  logs: Record<string, unknown>[];
  /** Everything logged, as written. */
  text: () => string;
  rejects: { reason: string; device?: string | undefined }[];
  readings: Reading[];
  emit: (rs: Reading[]) => Promise<void>;
  messages(msg: string, device?: string): Record<string, unknown>[];
}

export function recorder(): Recorder {
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString());
      for (const line of chunk.toString().split("\n"))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const rejects: Recorder["rejects"] = [];
  const readings: Reading[] = [];
  return {
    logs,
    text: () => raw.join(""),
    rejects,
    readings,
    deps: {
      log: pino({ level: "debug" }, stream),
      reject: (reason, device) => rejects.push({ reason, device }),
    },
    emit: async (rs) => {
      readings.push(...rs);
    },
    messages: (msg, device) =>
      logs.filter((l) => l.msg === msg && (device === undefined || l.device === device)),
  };
}

export { waitFor } from "../helpers/wait.js";

/** Points of every type in every order, with the values a test puts there. */
export function everyTypePoints(base = 0): {
  points: Record<string, unknown>[];
  values: Record<string, unknown>;
} {
  const points: Record<string, unknown>[] = [];
  const values: Record<string, unknown> = {};
  let addr = base;
  const add = (name: string, type: string, value: unknown, extra: Record<string, unknown> = {}, size = 1) => {
    points.push({ name, address: `holding:${addr}`, type, ...extra });
    values[name] = value;
    addr += size;
  };
  for (const order of ["ABCD", "CDAB", "BADC", "DCBA"]) {
    const o = order.toLowerCase();
    add(`i16_${o}`, "int16", -12345, { order });
    add(`u16_${o}`, "uint16", 54321, { order });
    add(`i32_${o}`, "int32", -123456789, { order }, 2);
    add(`u32_${o}`, "uint32", 3000000000, { order }, 2);
    add(`i64_${o}`, "int64", -1234567890123456789n, { order }, 4);
    add(`u64_${o}`, "uint64", 18000000000000000000n, { order }, 4);
    add(`f32_${o}`, "float32", 123.456, { order }, 2);
    add(`f64_${o}`, "float64", -9876.54321, { order }, 4);
    add(`str_${o}`, "string", "PUMP-7", { order, length: 5 }, 5);
  }
  add("scaled", "int16", 21.5, { scale: 0.1 });
  add("offset", "uint16", -10, { scale: 0.5, offset: -40 });
  points.push({ name: "bit3", address: `holding:${addr}`, type: "bool", bit: 3 });
  points.push({ name: "bit4", address: `holding:${addr}`, type: "bool", bit: 4 });
  values.bit3 = true;
  values.bit4 = false;
  return { points, values };
}
