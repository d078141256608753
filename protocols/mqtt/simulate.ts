// The MQTT protocol's simulator module, loaded by `iggy-edge simulate` (never by the gateway).
import type { AdapterDeps, ProtocolContext, Simulator, SimulatorModule } from "../adapter.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";
import { MqttSimulator, parseFaults } from "./simulator.js";

export { MqttSimulator, parseFaults, type SimFault } from "./simulator.js";

/**
 * Rate and faults can be set from the start with IGGY_EDGE_MQTT_RATE (messages per second per point)
 * and IGGY_EDGE_MQTT_FAULTS (see parseFaults); IGGY_EDGE_MQTT_VERSION (3.1.1 or 5) sets the MQTT
 * version the devices speak, by default 5 when the embedded broker has mqtt5 on, else 3.1.1.
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
    protocolVersion: simulatorVersion(
      process.env.IGGY_EDGE_MQTT_VERSION,
      context.section?.broker?.mqtt5 === true,
    ),
  });
}

export function simulatorVersion(spec: string | undefined, brokerSpeaks5: boolean): 4 | 5 {
  if (spec === undefined || spec === "") return brokerSpeaks5 ? 5 : 4;
  if (spec === "5") return 5;
  if (spec === "3.1.1" || spec === "4") return 4;
  throw new Error(`IGGY_EDGE_MQTT_VERSION: expected 3.1.1 or 5, got '${spec}'`);
}

/** IGGY_EDGE_MQTT_SIM_USER / IGGY_EDGE_MQTT_SIM_PASSWORD: the simulated devices' broker login. */
function simulatorCredentials(): { username: string; password: string } | undefined {
  const username = process.env.IGGY_EDGE_MQTT_SIM_USER;
  const password = process.env.IGGY_EDGE_MQTT_SIM_PASSWORD;
  return username !== undefined && password !== undefined ? { username, password } : undefined;
}

const mod: SimulatorModule<MqttDeviceConfig, MqttSectionConfig> = { createSimulator };
export default mod;
