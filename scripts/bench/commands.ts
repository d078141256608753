// Commands: command -> device write -> result, through dev-iggy and the gateway (`iggy-edge run` in a
// child process: its command router and Modbus adapter as shipped) to the Modbus simulator (in a
// child process of its own), at 100 commands/s paced open loop: each command is sent on its schedule
// whatever the earlier ones are doing, and timed from its send to its result's arrival on the results
// topic. Beside it in the same run and at the same pace, the write alone: a bare modbus-serial client
// writing the same register of the same simulator. Every command must get exactly one result.
// The gateway runs with its defaults (commands.poll_ms 50, a log line per command); the results are
// read by a reader that polls again at once after a result and 2 ms after an empty poll.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import modbusSerial from "modbus-serial";
import { commandMessage, decodeResult, type CommandResult } from "../../gateway/commands/message.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { IggyClient } from "../../gateway/iggy/index.js";
import { modbusDevice, type ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import {
  freePort,
  percentile,
  withPeer,
  type Benchmark,
  type BenchContext,
  type Figure,
} from "../bench-kit.js";

const ModbusRTU = modbusSerial.default;
const root = resolve(import.meta.dirname, "../..");
const devMain = join(root, "gateway/iggy/dev-server/main.js");
const simMain = join(root, "protocols/modbus/sim-process.js");
const cliMain = join(root, "gateway/cli/main.js");

const GATEWAY = "bench-gw";
const STREAM = "iot";
const DEVICE = "valve";
const POINT = "position";
const REGISTER = 10;
const RATE = 100;
const WARM_UP = 20;
/** A result's arrival is seen by a reader that polls again at once after a result and after this long when empty. */
const READER_IDLE_MS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the first match of `re` in the child's output (stdout and stderr); fails when it exits. */
function awaitOutput(child: ChildProcess, re: RegExp, what: string, ms: number): Promise<RegExpExecArray> {
  let out = "";
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${what} not seen within ${ms} ms:\n${out}`)), ms);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.length > 1_000_000) out = out.slice(-100_000);
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${what}: the process exited with ${code}:\n${out}`));
    });
  });
}

function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(force);
      done();
    });
    child.kill(signal);
  });
}

/** CPU time (user + system, ms, all threads) a process has used so far. */
function cpuMs(pid: number): number {
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

function client(port: number): IggyClient {
  return new IggyClient({
    address: `127.0.0.1:${port}`,
    credentials: { username: "iggy", password: "iggy" },
    requestTimeoutMs: 10_000,
  });
}

function device(port: number): ModbusDeviceConfig {
  const parsed = modbusDevice.parse({
    id: DEVICE,
    protocol: "modbus",
    // Polling out of the way: the figure is the write's.
    poll_ms: 60_000,
    connection: { host: "127.0.0.1", port: 1, unit_id: 1, timeout_ms: 2000 },
    points: [{ name: POINT, address: `holding:${REGISTER}`, type: "uint16", write: true }],
  });
  if (parsed.protocol !== "modbus") throw new Error("unreachable");
  parsed.connection.port = port; // 0: the simulator picks a free port
  return parsed;
}

/** Reads the gateway's partition of the results topic from the start, noting when each result arrives. */
class ResultReader {
  readonly arrivals = new Map<string, number>();
  readonly results: CommandResult[] = [];
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly c: IggyClient,
    private readonly partition: number,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    let from = 0n;
    while (!this.stopped) {
      const batch = await this.c.poll(STREAM, "command-results", {
        partition: this.partition,
        strategy: { kind: "offset", value: from },
        count: 1000,
      });
      const now = performance.now();
      let fresh = 0;
      for (const m of batch.messages) {
        if (m.offset < from) continue;
        from = m.offset + 1n;
        fresh++;
        const r = decodeResult(m);
        if (r === null) continue;
        this.results.push(r);
        if (!this.arrivals.has(r.id)) this.arrivals.set(r.id, now);
      }
      if (fresh === 0) await sleep(READER_IDLE_MS);
    }
  }

  /** Until every id has a result, or none came for `idleMs` (a gateway behind works through its backlog). */
  async waitFor(ids: string[], idleMs: number): Promise<void> {
    let seen = this.results.length;
    let quietSince = performance.now();
    while (ids.some((id) => !this.arrivals.has(id))) {
      if (this.results.length !== seen) {
        seen = this.results.length;
        quietSince = performance.now();
      } else if (performance.now() - quietSince > idleMs) return;
      await sleep(20);
    }
  }
}

