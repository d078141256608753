// The Modbus protocol module, loaded by the gateway's registry when the config has a modbus device.
import type { AdapterDeps, ProtocolAdapter, ProtocolContext, ProtocolModule, Simulator } from "../adapter.js";
import { ModbusAdapter } from "./adapter.js";
import type { ModbusDeviceConfig } from "./schema.js";
import { ModbusSimulator, parseFaults } from "./simulator.js";

export { ModbusAdapter } from "./adapter.js";
export { ModbusSimulator, parseFaults, type SimFault } from "./simulator.js";
export { planReads, type ReadBlock } from "./planner.js";

export function createAdapter(
  devices: ModbusDeviceConfig[],
  _context: ProtocolContext,
  deps: AdapterDeps,
): ProtocolAdapter {
  return new ModbusAdapter(devices, deps);
}

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

const mod: ProtocolModule<ModbusDeviceConfig> = { createAdapter, createSimulator };
export default mod;
