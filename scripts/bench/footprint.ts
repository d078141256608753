// Footprint: `iggy-edge run` started the way the systemd unit starts it (the bin file, so its #!
// line with its V8 flags applies; NOTIFY_SOCKET and WATCHDOG_USEC from a stand-in socket), against
// a dev-iggy this benchmark runs. For MQTT alone, Modbus alone and all four protocols configured,
// beside a bare `node -e` in the same run: start-to-READY (spawn until /readyz answers 200), the CPU
// time the child used until then, and its idle RSS read from /proc once it is steady. MQTT alone
// also: once one device has connected, published and stayed connected, and 4 minutes after READY
// (the idle command polling grows it). Then what the MQTT gateway's RSS is made of: fresh probe
// processes that each go one step further on the way to a running gateway
// (scripts/footprint-probe.ts), measured the same way.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MqttClient } from "mqtt";
import type { Benchmark, BenchContext, Figure } from "../bench-kit.js";
import { freePort, medianOf, withPeer } from "../bench-kit.js";
import { BIN, binLine, binNodeFlags, executableBin, unitEnvironment } from "../installed.js";

const MiB = 1024 * 1024;

export { binNodeFlags, unitEnvironment };

interface Mem {
  rss: number;
  anon: number;
  file: number;
}

function readMem(pid: number): Mem {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? NaN);
  return { rss: kib("VmRSS") / 1024, anon: kib("RssAnon") / 1024, file: kib("RssFile") / 1024 };
}

/** User + system CPU of every thread of the process so far, in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Settled {
  mem: Mem;
  samples: number;
  steady: boolean;
}

const MIN_SAMPLES = 30;

/**
 * Samples /proc every `intervalMs`, at least MIN_SAMPLES times (15 s), until the last `window` samples of RSS lie within `tolMiB` of each
 * other (or `maxSamples` were taken), and gives the median of that window.
 */
async function settledMem(pid: number, maxSamples: number): Promise<Settled> {
  const intervalMs = 500;
  const window = 10;
  const tolMiB = 0.5;
  const seen: Mem[] = [];
  for (let i = 0; i < maxSamples; i++) {
    await sleep(intervalMs);
    seen.push(readMem(pid));
    // V8's memory reducer first runs about 8 s after the allocation rate falls: idle means after it.
    if (seen.length < MIN_SAMPLES) continue;
    const last = seen.slice(-window);
    const rss = last.map((m) => m.rss);
    if (Math.max(...rss) - Math.min(...rss) <= tolMiB)
      return { mem: median(last), samples: seen.length, steady: true };
  }
  return { mem: median(seen.slice(-window)), samples: seen.length, steady: false };
}

function median(ms: Mem[]): Mem {
  const sorted = [...ms].sort((a, b) => a.rss - b.rss);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(killer);
}

export interface Scenario {
  name: string;
  title: string;
  /** The config file's text; HTTP_PORT is where /readyz is. */
  yaml: string;
  httpPort: number;
  /** Node flags added to the bin's own (then node runs the bin, as a unit with its own ExecStart would). */
  extraNodeFlags?: string[];
  /** The command that runs `iggy-edge ARGS` (for example under an emulator) instead of the bin. */
  launch?: (args: string[]) => [string, string[]];
  /** How long READY may take (60 s unless said). */
  readyWithinMs?: number;
  /** Added to the child's environment (NOTIFY_SOCKET, WATCHDOG_USEC: run as the systemd unit runs it). */
  env?: Record<string, string>;
  /** Also read the RSS this long after READY (the gateway's periodic work goes on while it idles). */
  longIdleMs?: number;
  /**
   * Once idle, an MQTT device connects, publishes one reading at QoS 1 and stays connected (its
   * keepalive pings go on); the RSS is read again once steady.
   */
  device?: { port: number; username: string; password: string; topic: string };
}

/**
 * A datagram socket in systemd's place: with NOTIFY_SOCKET set, the gateway runs as under its
 * unit (deploy/iggy-edge.service, Type=notify, WatchdogSec=30s): READY, the watchdog, a STATUS= line
 * every 5 s. What those cost belongs in the footprint of a Pi's gateway.
 */
export function systemdStandIn(dir: string): { env: Record<string, string>; close(): void } {
  const dgram = createRequire(import.meta.url)("unix-dgram") as {
    createSocket(type: "unix_dgram"): {
      bind(path: string): void;
      close(): void;
      on(event: "message" | "error", listener: () => void): void;
    };
  };
  mkdirSync(dir, { recursive: true });
  const path = join(dir, "notify.sock");
  const socket = dgram.createSocket("unix_dgram");
  socket.on("message", () => {});
  socket.on("error", () => {});
  socket.bind(path);
  return { env: { NOTIFY_SOCKET: path, WATCHDOG_USEC: "30000000" }, close: () => socket.close() };
}