/** Calls `fn(i)` for i < count at start + i * 1000 / RATE ms (+ offsetMs), not waiting for earlier calls. */
async function paced(count: number, offsetMs: number, fn: (i: number) => void): Promise<void> {
  const start = performance.now() + offsetMs;
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    fn(i);
  }
}

function latencyFigures(label: string, peerLabel: string, ours: number[], peer: number[]): Figure[] {
  const a = [...ours].sort((x, y) => x - y);
  const b = [...peer].sort((x, y) => x - y);
  const row = (p: number | "max", target?: string): Figure => {
    const name = p === "max" ? `${label} max` : `${label} p${p}`;
    const v = (s: number[]) => (p === "max" ? s[s.length - 1]! : percentile(s, p));
    return withPeer(name, v(a), "ms", peerLabel, v(b), target);
  };
  return [row(50), row(90), row(99, "< 100"), row("max")];
}

async function startSimulator(ctx: BenchContext): Promise<{ child: ChildProcess; port: number }> {
  const file = join(ctx.tmpDir, "sim-devices.json");
  writeFileSync(file, JSON.stringify([device(0)]));
  const child = fork(simMain, [file], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, SIM_ANIMATE_MS: "0" },
  });
  const ready = await new Promise<{ addresses: Record<string, { port: number }> }>((ok, fail) => {
    const t = setTimeout(() => fail(new Error("the Modbus simulator did not start in 20 s")), 20_000);
    child.once("message", (m) => {
      clearTimeout(t);
      ok(m as { addresses: Record<string, { port: number }> });
    });
    child.once("exit", (code) => fail(new Error(`the Modbus simulator exited (${code})`)));
  });
  return { child, port: ready.addresses[DEVICE]!.port };
}

