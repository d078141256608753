// Modbus TCP polling of the project's simulator (`iggy-edge simulate`, from the same device map).
// A polled source has no acknowledgement: what the gateway counted as committed (its own metric) must
// be in Iggy (CommittedCount); the drill's sequence check finds doubles.
import { spawn, type ChildProcess } from "node:child_process";
import { cliPath } from "../../../test/helpers/cli.js";
import { freePort } from "../../bench-kit.js";
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import { until } from "../kit.js";
import { CommittedCount, type Load, type LoadEnv, type LoadVerdict } from "./load.js";

const DEVICE = "boiler-drill";

export class ModbusLoad implements Load {
  readonly name = "modbus";
  private sim: ChildProcess | null = null;
  private port = 0;
  private env!: LoadEnv;
  private target = 0;
  private polledRounds = 0;
  private armedThisRound = false;
  private readonly count = new CommittedCount("modbus", DEVICE);

  async prepare(env: LoadEnv): Promise<void> {
    this.env = env;
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

  async beginRound(gateway: GatewayProcess): Promise<void> {
    if (!this.sim) await this.startSimulator();
    await this.count.beginRound(gateway);
    // 0: the kill need not wait for a poll (it may land while the adapter connects).
    this.target = this.env.rng.between(0, 10);
    this.armedThisRound = false;
  }

  async armed(gateway: GatewayProcess): Promise<boolean> {
    if (this.armedThisRound) return true;
    const polled = await this.count.sinceRound(gateway);
    if (polled >= this.target) {
      if (polled > 0) this.polledRounds++;
      this.armedThisRound = true;
      return true;
    }
    return false;
  }

  async endRound(): Promise<void> {}

  async finish(): Promise<void> {}

  /** Nothing to wait for; what the gateway counted by now is the lower bound of what Iggy must hold. */
  async settled(gateway: GatewayProcess): Promise<boolean> {
    await this.count.observe(gateway);
    return true;
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    return this.count.judge(this.name, stored, [
      `polled in ${this.polledRounds} rounds before the kill; a polled reading has no acknowledgement: judged against the gateway's committed count; the sequence check finds doubles`,
    ]);
  }

  async close(): Promise<void> {
    this.sim?.kill("SIGKILL");
  }
}
