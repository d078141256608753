// The Modbus protocol's simulator module, loaded by `iggy-edge simulate` (never by the gateway).
import type { AdapterDeps, ProtocolContext, Simulator, SimulatorModule } from "../adapter.js";
import type { ModbusDeviceConfig } from "./schema.js";
import { ModbusSimulator, parseFaults } from "./simulator.js";

export { ModbusSimulator, parseFaults, type SimFault } from "./simulator.js";

/** Faults can be set from the start with IGGY_EDGE_MODBUS_FAULTS (see parseFaults). */
export function createSimulator(
  devices: ModbusDeviceConfig[],
  _context: ProtocolContext,
  deps: AdapterDeps,
): Simulator {
  return new ModbusSimulator(devices, {
    log: deps.log.child({ role: "simulator" }),
    faults: parseFaults(process.env.IGGY_EDGE_MODBUS_FAULTS),
  });
}

const mod: SimulatorModule<ModbusDeviceConfig> = { createSimulator };
export default mod;
