// The Modbus protocol's entry in the registry (its part of the config file: schema.ts).
import type { ProtocolPlugin } from "../plugin.js";
import type { ModbusDeviceConfig } from "./schema.js";

export const modbus = {
  name: "modbus",
  title: "Modbus",
  // Engineering values: a scaled integer register takes a fraction.
  writeKind: (p) =>
    p.type === "bool"
      ? "boolean"
      : p.type === "string"
        ? "string"
        : p.type.startsWith("float") || p.scale !== 1 || p.offset !== 0
          ? "number"
          : "integer",
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
} satisfies ProtocolPlugin<"modbus", ModbusDeviceConfig, undefined>;