export interface RunResult {
  readyMs: number;
  cpuMs: number;
  settled: Settled;
  /** The RSS `longIdleMs` after READY (median of ten samples 0.5 s apart), when asked for. */
  longIdle?: Mem;
  /** Steady again after the device connected, when there is one. */
  withDevice?: Settled;
  heap?: { total: number; used: number };
  notBuilt: string[];
}

/** `iggy-edge run -c FILE` from spawn to READY, then idle. */
export async function runGateway(
  ctx: BenchContext,
  s: Scenario,
  dir: string,
  maxSamples: number,
): Promise<RunResult> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "config.yaml");
  writeFileSync(file, s.yaml.replaceAll("DATA_DIR", join(dir, "data")));
  const t0 = performance.now();
  const [command, args] = s.launch
    ? s.launch(["run", "-c", file])
    : s.extraNodeFlags
      ? [process.execPath, [...binNodeFlags(), ...s.extraNodeFlags, BIN, "run", "-c", file]]
      : [BIN, ["run", "-c", file]];
  const child = spawn(command, args, {
    stdio: ["ignore", "ignore", "pipe"],
    // The #! line's own variables last: through the kernel they override the environment too.
    env: { ...process.env, IGGY_EDGE_LOG_FORMAT: "json", NODE_OPTIONS: "", ...s.env, ...binLine().env },
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  let device: MqttClient | undefined;
  try {
    const readyWithinMs = s.readyWithinMs ?? 60_000;
    const deadline = t0 + readyWithinMs;
    let readyMs = NaN;
    let cpu = NaN;
    while (performance.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`${s.name}: the gateway exited (${child.exitCode}): ${stderr}`);
      const r = await get(s.httpPort, "/readyz").catch(() => null);
      if (r?.status === 200) {
        readyMs = performance.now() - t0;
        cpu = cpuMs(child.pid!);
        break;
      }
      await sleep(5);
    }
    if (Number.isNaN(readyMs))
      throw new Error(`${s.name}: not ready within ${readyWithinMs / 1000} s: ${stderr}`);
    const settled = await settledMem(child.pid!, maxSamples);
    let withDevice: Settled | undefined;
    if (s.device) {
      const { connectAsync } = await import("mqtt");
      const { port, username, password, topic } = s.device;
      device = await connectAsync(`mqtt://127.0.0.1:${port}`, {
        username,
        password,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
      });
      const published = device.publishAsync(topic, "21.5", { qos: 1 });
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        published,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`${s.name}: the device's publish was not acknowledged in 10 s`)),
            10_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      withDevice = await settledMem(child.pid!, maxSamples);
      ctx.log(
        `${s.name}: idle RSS ${withDevice.mem.rss.toFixed(1)} MiB (anon ${withDevice.mem.anon.toFixed(1)}, file ` +
          `${withDevice.mem.file.toFixed(1)}) with one device connected`,
      );
    }
    let longIdle: Mem | undefined;
    if (s.longIdleMs !== undefined) {
      await sleep(Math.max(0, t0 + readyMs + s.longIdleMs - 5_000 - performance.now()));
      const seen: Mem[] = [];
      for (let i = 0; i < 10; i++) {
        await sleep(500);
        seen.push(readMem(child.pid!));
      }
      longIdle = median(seen);
      ctx.log(
        `${s.name}: idle RSS ${longIdle.rss.toFixed(1)} MiB (anon ${longIdle.anon.toFixed(1)}, file ${longIdle.file.toFixed(1)}) ` +
          `${s.longIdleMs / 1000} s after READY`,
      );
    }
    const metrics = (await get(s.httpPort, "/metrics")).body;
    const metric = (name: string) => Number(new RegExp(`^iggy_edge_${name} (\\S+)$`, "m").exec(metrics)?.[1]);
    const status = JSON.parse((await get(s.httpPort, "/api/status")).body) as {
      devices: { id: string; protocol: string; error?: string }[];
    };
    const notBuilt = [
      ...new Set(status.devices.filter((d) => d.error?.includes("not built")).map((d) => d.protocol)),
    ];
    ctx.log(
      `${s.name}: READY after ${readyMs.toFixed(0)} ms (${cpu} ms CPU); idle RSS ${settled.mem.rss.toFixed(1)} MiB ` +
        `(anon ${settled.mem.anon.toFixed(1)}, file ${settled.mem.file.toFixed(1)}) after ${settled.samples} samples` +
        `${settled.steady ? "" : " (not steady)"}${notBuilt.length ? `; not built: ${notBuilt.join(", ")}` : ""}`,
    );
    return {
      readyMs,
      cpuMs: cpu,
      settled,
      ...(longIdle ? { longIdle } : {}),
      ...(withDevice ? { withDevice } : {}),
      heap: {
        total: metric("nodejs_heap_size_total_bytes") / MiB,
        used: metric("nodejs_heap_size_used_bytes") / MiB,
      },
      notBuilt,
    };
  } finally {
    try {
      await device?.endAsync(true);
    } finally {
      await stopChild(child);
    }
  }
}

