// The MQTT protocol's adapter module, loaded by the gateway's registry when the config has an mqtt
// device. The simulator (and the mqtt.js client it publishes with) is in simulate.ts, which the
// gateway never loads.
import type { AdapterDeps, ProtocolAdapter, ProtocolContext, ProtocolModule } from "../adapter.js";
import { MqttAdapter } from "./adapter.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";

export { MqttAdapter, type MqttAdapterOptions, type MqttStats } from "./adapter.js";
export { hashPassword } from "./password.js";

export function createAdapter(
  devices: MqttDeviceConfig[],
  context: ProtocolContext<MqttSectionConfig>,
  deps: AdapterDeps,
): ProtocolAdapter {
  return new MqttAdapter(devices, context, deps);
}

const mod: ProtocolModule<MqttDeviceConfig, MqttSectionConfig> = { createAdapter };
export default mod;
