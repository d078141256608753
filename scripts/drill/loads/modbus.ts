// Modbus TCP polling of the project's simulator (`iggy-edge simulate`, from the same device map).
// A polled source has no acknowledgement: what the gateway read counts once it is committed, and
// the drill's sequence check (every committed reading once, no gap) is what proves it reached Iggy.
import { spawn, type ChildProcess } from "node:child_process";
import { cliPath } from "../../../test/helpers/cli.js";
import { freePort } from "../../bench-kit.js";
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import { until } from "../kit.js";
import type { Load, LoadEnv, LoadVerdict } from "./load.js";

const DEVICE = "boiler-drill";

export class ModbusLoad implements Load {
  readonly name = "modbus";
  private sim: ChildProcess | null = null;
  private port = 0;
  private env!: LoadEnv;
  private target = 0;
  private polledRounds = 0;
  private armedThisRound = false;

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

  async beginRound(): Promise<void> {
    if (!this.sim) await this.startSimulator();
    // 0: the kill need not wait for a poll (it may land while the adapter connects).
    this.target = this.env.rng.between(0, 10);
    this.armedThisRound = false;
  }

  async armed(gateway: GatewayProcess): Promise<boolean> {
    if (this.armedThisRound) return true;
    const polled =
      (await gateway.metric(`iggy_edge_readings_received_total{protocol="modbus",device="${DEVICE}"}`)) ?? 0;
    if (polled >= this.target) {
      if (polled > 0) this.polledRounds++;
      this.armedThisRound = true;
      return true;
    }
    return false;
  }

  async endRound(): Promise<void> {}

  async finish(): Promise<void> {}

  async settled(): Promise<boolean> {
    return true;
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    const found = stored.filter((r) => r.device === DEVICE).length;
    return {
      load: this.name,
      acknowledged: 0,
      found,
      lost: 0,
      doubled: 0,
      outOfOrder: 0,
      redelivered: 0,
      notes: [
        `polled in ${this.polledRounds} rounds before the kill; a polled reading has no acknowledgement: the sequence check judges doubles and order, not loss`,
      ],
    };
  }

  async close(): Promise<void> {
    this.sim?.kill("SIGKILL");
  }
}