async function runBare(maxSamples: number): Promise<Settled> {
  const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
  try {
    await sleep(200);
    return await settledMem(child.pid!, maxSamples);
  } finally {
    await stopChild(child);
  }
}

// ---- probes: how far towards a running MQTT gateway, one fresh process each (scripts/footprint-probe.ts) ----

const PROBE = fileURLToPath(new URL("../footprint-probe.js", import.meta.url));
const STEPS = [
  { id: "node", title: "a probe that loads nothing: node with the bin's flags, an ES module, stdout a pipe" },
  { id: "cli", title: "+ CLI: commander and the run command's definition" },
  {
    id: "config",
    title: "+ config loaded in a passing thread (yaml, zod, every protocol's schema there): what stays",
  },
  { id: "log", title: "+ logger (pino, JSON lines)" },
  {
    id: "modules",
    title: "+ gateway modules: prom-client, HTTP, buffer client, Iggy client, forwarder, codecs",
  },
  { id: "buffer", title: "+ the buffer open: its worker thread (V8 isolate, better-sqlite3, SQLite cache)" },
  { id: "running", title: "+ running with no device: buffer, HTTP, metrics, Iggy connection, forwarder" },
  { id: "mqtt-code", title: "+ MQTT adapter's code imported (aedes, mqtt-packet, aedes-persistence, ...)" },
  { id: "mqtt", title: "+ MQTT device configured: broker listening, its session store (SQLite)" },
] as const;
type StepId = (typeof STEPS)[number]["id"];

async function runProbe(
  step: StepId,
  file: string,
  maxSamples: number,
  env: Record<string, string>,
): Promise<Settled> {
  const child = spawn(process.execPath, [...binNodeFlags(), PROBE, step, file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: "", IGGY_EDGE_LOG_FORMAT: "json", ...env, ...binLine().env },
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.once("data", () => resolve());
      child.once("exit", (c) => reject(new Error(`probe ${step} exited (${c}): ${stderr}`)));
    });
    return await settledMem(child.pid!, maxSamples);
  } finally {
    await stopChild(child);
  }
}

// ---- the benchmark ----

export function configs(iggyPort: number, ports: Record<string, number>): Scenario[] {
  const head = (http: number) =>
    `gateway: { id: footprint, data_dir: DATA_DIR }\n` +
    `iggy: { address: "127.0.0.1:${iggyPort}", username: iggy, password: iggy }\n` +
    `http: { listen: "127.0.0.1:${http}" }\n`;
  const mqttSection =
    `mqtt:\n  broker:\n    listen: "127.0.0.1:${ports.mqtt}"\n` +
    `    users: [{ username: dev, password: dev-password, publish: ["s/#"], subscribe: ["s/#"] }]\n`;
  const mqttDevice =
    `  - id: sensor-1\n    protocol: mqtt\n    points:\n` +
    `      - { name: temperature, topic: s/sensor-1/temperature, decode: number, unit: degC }\n`;
  const modbusDevice =
    `  - id: boiler-1\n    protocol: modbus\n    connection: { host: 127.0.0.1, port: ${ports.modbus}, unit_id: 1 }\n` +
    `    poll_ms: 1000\n    points:\n` +
    `      - { name: temperature, address: "holding:100", type: float32, unit: degC }\n` +
    `      - { name: pressure, address: "holding:102", type: int16, scale: 0.01, unit: bar }\n` +
    `      - { name: burner_on, address: "coil:0", type: bool }\n`;
  const coap =
    `  - id: meter-1\n    protocol: coap\n    connection: { mode: server }\n    points:\n` +
    `      - { name: power, path: /d/meter-1/power, decode: number, unit: W }\n`;
  const opcua =
    `  - id: press-1\n    protocol: opcua\n    connection: { endpoint: "opc.tcp://127.0.0.1:${ports.opcua}", security_mode: None }\n` +
    `    points:\n      - { name: speed, node: "ns=2;s=Speed", sampling_ms: 1000, unit: rpm }\n`;
  return [
    {
      name: "mqtt",
      title: "MQTT alone",
      httpPort: ports.httpMqtt!,
      yaml: head(ports.httpMqtt!) + mqttSection + `devices:\n` + mqttDevice,
      device: {
        port: ports.mqtt!,
        username: "dev",
        password: "dev-password",
        topic: "s/sensor-1/temperature",
      },
    },
    {
      name: "mqtt-small",
      title: "MQTT alone, opt-in --optimize-for-size",
      httpPort: ports.httpMqttSmall!,
      yaml:
        head(ports.httpMqttSmall!) +
        mqttSection.replace(`${ports.mqtt}`, `${ports.mqttSmall}`) +
        `devices:\n` +
        mqttDevice,
      extraNodeFlags: ["--optimize-for-size"],
    },
    {
      name: "modbus",
      title: "Modbus alone",
      httpPort: ports.httpModbus!,
      yaml: head(ports.httpModbus!) + `devices:\n` + modbusDevice,
    },
    {
      name: "all",
      title: "all four protocols",
      httpPort: ports.httpAll!,
      yaml:
        head(ports.httpAll!) +
        mqttSection +
        `coap: { listen: "127.0.0.1:${ports.coap}" }\n` +
        `devices:\n` +
        modbusDevice +
        mqttDevice +
        coap +
        opcua,
    },
  ];
}

