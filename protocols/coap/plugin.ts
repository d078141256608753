// The CoAP protocol's entry in the registry. Its device maps are validated; its adapter and
// simulator are not built yet.
import { defineProtocol } from "../plugin.js";
import { coapDevice, coapSection } from "./schema.js";

export const coap = defineProtocol({
  name: "coap",
  title: "CoAP",
  device: coapDevice,
  section: coapSection,
  listeners: (section) => (section ? [{ address: section.listen, path: ["coap", "listen"] }] : []),
});
