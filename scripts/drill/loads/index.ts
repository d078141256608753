// The loads of the drills, one per protocol path. A new protocol: one module, one line here.
import { CoapLoad } from "./coap.js";
import type { Load } from "./load.js";
import { ModbusLoad } from "./modbus.js";
import { MqttClientLoad } from "./mqtt-client.js";
import { MqttEmbeddedLoad } from "./mqtt-embedded.js";
import { OpcuaLoad } from "./opcua.js";

export const loads: Record<string, () => Load> = {
  "mqtt-embedded": () => new MqttEmbeddedLoad(),
  "mqtt-client": () => new MqttClientLoad(),
  modbus: () => new ModbusLoad(),
  opcua: () => new OpcuaLoad(),
  coap: () => new CoapLoad(),
};
