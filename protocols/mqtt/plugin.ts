// The MQTT protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { checkMqtt, mqttDevice, mqttListeners, mqttSection } from "./schema.js";

export const mqtt = defineProtocol({
  name: "mqtt",
  title: "MQTT",
  device: mqttDevice,
  // The command payload is the inverse of the point's decode; JSON, MessagePack and raw take any value.
  writeKind: (p) =>
    p.decode === "number" || p.decode === "boolean" || p.decode === "string" ? p.decode : "any",
  section: mqttSection,
  check: checkMqtt,
  listeners: mqttListeners,
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
});