/**
 * What the scenarios run against: a dev-iggy, free ports, and simulators for the Modbus and OPC-UA
 * devices of the "all" scenario (the Modbus one is also the "modbus" scenario's device).
 */
export async function startScenarioPeers(
  tmpDir: string,
): Promise<{ scenarios: Scenario[]; stop(): Promise<void> }> {
  const { DevIggyServer } = await import("../../gateway/iggy/dev-server/server.js");
  const { parseConfig } = await import("../../gateway/config.js");
  const { ModbusSimulator } = await import("../../protocols/modbus/simulator.js");
  const { OpcuaSimulator } = await import("../../protocols/opcua/simulator.js");
  const iggy = await DevIggyServer.start({ host: "127.0.0.1", port: 0 });
  const ports: Record<string, number> = {};
  for (const k of [
    "mqtt",
    "mqttSmall",
    "modbus",
    "coap",
    "opcua",
    "httpMqtt",
    "httpMqttSmall",
    "httpModbus",
    "httpAll",
  ])
    ports[k] = await freePort();
  const scenarios = configs(iggy.address.port, ports);
  const devices = parseConfig(
    scenarios.find((s) => s.name === "all")!.yaml.replaceAll("DATA_DIR", tmpDir),
    "all.yaml",
  ).config.devices;
  const modbus = new ModbusSimulator(devices.filter((d) => d.protocol === "modbus"));
  await modbus.start();
  const opcua = new OpcuaSimulator(devices.flatMap((d) => (d.protocol === "opcua" ? [d] : [])));
  await opcua.start();
  return {
    scenarios,
    async stop() {
      await modbus.stop();
      await opcua.stop();
      await iggy.close();
    },
  };
}

/**
 * How long after READY the MQTT-alone gateway's RSS is read once more (in the first start only). An
 * idle gateway still polls Iggy's commands topic (`commands.poll_ms`, 50 ms by default), and its RSS
 * grows for minutes after the memory reducer's first pass (V8 optimizes what that polling runs, its
 * heap settles higher); on this machine it levels off within about 4 minutes.
 */
const LONG_IDLE_MS = 240_000;

const TARGETS: Record<string, { rss?: string; ready?: string }> = {
  mqtt: { rss: "< 70", ready: "< 1000" },
  all: { rss: "< 140" },
};

