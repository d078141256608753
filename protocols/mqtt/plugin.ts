// The MQTT protocol's entry in the registry (its part of the config file: schema.ts).
import type { ProtocolPlugin } from "../plugin.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";

export const mqtt = {
  name: "mqtt",
  title: "MQTT",
  // The command payload is the inverse of the point's decode; JSON, MessagePack and raw take any value.
  writeKind: (p) =>
    p.decode === "number" || p.decode === "boolean" || p.decode === "string" ? p.decode : "any",
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
} satisfies ProtocolPlugin<"mqtt", MqttDeviceConfig, MqttSectionConfig>;
