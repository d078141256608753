// The CoAP protocol's entry in the registry (its part of the config file: schema.ts).
import type { ProtocolPlugin } from "../plugin.js";
import type { CoapDeviceConfig, CoapSectionConfig } from "./schema.js";

export const coap = {
  name: "coap",
  title: "CoAP",
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
} satisfies ProtocolPlugin<"coap", CoapDeviceConfig, CoapSectionConfig>;
