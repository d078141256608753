// The CoAP protocol's entry in the registry.
import { defineProtocol } from "../plugin.js";
import { checkCoap, coapDevice, coapSection } from "./schema.js";

export const coap = defineProtocol({
  name: "coap",
  title: "CoAP",
  device: coapDevice,
  section: coapSection,
  check: checkCoap,
  listeners: (section) => (section ? [{ address: section.listen, path: ["coap", "listen"] }] : []),
  load: () => import("./index.js"),
  loadSimulator: () => import("./simulate.js"),
  contract: async () => (await import("./contract.js")).contract,
});
