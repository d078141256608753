// The OPC-UA protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { opcuaDevice } from "./schema.js";

export const opcua = defineProtocol({
  name: "opcua",
  title: "OPC-UA",
  device: opcuaDevice,
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
});
