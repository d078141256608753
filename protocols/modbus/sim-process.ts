// Runs a Modbus simulator in a process of its own (benchmarks and tests keep its CPU apart).
// Reads a JSON array of modbus device configs (already validated) from the file in argv[2], starts
// the simulator, and prints one JSON line {"ready":true,"addresses":{device:{host,port}}}; then
// answers IPC messages {cmd:"counts"} with {counts} and exits on {cmd:"stop"} or a closed channel.
import { readFileSync } from "node:fs";
import type { ModbusDeviceConfig } from "./schema.js";
import { ModbusSimulator, parseFaults } from "./simulator.js";

const file = process.argv[2];
if (!file) {
  console.error("usage: node sim-process.js DEVICES.json");
  process.exit(2);
}
const devices = JSON.parse(readFileSync(file, "utf-8")) as ModbusDeviceConfig[];
const sim = new ModbusSimulator(devices, {
  animateMs: Number(process.env.SIM_ANIMATE_MS ?? 1000),
  faults: parseFaults(process.env.IGGY_EDGE_MODBUS_FAULTS),
});
await sim.start();
const addresses = Object.fromEntries(devices.map((d) => [d.id, sim.address(d.id)]));
const msg = { ready: true, addresses };
if (process.send) process.send(msg);
else console.log(JSON.stringify(msg));
process.on("message", (m: { cmd?: string }) => {
  if (m.cmd === "counts") process.send?.({ counts: sim.requestCounts(), cpu: process.cpuUsage() });
  if (m.cmd === "stop") void sim.stop().then(() => process.exit(0));
});
process.on("disconnect", () => void sim.stop().then(() => process.exit(0)));
process.on("SIGTERM", () => void sim.stop().then(() => process.exit(0)));
