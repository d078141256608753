// The Modbus protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { modbusDevice } from "./schema.js";

export const modbus = defineProtocol({
  name: "modbus",
  title: "Modbus",
  device: modbusDevice,
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
});
