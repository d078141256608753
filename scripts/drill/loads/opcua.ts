// OPC-UA subscriptions to the project's simulator (protocols/opcua/sim-process.ts, a process of its
// own) whose String points read `<device>-<tick>`, the tick growing every 50 ms: each point is a
// series whose order Iggy can show. Nobody acknowledges a subscribed reading: what the gateway
// counted as committed (its own metric) must be in Iggy (CommittedCount); per point, the ticks in
// Iggy must grow. A tick found again right after itself is the server's initial value to a new
// subscription (the gateway started again): at most once per point and gateway start, else doubled.
import { fork, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { opcuaDevice } from "../../../protocols/opcua/schema.js";
import { freePort } from "../../bench-kit.js";
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import { until } from "../kit.js";
import { PolledLoad, type LoadEnv, type LoadVerdict } from "./load.js";

const SIM_PROCESS = resolve(import.meta.dirname, "../../../protocols/opcua/sim-process.js");
const DEVICE = "press-drill";
const POINTS = ["tick-a", "tick-b"];
const ANIMATE_MS = 50;

/** Per (device, point) series of ticks in Iggy's order: out of order, and repeats right after themselves. */
export function judgeTicks(
  stored: StoredReading[],
  device: string,
): { series: number; outOfOrder: number; repeats: number; twiceLater: number } {
  const last = new Map<string, number>();
  const seen = new Map<string, Set<number>>();
  let outOfOrder = 0;
  let repeats = 0;
  let twiceLater = 0;
  for (const r of stored) {
    if (r.device !== device || typeof r.value !== "string") continue;
    const tick = Number(r.value.slice(r.value.lastIndexOf("-") + 1));
    const prev = last.get(r.point);
    let s = seen.get(r.point);
    if (!s) seen.set(r.point, (s = new Set()));
    if (prev === tick) repeats++;
    else if (s.has(tick)) twiceLater++;
    else if (prev !== undefined && tick < prev) outOfOrder++;
    s.add(tick);
    last.set(r.point, tick);
  }
  return { series: seen.size, outOfOrder, repeats, twiceLater };
}

export class OpcuaLoad extends PolledLoad {
  readonly name = "opcua";
  private sim: ChildProcess | null = null;
  private port = 0;

  constructor() {
    super("opcua", DEVICE);
  }

  override async prepare(env: LoadEnv): Promise<void> {
    await super.prepare(env);
    this.port = await freePort();
    // The simulator serves the same device map the gateway reads (validated by the real schema).
    const device = opcuaDevice.parse({
      id: DEVICE,
      protocol: "opcua",
      connection: { endpoint: `opc.tcp://127.0.0.1:${this.port}` },
      points: POINTS.map((name) => ({ name, node: `ns=1;s=Drill.${name}`, type: "String" })),
    });
    const file = join(env.tmpDir, "opcua-devices.json");
    writeFileSync(file, JSON.stringify([device]));
    const sim = fork(SIM_PROCESS, [file], {
      stdio: ["ignore", "ignore", "pipe", "ipc"],
      env: { ...process.env, SIM_ANIMATE_MS: String(ANIMATE_MS) },
    });
    this.sim = sim;
    env.ctx.after(() => sim.kill("SIGKILL"));
    let err = "";
    sim.stderr!.on("data", (b: Buffer) => (err = (err + b.toString()).slice(-4096)));
    await new Promise<void>((ok, fail) => {
      sim.once("message", () => ok());
      sim.once("exit", (code) => fail(new Error(`the OPC-UA simulator exited (${code}): ${err}`)));
    });
  }

  devices(): string[] {
    return [
      `  - id: ${DEVICE}`,
      "    protocol: opcua",
      `    connection: { endpoint: "opc.tcp://127.0.0.1:${this.port}", security_mode: None }`,
      "    points:",
      ...POINTS.map(
        (name) => `      - { name: ${name}, node: "ns=1;s=Drill.${name}", type: String, sampling_ms: 20 }`,
      ),
    ];
  }

  override async finish(gateway: GatewayProcess): Promise<void> {
    // At least one notification in the last start, so that every series has a value to judge.
    await until(
      "an OPC-UA notification after the last start",
      async () => (await this.count.observe(gateway)) > 0,
    );
  }

  verdict(stored: StoredReading[], gatewayStarts: number): LoadVerdict {
    const ticks = judgeTicks(stored, DEVICE);
    const allowed = POINTS.length * gatewayStarts;
    const v = this.count.judge(this.name, stored, [
      `read in ${this.readRounds} rounds before the kill; ${ticks.series} series; ${ticks.repeats} initial values repeated to a new subscription (at most ${allowed}: ${POINTS.length} points × ${gatewayStarts} starts)`,
    ]);
    v.outOfOrder = ticks.outOfOrder;
    v.doubled = ticks.twiceLater + Math.max(0, ticks.repeats - allowed);
    v.redelivered = Math.min(ticks.repeats, allowed);
    if (ticks.series !== POINTS.length) v.notes.push(`expected ${POINTS.length} series in Iggy`);
    return v;
  }

  async close(): Promise<void> {
    this.sim?.kill("SIGKILL");
  }
}
