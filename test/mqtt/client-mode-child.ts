// A stand-in gateway for the client-mode kill -9 test: the MQTT adapter reading a site Mosquitto
// into a real buffer, wired as the runtime wires it (awaited commits, marks for the QoS2 ids). argv: a JSON object { dir, url, clientId, qos, connection? }. Sends
// { committed } over IPC when it asks for it, and { sentinel: true } once the reading of device
// "end" is committed.
import pino from "pino";
import { openBuffer } from "../../buffer/index.js";
import { MqttAdapter } from "../../protocols/mqtt/adapter.js";
import { configSchema } from "../../protocols/config-schema.js";
import { protocolContext } from "../../protocols/registry.js";
import { mqttDevices } from "./helpers.js";

interface ChildArgs {
  dir: string;
  url: string;
  clientId: string;
  qos: 1 | 2;
  connection?: Record<string, unknown>;
}

const args = JSON.parse(process.argv[2]!) as ChildArgs;
const buffer = await openBuffer({ dir: args.dir, sync: "full" });
const config = configSchema.parse({
  gateway: { id: "gw", data_dir: args.dir },
  devices: [
    {
      id: "burst",
      protocol: "mqtt",
      connection: {
        url: args.url,
        client_id: args.clientId,
        reconnect_min_ms: 50,
        reconnect_max_ms: 200,
        ...args.connection,
      },
      points: [{ name: "seq", topic: "burst/+device/seq", qos: args.qos }],
    },
  ],
});
const adapter = new MqttAdapter(mqttDevices(config), protocolContext(config, "mqtt"), {
  log: pino({ level: "warn" }),
  reject: () => {},
  readMarks: (prefix) => buffer.readMarks(prefix),
});
let committed = 0;
await adapter.start(async (readings, options) => {
  await buffer.append(readings, {
    awaited: options?.awaited === true,
    ...(options?.marks !== undefined ? { marks: options.marks } : {}),
  });
  committed += readings.length;
  if (readings.some((r) => r.device === "end")) process.send!({ sentinel: true });
});
process.on("message", (m: { cmd: string }) => {
  if (m.cmd === "stats") process.send!({ committed });
  if (m.cmd === "stop")
    void adapter
      .stop()
      .then(() => buffer.close())
      .then(() => process.exit(0));
});
process.send!({ started: true });
