// What the commands' unit tests and the command fuzzer share: a device map with writable points of
// every kind (Modbus numbers, bool and text; a disabled device; MQTT text and JSON), and a polled
// Iggy message as the router gets it.
import { header, type PolledMessage } from "../../gateway/iggy/index.js";
import { configSchema } from "../../protocols/config-schema.js";

export const commandConfig = configSchema.parse({
  gateway: { id: "gw" },
  devices: [
    {
      id: "boiler",
      protocol: "modbus",
      connection: { host: "127.0.0.1" },
      points: [
        { name: "setpoint", address: "holding:10", type: "float32", write: { min: 0, max: 90 } },
        { name: "count", address: "holding:20", type: "uint16", write: true },
        { name: "scaled", address: "holding:21", type: "int16", scale: 0.1, write: true },
        { name: "burner", address: "coil:0", type: "bool", write: true },
        { name: "label", address: "holding:30", type: "string", length: 4, write: true },
        { name: "pressure", address: "input:0", type: "int16" },
      ],
    },
    {
      id: "off",
      protocol: "modbus",
      enabled: false,
      connection: { host: "127.0.0.1" },
      points: [{ name: "x", address: "holding:0", write: true }],
    },
    {
      id: "thermo",
      protocol: "mqtt",
      points: [
        { name: "mode", topic: "t/mode", decode: "string", command_topic: "t/mode/set", write: true },
        { name: "doc", topic: "t/doc", decode: { json: "a" }, command_topic: "t/doc/set", write: true },
      ],
    },
  ],
});

/** A message polled from the commands topic; `codec` is its codec header (none when absent or null). */
export function polled(payload: Buffer | Uint8Array, codec?: string | null): PolledMessage {
  return {
    offset: 0n,
    id: 0n,
    timestamp: 0n,
    originTimestamp: 0n,
    checksum: 0n,
    payload: Buffer.from(payload),
    headers: new Map(codec === undefined || codec === null ? [] : [["codec", header.string(codec)]]),
  };
}
