// The MQTT protocol's simulator module, loaded by `iggy-edge simulate` (never by the gateway).
import type { AdapterDeps, ProtocolContext, Simulator, SimulatorModule } from "../adapter.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";
import { MqttSimulator, parseFaults } from "./simulator.js";

export { MqttSimulator, parseFaults, type SimFault } from "./simulator.js";

/**
 * Rate and faults can be set from the start with IGGY_EDGE_MQTT_RATE (messages per second per point)
 * and IGGY_EDGE_MQTT_FAULTS (see parseFaults).
 */
export function createSimulator(
  devices: MqttDeviceConfig[],
  context: ProtocolContext<MqttSectionConfig>,
  deps: AdapterDeps,
): Simulator {
  const rate = Number(process.env.IGGY_EDGE_MQTT_RATE ?? 1);
  return new MqttSimulator(devices, context, {
    log: deps.log.child({ role: "simulator" }),
    ratePerPoint: Number.isFinite(rate) && rate > 0 ? rate : 1,
    faults: parseFaults(process.env.IGGY_EDGE_MQTT_FAULTS),
    credentials: simulatorCredentials(),
  });
}

/** IGGY_EDGE_MQTT_SIM_USER / IGGY_EDGE_MQTT_SIM_PASSWORD: the simulated devices' broker login. */
function simulatorCredentials(): { username: string; password: string } | undefined {
  const username = process.env.IGGY_EDGE_MQTT_SIM_USER;
  const password = process.env.IGGY_EDGE_MQTT_SIM_PASSWORD;
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

const mod: SimulatorModule<MqttDeviceConfig, MqttSectionConfig> = { createSimulator };
export default mod;
