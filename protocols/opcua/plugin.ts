// The OPC-UA protocol's entry in the registry. Its device maps are validated and simulated; its
// adapter is not built yet.
import { defineProtocol } from "../plugin.js";
import { opcuaDevice } from "./schema.js";

export const opcua = defineProtocol({
  name: "opcua",
  title: "OPC-UA",
  device: opcuaDevice,
  loadSimulator: () => import("./simulate.js"),
});
