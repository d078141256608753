// The loads of the kill -9 drill, one per protocol path. A new protocol: one module, one line here.
import type { Load } from "./load.js";
import { ModbusLoad } from "./modbus.js";
import { MqttClientLoad } from "./mqtt-client.js";
import { MqttEmbeddedLoad } from "./mqtt-embedded.js";

export const loads: Record<string, () => Load> = {
  "mqtt-embedded": () => new MqttEmbeddedLoad(),
  "mqtt-client": () => new MqttClientLoad(),
  modbus: () => new ModbusLoad(),
};
