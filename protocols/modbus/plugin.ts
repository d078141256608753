// The Modbus protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { modbusDevice } from "./schema.js";

export const modbus = defineProtocol({
  name: "modbus",
  title: "Modbus",
  device: modbusDevice,
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
});
