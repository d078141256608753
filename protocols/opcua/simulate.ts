// The OPC-UA protocol's simulator module, loaded by `iggy-edge simulate` (never by the gateway).
import { join } from "node:path";
import type { AdapterDeps, ProtocolContext, Simulator, SimulatorModule } from "../adapter.js";
import type { OpcuaDeviceConfig } from "./schema.js";
import { OpcuaSimulator, parseFaults } from "./simulator.js";

export { OpcuaSimulator, parseFaults, type SimFault } from "./simulator.js";

/**
 * Faults can be set from the start with IGGY_EDGE_OPCUA_FAULTS (see parseFaults). The servers'
 * certificate is kept under `<data_dir>/opcua-simulator/pki`, so a client trusts it once.
 */
export function createSimulator(
  devices: OpcuaDeviceConfig[],
  context: ProtocolContext,
  deps: AdapterDeps,
): Simulator {
  return new OpcuaSimulator(devices, {
    log: deps.log.child({ role: "simulator" }),
    faults: parseFaults(process.env.IGGY_EDGE_OPCUA_FAULTS),
    pkiDir: join(context.dataDir, "opcua-simulator", "pki"),
  });
}

const mod: SimulatorModule<OpcuaDeviceConfig> = { createSimulator };
export default mod;
