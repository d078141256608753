// The OPC-UA protocol's entry in the registry (its part of the config file: schema.ts).
import type { ProtocolPlugin } from "../plugin.js";
import type { OpcuaDeviceConfig } from "./schema.js";

export const opcua = {
  name: "opcua",
  title: "OPC-UA",
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
} satisfies ProtocolPlugin<"opcua", OpcuaDeviceConfig, undefined>;
