// The OPC-UA protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { opcuaDevice } from "./schema.js";

export const opcua = defineProtocol({
  name: "opcua",
  title: "OPC-UA",
  device: opcuaDevice,
  // Without a declared type the node's DataType decides, read by the adapter at the first write.
  writeKind: (p) =>
    p.type === undefined
      ? "any"
      : p.type === "Boolean"
        ? "boolean"
        : p.type === "String"
          ? "string"
          : p.type === "Float" || p.type === "Double"
            ? "number"
            : "integer",
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
});
