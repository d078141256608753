// The device map of a Modbus device: its connection (TCP, RTU on a serial line, RTU over TCP) and
// its points (table and address, type, byte and word order).
import { z } from "../../config/zod.cjs";
import {
  defineProtocolConfig,
  deviceCommon,
  pointCommon,
  points,
  port,
  positiveMs,
} from "../../config/schema.js";

export const MODBUS_TYPES = [
  "bool",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
  "float32",
  "float64",
  "string",
] as const;
const byteOrder = z.enum(["ABCD", "CDAB", "BADC", "DCBA"]);

const modbusPoint = z
  .strictObject({
    ...pointCommon,
    address: z.string().superRefine((a, ctx) => {
      const m = /^(coil|discrete|input|holding):(\d{1,5})$/.exec(a);
      if (!m) {
        ctx.addIssue({
          code: "custom",
          message:
            "expected TABLE:ADDRESS with TABLE one of coil, discrete, input, holding (e.g. holding:100)",
        });
      } else if (Number(m[2]) > 65535) {
        ctx.addIssue({ code: "custom", message: "a Modbus address is from 0 to 65535" });
      }
    }),
    type: z.enum(MODBUS_TYPES).default("uint16"),
    order: byteOrder.optional(),
    length: z.number().int().min(1).max(125).optional(),
    bit: z.number().int().min(0).max(15).optional(),
    poll_ms: positiveMs.optional(),
  })
  .superRefine((p, ctx) => {
    const table = p.address.slice(0, p.address.indexOf(":"));
    if ((table === "coil" || table === "discrete") && p.type !== "bool") {
      ctx.addIssue({ code: "custom", path: ["type"], message: `a ${table} holds a bool, not ${p.type}` });
    }
    if (p.type === "string" && p.length === undefined) {
      ctx.addIssue({ code: "custom", path: ["type"], message: "a string point needs length (registers)" });
    }
    if (p.bit !== undefined && (table === "coil" || table === "discrete" || p.type !== "bool")) {
      ctx.addIssue({
        code: "custom",
        path: ["bit"],
        message: "bit selects a bit of a register: use it with type bool on holding or input",
      });
    }
    if (p.write !== undefined && (table === "discrete" || table === "input")) {
      ctx.addIssue({
        code: "custom",
        path: ["write"],
        message: `${table} ${table === "input" ? "registers" : "inputs"} are read-only in Modbus`,
      });
    }
  });

const serial = z.strictObject({
  path: z.string().min(1),
  baud: z.number().int().positive().default(9600),
  parity: z.enum(["none", "even", "odd"]).default("none"),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
});

export const modbusDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("modbus"),
  connection: z
    .strictObject({
      transport: z.enum(["tcp", "rtu", "rtu_over_tcp"]).default("tcp"),
      host: z.string().min(1).optional(),
      port: port.default(502),
      serial: serial.optional(),
      unit_id: z.number().int().min(0).max(255).default(1),
      timeout_ms: positiveMs.default(1000),
      retries: z.number().int().min(0).max(10).default(1),
      max_gap: z.number().int().min(0).max(125).default(10),
      // Some devices answer fewer than the spec's 125 registers / 2000 bits per read.
      max_registers_per_read: z.number().int().min(1).max(125).default(125),
      max_bits_per_read: z.number().int().min(1).max(2000).default(2000),
    })
    .superRefine((c, ctx) => {
      if (c.transport === "rtu" && c.serial === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["serial"],
          message: "transport rtu needs serial: { path, baud, ... }",
        });
      }
      if (c.transport !== "rtu" && c.host === undefined) {
        ctx.addIssue({ code: "custom", path: ["host"], message: `transport ${c.transport} needs host` });
      }
    }),
  poll_ms: positiveMs.default(1000),
  order: byteOrder.default("ABCD"),
  points: points(modbusPoint),
});

export type ModbusDeviceConfig = z.output<typeof modbusDevice>;
export type ModbusPointConfig = ModbusDeviceConfig["points"][number];

/** Modbus's part of the file, for the file's schema (protocols/config-schema.ts). */
export const modbusConfig = defineProtocolConfig({ name: "modbus", device: modbusDevice });
