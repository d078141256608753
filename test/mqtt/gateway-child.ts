// A stand-in gateway for the kill -9 test: the MQTT adapter's embedded broker with an Emit that
// appends to a real buffer. argv: BUFFER_DIR. Sends {port} over IPC when listening.
import pino from "pino";
import { openBuffer } from "../../buffer/index.js";
import { MqttAdapter } from "../../protocols/mqtt/adapter.js";
import { protocolContext } from "../../protocols/registry.js";
import { mqttConfig, mqttDevices } from "./helpers.js";

const dir = process.argv[2]!;
const buffer = await openBuffer({ dir, sync: "full" });
const config = mqttConfig([{ id: "d", points: [{ name: "seq", topic: "d/seq" }] }], {
  broker: { persist: false },
});
const adapter = new MqttAdapter(
  mqttDevices(config),
  protocolContext(config, "mqtt"),
  { log: pino({ level: "warn" }), reject: () => {} },
  {
    listen: "127.0.0.1:0",
  },
);
await adapter.start(async (rs, options) => {
  await buffer.append(rs, options);
});
process.send!({ port: adapter.brokerAddress()!.port });
