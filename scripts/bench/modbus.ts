// Modbus: 100 simulated devices x 100 holding registers polled at 1 s. Reports the requests per cycle
// (must equal the planner's coalesced minimum), the gateway's CPU (the simulators run in a child
// process, so only the adapter is counted), and the sequential read rate through the adapter as a
// ratio to a bare modbus-serial client loop against the same server, measured in the same run.
import { fork } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pino from "pino";
import modbusSerial from "modbus-serial";
import { modbusDevice as deviceSchema, type ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { planReads } from "../../protocols/modbus/planner.js";
import { resolvePoints } from "../../protocols/modbus/points.js";
import { ModbusSimulator } from "../../protocols/modbus/simulator.js";
import { withPeer, type Benchmark, type Figure } from "../bench-kit.js";

const ModbusRTU = modbusSerial.default;

function devices(n: number, points: number, pollMs: number): ModbusDeviceConfig[] {
  return Array.from({ length: n }, (_, d) => {
    const parsed = deviceSchema.parse({
      id: `dev-${d}`,
      protocol: "modbus",
      poll_ms: pollMs,
      connection: { host: "127.0.0.1", port: 1, timeout_ms: 1000 },
      points: Array.from({ length: points }, (_, p) => ({ name: `r${p}`, address: `holding:${p}` })),
    });
    if (parsed.protocol !== "modbus") throw new Error("unreachable");
    parsed.connection.port = 0; // the simulator picks free ports
    return parsed;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function timedLoop(seconds: number, maxCount: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  let n = 0;
  while (n < maxCount && performance.now() < end) {
    await fn();
    n++;
  }
  return n / ((performance.now() - t0) / 1000);
}

const bench: Benchmark = {
  description:
    "100 simulated devices x 100 holding registers at 1 s: requests/cycle, gateway CPU, sequential read rate vs bare modbus-serial",
  async run(ctx) {
    const nDev = ctx.quick ? 20 : 100;
    const windowS = ctx.quick ? 3 : 10;
    const seqS = ctx.quick ? 0.5 : 2;
    const fleet = devices(nDev, 100, 1000);
    const seqDev = { ...devices(1, 100, 1000)[0]!, id: "seq" };
    const file = join(ctx.tmpDir, "devices.json");
    writeFileSync(file, JSON.stringify([...fleet, seqDev]));

    const child = fork(resolve(import.meta.dirname, "../../protocols/modbus/sim-process.js"), [file], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      env: { ...process.env, SIM_ANIMATE_MS: "1000" },
    });
    const figures: Figure[] = [];
    const adapters: ModbusAdapter[] = [];
    try {
      const ready = await new Promise<{ addresses: Record<string, { host: string; port: number }> }>(
        (res, rej) => {
          const t = setTimeout(() => rej(new Error("simulator did not start in 20 s")), 20_000);
          child.once("message", (m) => {
            clearTimeout(t);
            res(m as { addresses: Record<string, { host: string; port: number }> });
          });
          child.once("exit", (code) => rej(new Error(`simulator exited (${code})`)));
        },
      );
      const at = (d: ModbusDeviceConfig) => ({
        ...d,
        connection: { ...d.connection, port: ready.addresses[d.id]!.port },
      });
      ctx.log(`${nDev} simulated devices up in a child process`);

      // What the planner says one cycle costs.
      const planned = fleet.reduce(
        (s, d) => s + planReads(resolvePoints(d), { maxGap: d.connection.max_gap }).length,
        0,
      );

      // Fleet polling.
      const log = pino({ level: "warn" });
      let emits = 0;
      let readings = 0;
      const adapter = new ModbusAdapter(fleet.map(at), { log, reject: () => {} });
      adapters.push(adapter);
      await adapter.start(async (rs) => {
        emits++;
        readings += rs.length;
      });
      await sleep(ctx.quick ? 1500 : 2500); // connects and first cycles, left out of the CPU figure
      const stats = () => Object.values(adapter.stats());
      const e0 = { readings };
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await sleep(windowS * 1000);
      const cpu = process.cpuUsage(c0);
      const wall = (performance.now() - t0) / 1000;
      const down = adapter.health().devices.filter((d) => !d.up).length;
      const collected = readings - e0.readings;
      await adapter.stop();
      // Requests per cycle over the whole run: every request the adapter sent (retries included)
      // divided by the poll cycles it ran, per device, summed over the fleet.
      const end = stats();
      const sent = end.reduce((s, d) => s + d.requests, 0);
      const polls = end.reduce((s, d) => s + d.polls, 0);
      const perCycle = polls > 0 ? (sent / polls) * nDev : 0;
      const cpuPct = ((cpu.user + cpu.system) / 1e6 / wall) * 100;
      ctx.log(
        `${sent} requests in ${polls} device polls, cpu ${cpuPct.toFixed(1)}%, ${down} devices down, ${emits} emits`,
      );
      figures.push(
        withPeer(
          `requests per 1 s cycle (${nDev} devices x 100 registers)`,
          perCycle,
          "requests",
          "planner minimum",
          planned,
          `= ${planned}`,
        ),
        { name: "gateway CPU while polling", value: cpuPct, unit: "% of one core", target: "< 15" },
        { name: "readings collected", value: collected / wall, unit: "readings/s" },
        { name: "devices down during the run", value: down, unit: "devices", target: "0" },
      );

      // Sequential reads of one device: bare modbus-serial loop vs the adapter's poll path.
      const seq = at(seqDev);
      const bare = new ModbusRTU();
      await bare.connectTCP("127.0.0.1", { port: seq.connection.port });
      bare.setID(1);
      bare.setTimeout(1000);
      const seqAdapter = new ModbusAdapter([seq], { log, reject: () => {} });
      adapters.push(seqAdapter);
      const max = 200_000;
      let bareRate = 0;
      let gwRate = 0;
      for (let round = 0; round < 3; round++) {
        bareRate = Math.max(bareRate, await timedLoop(seqS, max, () => bare.readHoldingRegisters(0, 100)));
        gwRate = Math.max(gwRate, await timedLoop(seqS, max, () => seqAdapter.pollOnce("seq")));
      }
      await new Promise<void>((r) => bare.close(() => r()));
      await seqAdapter.stop();
      figures.push(
        withPeer(
          "sequential reads of 100 registers via the adapter",
          gwRate,
          "reads/s",
          "bare modbus-serial client loop",
          bareRate,
        ),
      );

      // The simulator against modbus-serial's own ServerTCP, same client, both in this process.
      const simRate = await serverRate(seqS, async () => {
        const sim = new ModbusSimulator([{ ...seqDev, id: "s" }], { animateMs: 0 });
        await sim.start();
        return { port: (sim.address("s") as { port: number }).port, stop: () => sim.stop() };
      });
      const msRate = await serverRate(seqS, async () => {
        const port = 20000 + Math.floor(Math.random() * 20000);
        const server = new modbusSerial.ServerTCP(
          { getHoldingRegister: (addr: number) => addr },
          { host: "127.0.0.1", port, unitID: 1 },
        );
        await new Promise<void>((r) => server.on("initialized", () => r()));
        return { port, stop: () => new Promise<void>((r) => server.close(() => r())) };
      });
      figures.push(
        withPeer(
          "simulator: sequential requests answered",
          simRate,
          "req/s",
          "modbus-serial ServerTCP",
          msRate,
        ),
      );
      return figures;
    } finally {
      for (const a of adapters) await a.stop().catch(() => {});
      child.kill();
    }
  },
};

async function serverRate(
  seconds: number,
  start: () => Promise<{ port: number; stop: () => Promise<void> }>,
): Promise<number> {
  const s = await start();
  const c = new ModbusRTU();
  try {
    await c.connectTCP("127.0.0.1", { port: s.port });
    c.setID(1);
    c.setTimeout(1000);
    return await timedLoop(seconds, 100_000, () => c.readHoldingRegisters(0, 100));
  } finally {
    await new Promise<void>((r) => c.close(() => r()));
    await s.stop();
  }
}

export default bench;
