// The Modbus protocol's adapter module, loaded by the gateway's registry when the config has a modbus
// device. The simulator is in simulate.ts, which the gateway never loads.
import type { AdapterDeps, ProtocolAdapter, ProtocolContext, ProtocolModule } from "../adapter.js";
import { ModbusAdapter } from "./adapter.js";
import type { ModbusDeviceConfig } from "./schema.js";

export { ModbusAdapter } from "./adapter.js";
export { planReads, type ReadBlock } from "./planner.js";

export function createAdapter(
  devices: ModbusDeviceConfig[],
  _context: ProtocolContext,
  deps: AdapterDeps,
): ProtocolAdapter {
  return new ModbusAdapter(devices, deps);
}

const mod: ProtocolModule<ModbusDeviceConfig> = { createAdapter };
export default mod;
