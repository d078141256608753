// The OPC-UA protocol's adapter module, loaded by the gateway's registry when the config has an opcua
// device (node-opcua is large: nothing else imports it). The simulator is in simulate.ts. The adapter
// imports node-opcua-client, not the node-opcua umbrella: that one also loads the server and the
// address space, about 10 MiB of RSS a gateway never uses.
import type { AdapterDeps, ProtocolAdapter, ProtocolContext, ProtocolModule } from "../adapter.js";
import { OpcuaAdapter } from "./adapter.js";
import type { OpcuaDeviceConfig } from "./schema.js";

export { OpcuaAdapter } from "./adapter.js";

export function createAdapter(
  devices: OpcuaDeviceConfig[],
  context: ProtocolContext,
  deps: AdapterDeps,
): ProtocolAdapter {
  return new OpcuaAdapter(devices, { gatewayId: context.gatewayId, dataDir: context.dataDir }, deps);
}

const mod: ProtocolModule<OpcuaDeviceConfig> = { createAdapter };
export default mod;