const bench: Benchmark = {
  description:
    "footprint: start-to-READY and idle RSS of `iggy-edge run` (MQTT alone, Modbus alone, all protocols) beside bare node, and what the RSS is made of",
  async run(ctx) {
    // The kernel runs the bin through its #! line, as npm's bin link and the systemd unit do.
    executableBin();
    const flags = binNodeFlags();
    ctx.log(`bin: ${BIN} (node flags from its #! line: ${flags.join(" ") || "none"})`);
    const reps = ctx.quick ? 1 : 3;
    const maxSamples = ctx.quick ? 40 : 60;

    const peers = await startScenarioPeers(ctx.tmpDir);
    const systemd = systemdStandIn(join(ctx.tmpDir, "systemd"));
    // The environment the unit gives the service (deploy/iggy-edge.service), and systemd's own.
    const unitEnv = unitEnvironment();
    ctx.log(`environment from the unit: ${JSON.stringify(unitEnv)}`);
    const scenarios = peers.scenarios.map((s) => ({ ...s, env: { ...unitEnv, ...systemd.env } }));
    const figures: Figure[] = [];
    try {
      const results = new Map<string, RunResult[]>();
      const bare: Settled[] = [];
      // Interleaved, so that a change in the machine's load touches every scenario alike.
      for (let rep = 0; rep < reps; rep++) {
        for (const s of scenarios) {
          const long = rep === 0 && s.name === "mqtt" ? { longIdleMs: LONG_IDLE_MS } : {};
          const r = await runGateway(
            ctx,
            { ...s, ...long },
            join(ctx.tmpDir, `${s.name}-${rep}`),
            maxSamples,
          );
          results.set(s.name, [...(results.get(s.name) ?? []), r]);
        }
        const b = await runBare(maxSamples);
        ctx.log(
          `bare node: idle RSS ${b.mem.rss.toFixed(1)} MiB (anon ${b.mem.anon.toFixed(1)}, file ${b.mem.file.toFixed(1)})`,
        );
        bare.push(b);
      }
      const bareRss = medianOf(bare.map((b) => b.mem.rss));
      for (const s of scenarios) {
        const rs = results.get(s.name)!;
        const rss = medianOf(rs.map((r) => r.settled.mem.rss));
        figures.push(
          withPeer(`idle RSS, ${s.title}`, rss, "MiB", "bare node -e", bareRss, TARGETS[s.name]?.rss),
        );
        figures.push({
          name: `start-to-READY, ${s.title}`,
          value: medianOf(rs.map((r) => r.readyMs)),
          unit: "ms",
          ...(TARGETS[s.name]?.ready ? { target: TARGETS[s.name]!.ready! } : {}),
        });
        figures.push({
          name: `CPU until READY, ${s.title}`,
          value: medianOf(rs.map((r) => r.cpuMs)),
          unit: "ms",
        });
        const mid = rs.find((r) => r.settled.mem.rss === rss) ?? rs[0]!;
        const withDevice = rs.flatMap((r) => (r.withDevice ? [r.withDevice.mem.rss] : []));
        if (withDevice.length > 0) {
          figures.push(
            withPeer(
              `idle RSS, ${s.title}, one device connected`,
              medianOf(withDevice),
              "MiB",
              "bare node -e",
              bareRss,
              TARGETS[s.name]?.rss,
            ),
          );
        }
        const longIdle = rs.find((r) => r.longIdle)?.longIdle;
        if (longIdle) {
          figures.push(
            withPeer(
              `idle RSS ${LONG_IDLE_MS / 60_000} min after READY, ${s.title}${s.device ? ", one device connected" : ""}`,
              longIdle.rss,
              "MiB",
              "bare node -e",
              bareRss,
              TARGETS[s.name]?.rss,
            ),
          );
        }
        figures.push({ name: `idle RSS anonymous, ${s.title}`, value: mid.settled.mem.anon, unit: "MiB" });
        figures.push({ name: `idle RSS file-backed, ${s.title}`, value: mid.settled.mem.file, unit: "MiB" });
        if (mid.heap) {
          figures.push({ name: `main V8 heap committed, ${s.title}`, value: mid.heap.total, unit: "MiB" });
          figures.push({ name: `main V8 heap used, ${s.title}`, value: mid.heap.used, unit: "MiB" });
        }
        if (mid.notBuilt.length) ctx.log(`${s.title}: reported as not built: ${mid.notBuilt.join(", ")}`);
      }

      // What the MQTT gateway's RSS is made of.
      const mqttDir = join(ctx.tmpDir, "probe");
      mkdirSync(mqttDir, { recursive: true });
      const file = join(mqttDir, "config.yaml");
      writeFileSync(file, scenarios[0]!.yaml.replaceAll("DATA_DIR", join(mqttDir, "data")));
      let previous = bareRss;
      for (const step of STEPS) {
        const values: number[] = [];
        for (let rep = 0; rep < reps; rep++)
          values.push((await runProbe(step.id, file, maxSamples, unitEnv)).mem.rss);
        const rss = medianOf(values);
        ctx.log(`probe ${step.id}: ${rss.toFixed(1)} MiB (+${(rss - previous).toFixed(1)})`);
        figures.push({ name: `made of: ${step.title}`, value: rss - previous, unit: "MiB" });
        previous = rss;
      }
      figures.push({ name: "made of: total of a probe running MQTT", value: previous, unit: "MiB" });
    } finally {
      systemd.close();
      await peers.stop();
    }
    return figures;
  },
};

export default bench;
