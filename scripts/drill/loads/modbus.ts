// Modbus TCP polling of the project's simulator (`iggy-edge simulate`, from the same device map).
// A polled source has no acknowledgement: what the gateway counted as committed (its own metric) must
// be in Iggy (CommittedCount); the drill's sequence check finds doubles.
import { spawn, type ChildProcess } from "node:child_process";
import { cliPath } from "../../../test/helpers/cli.js";
import { freePort } from "../../bench-kit.js";
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import { until } from "../kit.js";
import { PolledLoad, type LoadEnv, type LoadVerdict } from "./load.js";

const DEVICE = "boiler-drill";

export class ModbusLoad extends PolledLoad {
  readonly name = "modbus";
  private sim: ChildProcess | null = null;
  private port = 0;

  constructor() {
    super("modbus", DEVICE);
  }

  override async prepare(env: LoadEnv): Promise<void> {
    await super.prepare(env);
    this.port = await freePort();
  }

  devices(): string[] {
    return [
      `  - id: ${DEVICE}`,
      "    protocol: modbus",
      `    connection: { host: 127.0.0.1, port: ${this.port}, unit_id: 1 }`,
      "    poll_ms: 20",
      "    points:",
      '      - { name: temperature, address: "holding:100", type: float32 }',
      '      - { name: pressure, address: "holding:102", type: int16 }',
    ];
  }

  /** The simulator starts with the first round: it reads the config file the drill wrote by then. */
  private async startSimulator(): Promise<void> {
    const sim = spawn(
      process.execPath,
      [cliPath, "simulate", "-c", this.env.configFile, "--device", DEVICE],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ...this.env.configEnv, IGGY_EDGE_LOG_FORMAT: "json" },
      },
    );
    let out = "";
    sim.stdout!.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-8192)));
    sim.stderr!.on("data", (b: Buffer) => (out = (out + b.toString()).slice(-8192)));
    this.sim = sim;
    this.env.ctx.after(() => sim.kill("SIGKILL"));
    await until(`the Modbus simulator on ${this.port}`, async () => {
      if (sim.exitCode !== null) throw new Error(`the Modbus simulator exited: ${out}`);
      return out.includes('"msg":"simulating"');
    });
  }

  override async beginRound(gateway: GatewayProcess): Promise<void> {
    if (!this.sim) await this.startSimulator();
    await super.beginRound(gateway);
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    return this.count.judge(this.name, stored, [
      `polled in ${this.readRounds} rounds before the kill; a polled reading has no acknowledgement: judged against the gateway's committed count; the sequence check finds doubles`,
    ]);
  }

  async close(): Promise<void> {
    this.sim?.kill("SIGKILL");
  }
}
