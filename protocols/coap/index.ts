// The CoAP protocol's adapter module, loaded by the gateway's registry when the config has a coap
// device. The simulator is in simulate.ts, which the gateway never loads.
import type { AdapterDeps, ProtocolAdapter, ProtocolContext, ProtocolModule } from "../adapter.js";
import { CoapAdapter } from "./adapter.js";
import type { CoapDeviceConfig, CoapSectionConfig } from "./schema.js";

export { CoapAdapter, CoapWriteError, type CoapAdapterOptions, type CoapStats } from "./adapter.js";

export function createAdapter(
  devices: CoapDeviceConfig[],
  context: ProtocolContext<CoapSectionConfig>,
  deps: AdapterDeps,
): ProtocolAdapter {
  return new CoapAdapter(devices, context, deps);
}

const mod: ProtocolModule<CoapDeviceConfig, CoapSectionConfig> = { createAdapter };
export default mod;