async function startGateway(
  ctx: BenchContext,
  iggyPort: number,
  modbusPort: number,
): Promise<{ child: ChildProcess }> {
  const config = join(ctx.tmpDir, "gateway.yaml");
  const httpPort = await freePort();
  writeFileSync(
    config,
    [
      `gateway: { id: ${GATEWAY}, data_dir: ${JSON.stringify(join(ctx.tmpDir, "gateway-data"))} }`,
      `iggy: { address: "127.0.0.1:${iggyPort}", username: iggy, password: iggy, stream: ${STREAM}, create_missing: true }`,
      `http: { listen: "127.0.0.1:${httpPort}" }`,
      "devices:",
      `  - id: ${DEVICE}`,
      `    protocol: modbus`,
      `    poll_ms: 60000`,
      `    connection: { host: 127.0.0.1, port: ${modbusPort}, unit_id: 1, timeout_ms: 2000 }`,
      `    points: [ { name: ${POINT}, address: "holding:${REGISTER}", type: uint16, write: true } ]`,
      "",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [cliMain, "run", "-c", config], {
    cwd: root,
    env: { ...process.env, IGGY_EDGE_CONFIG: undefined, IGGY_PASSWORD: undefined },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return { child };
}

const bench: Benchmark = {
  description:
    "command -> Modbus write -> result through dev-iggy and the gateway at 100 commands/s (open loop), beside a bare modbus-serial write at the same pace",
  async run(ctx) {
    const count = ctx.quick ? 200 : 3000;
    const children: ChildProcess[] = [];
    const clients: IggyClient[] = [];
    const bare = new ModbusRTU();
    let reader: ResultReader | null = null;
    try {
      const dev = spawn(process.execPath, [devMain, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(dev);
      const iggyPort = Number(
        (await awaitOutput(dev, /listening on [^\s]+:(\d+)/, "dev-iggy listening", 20_000))[1],
      );
      const sim = await startSimulator(ctx);
      children.push(sim.child);
      const gw = await startGateway(ctx, iggyPort, sim.port);
      children.push(gw.child);
      // The gateway logs at its default level (a line per command, as shipped); its command router
      // is ready once it has made the two topics.
      const sender = client(iggyPort);
      const resultsClient = client(iggyPort);
      clients.push(sender, resultsClient);
      const gwOut: string[] = [];
      const keep = (d: Buffer) => {
        gwOut.push(d.toString());
        if (gwOut.length > 200) gwOut.shift();
      };
      gw.child.stdout!.on("data", keep);
      gw.child.stderr!.on("data", keep);
      const topics = async () =>
        (await sender.getTopic(STREAM, "commands")) !== null &&
        (await sender.getTopic(STREAM, "command-results")) !== null;
      const ready = performance.now() + 30_000;
      while (!(await topics())) {
        if (gw.child.exitCode !== null)
          throw new Error(`the gateway exited with ${gw.child.exitCode}: ${gwOut.join("").slice(-4000)}`);
        if (performance.now() > ready) throw new Error("the gateway made no command topics within 30 s");
        await sleep(50);
      }
      const commandsTopic = (await sender.getTopic(STREAM, "commands"))!;
      const resultsTopic = (await sender.getTopic(STREAM, "command-results"))!;
      const partition = gatewayPartition(GATEWAY, commandsTopic.partitionsCount);
      reader = new ResultReader(resultsClient, gatewayPartition(GATEWAY, resultsTopic.partitionsCount));
      reader.start();

      const sendAt = new Map<string, number>();
      const sendWall = new Map<string, number>();
      const sendErrors: string[] = [];
      const send = (id: string, value: number): void => {
        sendAt.set(id, performance.now());
        sendWall.set(id, Date.now());
        sender
          .send(STREAM, "commands", [commandMessage({ id, device: DEVICE, point: POINT, value })], {
            partitioning: { kind: "partition", id: partition },
          })
          .then(
            (o) => void (o.status !== "confirmed" && sendErrors.push(`${id}: ${o.error.message}`)),
            (e: Error) => void sendErrors.push(`${id}: ${e.message}`),
          );
      };

      await bare.connectTCP("127.0.0.1", { port: sim.port });
      bare.setID(1);
      bare.setTimeout(2000);

      ctx.log(`warm-up: ${WARM_UP} commands and ${WARM_UP} bare writes`);
      const warmIds = Array.from({ length: WARM_UP }, (_, i) => `warm-${i}`);
      await paced(WARM_UP, 0, (i) => send(warmIds[i]!, i));
      await reader.waitFor(warmIds, 30_000);
      for (let i = 0; i < WARM_UP; i++) await bare.writeRegister(REGISTER, i);
      const warmMissing = warmIds.filter((id) => !reader!.arrivals.has(id));
      if (warmMissing.length > 0)
        throw new Error(
          `no result for ${warmMissing.length} warm-up commands: ${gwOut.join("").slice(-4000)}`,
        );

      ctx.log(`${count} commands at ${RATE}/s, and ${count} bare writes at ${RATE}/s beside them`);
      const ids = Array.from({ length: count }, (_, i) => `cmd-${i}`);
      const bareMs: number[] = [];
      let bareFailed = 0;
      const bareDone: Promise<void>[] = [];
      const cpu0 = { gateway: cpuMs(gw.child.pid!), iggy: cpuMs(dev.pid!) };
      await Promise.all([
        paced(count, 0, (i) => send(ids[i]!, (i + 1000) % 65536)),
        // Half a period later, so that the two do not start on the same tick.
        paced(count, 500 / RATE, (i) => {
          const t0 = performance.now();
          bareDone.push(
            bare.writeRegister(REGISTER, (i + 5000) % 65536).then(
              () => void bareMs.push(performance.now() - t0),
              () => void bareFailed++,
            ),
          );
        }),
      ]);
      await Promise.all(bareDone);
      await reader.waitFor(ids, 30_000);
      const cpu = { gateway: cpuMs(gw.child.pid!) - cpu0.gateway, iggy: cpuMs(dev.pid!) - cpu0.iggy };
      // A last look, so that a late duplicate of the final commands is counted too.
      await sleep(200);
      const seen = reader;
      await seen.stop();
      reader = null;

      const latencies: number[] = [];
      let missing = 0;
      for (const id of ids) {
        const arrived = seen.arrivals.get(id);
        if (arrived === undefined) missing++;
        else latencies.push(arrived - sendAt.get(id)!);
      }
      const timed = new Set(ids);
      const perId = new Map<string, number>();
      const statuses = new Map<string, number>();
      const answered: number[] = [];
      for (const r of seen.results) {
        if (!timed.has(r.id)) continue;
        perId.set(r.id, (perId.get(r.id) ?? 0) + 1);
        if (perId.get(r.id) !== 1) continue;
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        // The result's `at` is the gateway's clock (this machine's) when it answered.
        answered.push(r.at - sendWall.get(r.id)!);
      }
      answered.sort((x, y) => x - y);
      const duplicates = [...perId.values()].reduce((n, k) => n + k - 1, 0);
      const notOk = count - missing - (statuses.get("ok") ?? 0);
      ctx.log(
        `results: ${[...statuses].map(([s, n]) => `${n} ${s}`).join(", ")}; ${missing} missing, ${duplicates} duplicate; ${sendErrors.length} sends not confirmed; ${bareFailed} bare writes failed`,
      );
      if (sendErrors.length > 0) ctx.log(`first send error: ${sendErrors[0]}`);
      if (latencies.length === 0 || bareMs.length === 0)
        throw new Error(`nothing to measure: ${gwOut.join("").slice(-2000)}`);
      return [
        ...latencyFigures(
          `command -> write -> result (${RATE}/s, ${count.toLocaleString("en-US")} commands)`,
          "bare modbus-serial write",
          latencies,
          bareMs,
        ),
        {
          name: "commands without exactly one result (missing + duplicate)",
          value: missing + duplicates,
          unit: "commands",
          target: "0",
        },
        { name: "  of which missing", value: missing, unit: "commands", target: "0" },
        { name: "  of which duplicate results", value: duplicates, unit: "results", target: "0" },
        { name: "results other than ok", value: notOk, unit: "commands", target: "0" },
        {
          name: "  of which send -> answered in the gateway (result's at) p50",
          value: percentile(answered, 50),
          unit: "ms",
        },
        {
          name: "  of which send -> answered in the gateway p99",
          value: percentile(answered, 99),
          unit: "ms",
        },
        // CPU per command: far steadier than the latencies on a shared machine.
        { name: "gateway CPU per command (all threads)", value: cpu.gateway / count, unit: "ms" },
        {
          name: "dev-iggy CPU per command (incl. this benchmark's result reader)",
          value: cpu.iggy / count,
          unit: "ms",
        },
        { name: "bare writes failed", value: bareFailed, unit: "writes", target: "0" },
      ];
    } finally {
      await reader?.stop().catch(() => undefined);
      await new Promise<void>((r) => (bare.isOpen ? bare.close(() => r()) : r()));
      for (const c of clients) await c.close().catch(() => undefined);
      for (const child of [...children].reverse()) await stopChild(child);
    }
  },
};

export default bench;
