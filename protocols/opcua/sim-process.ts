// Runs an OPC-UA simulator in a process of its own (benchmarks and tests keep its CPU apart).
// Reads a JSON array of opcua device configs (already validated) from the file in argv[2], starts
// the simulator, and prints one JSON line {"ready":true,"endpoints":{device:url},"certificate":FILE};
// then answers IPC messages {cmd:"counts"} with {writes, restarts, changes, sent, sessions, cpu},
// {cmd:"restart",device,downMs} with {restarted:device}, {cmd:"pause"} and {cmd:"resume"} (the
// animation) with {paused|resumed:true, changes}, and exits on {cmd:"stop"} or a closed channel.
// SIM_ANIMATE_MS sets how often values change; SIM_START_PAUSED=1 keeps them still until "resume".
import { readFileSync } from "node:fs";
import type { OpcuaDeviceConfig } from "./schema.js";
import { OpcuaSimulator, parseFaults } from "./simulator.js";

const file = process.argv[2];
if (!file) {
  console.error("usage: node sim-process.js DEVICES.json");
  process.exit(2);
}
const devices = JSON.parse(readFileSync(file, "utf-8")) as OpcuaDeviceConfig[];
const sim = new OpcuaSimulator(devices, {
  animateMs: Number(process.env.SIM_ANIMATE_MS ?? 1000),
  startPaused: process.env.SIM_START_PAUSED === "1",
  faults: parseFaults(process.env.IGGY_EDGE_OPCUA_FAULTS),
  ...(process.env.SIM_PKI_DIR ? { pkiDir: process.env.SIM_PKI_DIR } : {}),
});
await sim.start();
const endpoints = Object.fromEntries(devices.filter((d) => d.enabled).map((d) => [d.id, sim.endpoint(d.id)]));
const msg = { ready: true, endpoints, certificate: sim.certificateFile };
if (process.send) process.send(msg);
else console.log(JSON.stringify(msg));
const exit = () => void sim.stop().then(() => process.exit(0));
process.on("message", (m: { cmd?: string; device?: string; downMs?: number }) => {
  if (m.cmd === "counts") {
    process.send?.({
      writes: sim.writeCounts(),
      restarts: sim.restartCounts(),
      changes: sim.changeCount(),
      sent: sim.notificationsSent(),
      sessions: Object.fromEntries(
        devices.filter((d) => d.enabled).map((d) => [d.id, sim.sessionCount(d.id)]),
      ),
      cpu: process.cpuUsage(),
    });
  }
  if (m.cmd === "pause") {
    sim.pauseAnimation();
    process.send?.({ paused: true, changes: sim.changeCount() });
  }
  if (m.cmd === "resume") {
    sim.resumeAnimation();
    process.send?.({ resumed: true, changes: sim.changeCount() });
  }
  if (m.cmd === "restart" && m.device !== undefined) {
    const device = m.device;
    void sim.restart(device, m.downMs ?? 0).then(() => process.send?.({ restarted: device }));
  }
  if (m.cmd === "stop") exit();
});
process.on("disconnect", exit);
process.on("SIGTERM", exit);
