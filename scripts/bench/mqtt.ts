// MQTT: QoS1 publishes acknowledged after the durable commit through the embedded broker (real
// buffer, sync full, default commit policy) as a ratio to Mosquitto's own QoS1 rate with the same
// publisher, measured in the same run: many in flight per connection, and 16 devices that each wait
// for their PUBACK (latency, rate, bytes written to the device per reading from the gateway
// process's /proc/self/io); QoS0 ingest into the buffer; the gateway's RSS with 1,000 connected
// device clients. The 4 x 100 QoS1 figure also for MQTT 5: v5 publishers to the broker on aedes 2
// (mqtt5: true) beside v5 to Mosquitto, and 3.1.1 publishers there. The gateway side runs in a child
// process (this file with --mqtt-bench-child), like Mosquitto. The two QoS1 comparisons run
// Mosquitto and the gateway in turn three times (MQTT_BENCH_RUNS; --quick once) and keep the medians.
import { execFileSync, fork, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import {
  type BenchContext,
  type Benchmark,
  type Figure,
  freePort,
  medianOf,
  percentile,
  waitPort,
  withPeer,
} from "../bench-kit.js";
import { unitEnvironment } from "../installed.js";

const USER = { username: "bench", password: "bench-pw" };
const CHILD_FLAG = "--mqtt-bench-child";

/**
 * `ackCommitGapMs` undefined: the default commit policy; set, that gap alone (ack_commit_early off,
 * as the policy was before it). `mqtt5`: the broker on aedes 2.
 */
async function child(dir: string, ackCommitGapMs: number | undefined, mqtt5: boolean): Promise<void> {
  const pino = (await import("pino")).default;
  const { openBuffer } = await import("../../buffer/index.js");
  const [{ configSchema }, { protocolContext }] = await Promise.all([
    import("../../protocols/config-schema.js"),
    import("../../protocols/registry.js"),
  ]);
  const { MqttAdapter } = await import("../../protocols/mqtt/adapter.js");
  const buffer = await openBuffer({
    dir,
    sync: "full",
    maxBytes: 4 * 1024 ** 3,
    ...(ackCommitGapMs === undefined ? {} : { ackCommitGapMs, ackCommitEarly: false }),
  });
  const config = configSchema.parse({
    gateway: { id: "bench", data_dir: dir },
    mqtt: {
      broker: { users: [{ ...USER, subscribe: ["bench/#"] }], persist: false, max_connections: 5000, mqtt5 },
    },
    devices: [{ id: "dev", protocol: "mqtt", points: [{ name: "v", topic: "bench/+device/v" }] }],
  });
  if (config.devices[0]?.protocol !== "mqtt") throw new Error("unreachable");
  let committed = 0;
  const adapter = new MqttAdapter(
    [config.devices[0]],
    protocolContext(config, "mqtt"),
    { log: pino({ level: "warn" }), reject: () => {} },
    {
      listen: "127.0.0.1:0",
    },
  );
  await adapter.start(async (rs, options) => {
    await buffer.append(rs, options);
    committed += rs.length;
  });
  process.send!({ port: adapter.brokerAddress()!.port });
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd !== "stats") return;
    void buffer.stats().then((s) =>
      process.send!({
        committed,
        rss: process.memoryUsage().rss,
        cpuUs: cpuUs(process.cpuUsage()),
        written: deviceWrites(),
        commits: s.commits,
      } satisfies GatewayStats),
    );
  });
  process.on("disconnect", () => process.exit(0));
}

interface GatewayStats {
  committed: number;
  rss: number;
  /** CPU time of the whole process (all its threads), µs. */
  cpuUs: number;
  /** Bytes this process had written to the device (the buffer's worker thread included). */
  written: number;
  commits: number;
}

function cpuUs(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

/** CPU time of another process (utime + stime from /proc), µs. */
function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1e6) / CLOCK_TICKS;
}

const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

function deviceWrites(): number {
  const io = Object.fromEntries(
    readFileSync("/proc/self/io", "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(": ")),
  ) as Record<string, string>;
  return Number(io.write_bytes) - Number(io.cancelled_write_bytes);
}

if (process.argv[2] === CHILD_FLAG) {
  const gap = process.argv[4];
  await child(
    process.argv[3]!,
    gap === undefined || gap === "-" ? undefined : Number(gap),
    process.argv[5] === "mqtt5",
  );
}

/** The gateway side in a child process, and the port of its embedded broker. */
async function startGateway(
  dir: string,
  ackCommitGapMs?: number,
  mqtt5 = false,
): Promise<{ gw: ChildProcess; port: number }> {
  const args = [
    CHILD_FLAG,
    dir,
    ackCommitGapMs === undefined ? "-" : String(ackCommitGapMs),
    mqtt5 ? "mqtt5" : "v311",
  ];
  // With the environment the systemd unit gives the service (its malloc settings among it).
  const gw = fork(new URL(import.meta.url).pathname, args, {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, ...unitEnvironment() },
  });
  try {
    const { port } = await new Promise<{ port: number }>((res, rej) => {
      gw.once("message", (m) => res(m as { port: number }));
      gw.once("exit", (c) => rej(new Error(`gateway child exited (${c})`)));
    });
    return { gw, port };
  } catch (err) {
    gw.kill("SIGKILL");
    throw err;
  }
}

interface Qos1Run {
  rate: number;
  /** Messages acknowledged. */
  count: number;
  /** Publish to PUBACK of each message, ms, sorted. */
  latencies: number[];
}

/** `conns` publishers, each with `inflight` QoS1 publishes outstanding, for `seconds` (or `max` each). */
async function qos1Rate(
  port: number,
  conns: number,
  inflight: number,
  seconds: number,
  max: number,
  protocolVersion: 4 | 5 = 4,
): Promise<Qos1Run> {
  const clients = await Promise.all(
    Array.from({ length: conns }, (_, i) =>
      connectAsync(`mqtt://127.0.0.1:${port}`, {
        ...USER,
        clientId: `pub-${i}-${Date.now()}`,
        reconnectPeriod: 0,
        protocolVersion,
      }),
    ),
  );
  const payload = Buffer.from("21.5");
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  const latencies: number[] = [];
  const counts = await Promise.all(
    clients.map(async (c, i) => {
      let acked = 0;
      let sent = 0;
      await new Promise<void>((resolve) => {
        const next = () => {
          if (sent >= max || performance.now() >= end) {
            if (acked === sent) resolve();
            return;
          }
          sent++;
          const started = performance.now();
          c.publish(`bench/d${i}/v`, payload, { qos: 1 }, (err) => {
            if (!err) {
              latencies.push(performance.now() - started);
              acked++;
            }
            next();
          });
        };
        for (let k = 0; k < inflight; k++) next();
      });
      return acked;
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.endAsync(true)));
  const count = counts.reduce((a, b) => a + b, 0);
  return { rate: count / secs, count, latencies: latencies.sort((a, b) => a - b) };
}

function ask(gw: ChildProcess): Promise<GatewayStats> {
  return new Promise((resolve) => {
    gw.once("message", (m) => resolve(m as GatewayStats));
    gw.send({ cmd: "stats" });
  });
}

/** One side's QoS1 run; the commit figures are the gateway's (0 for Mosquitto). */
interface Side {
  rate: number;
  p50: number;
  p99: number;
  /** CPU of the broker's process (all threads) per acknowledged message, µs. */
  cpuUs: number;
  perCommit: number;
  writtenPerReading: number;
}

function rateAndLatency(r: Qos1Run): Pick<Side, "rate" | "p50" | "p99"> {
  return { rate: r.rate, p50: percentile(r.latencies, 50), p99: percentile(r.latencies, 99) };
}

async function mosquittoSide(pid: number, run: () => Promise<Qos1Run>): Promise<Side> {
  const cpu0 = processCpuUs(pid);
  const r = await run();
  return {
    ...rateAndLatency(r),
    cpuUs: (processCpuUs(pid) - cpu0) / Math.max(1, r.count),
    perCommit: 0,
    writtenPerReading: 0,
  };
}

async function gatewaySide(gw: ChildProcess, run: () => Promise<Qos1Run>): Promise<Side> {
  const before = await ask(gw);
  const r = await run();
  const after = await ask(gw);
  const committed = after.committed - before.committed;
  return {
    ...rateAndLatency(r),
    cpuUs: (after.cpuUs - before.cpuUs) / Math.max(1, r.count),
    perCommit: committed / Math.max(1, after.commits - before.commits),
    writtenPerReading: (after.written - before.written) / Math.max(1, committed),
  };
}

/** Each figure's median over the runs. */
function medianSide(sides: Side[]): Side {
  const m = (k: keyof Side) => medianOf(sides.map((s) => s[k]));
  return {
    rate: m("rate"),
    p50: m("p50"),
    p99: m("p99"),
    cpuUs: m("cpuUs"),
    perCommit: m("perCommit"),
    writtenPerReading: m("writtenPerReading"),
  };
}

/**
 * Mosquitto then the gateway, `runs` times in turn, so that a change in the VM's pace during the
 * benchmark reaches both sides alike; each figure is the median of its runs.
 */
async function alternate(
  ctx: BenchContext,
  runs: number,
  mosquitto: () => Promise<Side>,
  gateway: () => Promise<Side>,
): Promise<{ mosq: Side; ours: Side }> {
  const mosq: Side[] = [];
  const ours: Side[] = [];
  for (let i = 0; i < runs; i++) {
    mosq.push(await mosquitto());
    ours.push(await gateway());
    const [m, o] = [mosq.at(-1)!, ours.at(-1)!];
    ctx.log(
      `  run ${i + 1}: Mosquitto ${m.rate.toFixed(0)} msg/s (p50 ${m.p50.toFixed(2)} ms), embedded + commit ` +
        `${o.rate.toFixed(0)} msg/s (p50 ${o.p50.toFixed(2)} ms, p99 ${o.p99.toFixed(2)} ms, ` +
        `${o.perCommit.toFixed(0)} per commit): ${(o.rate / m.rate).toFixed(2)}x`,
    );
  }
  return { mosq: medianSide(mosq), ours: medianSide(ours) };
}

const bench: Benchmark = {
  description:
    "MQTT: QoS1 acked after durable commit through the embedded broker vs Mosquitto (same publisher; 4 x 100 in flight, 16 devices x 1), QoS0 ingest, RSS with 1,000 clients",
  async run(ctx) {
    const figures: Figure[] = [];
    const seconds = ctx.quick ? 2 : 8;
    const conns = 4;
    const inflight = 100;
    const max = ctx.quick ? 50_000 : 500_000;
    const runs = ctx.quick ? 1 : Math.max(1, Math.trunc(Number(process.env.MQTT_BENCH_RUNS)) || 3);

    // Mosquitto, our config, a free loopback port.
    const mdir = join(ctx.tmpDir, "mosquitto");
    mkdirSync(mdir);
    chmodSync(mdir, 0o777);
    const mport = await freePort();
    writeFileSync(
      join(mdir, "m.conf"),
      `listener ${mport} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n`,
    );
    const mosquitto = spawn("mosquitto", ["-c", join(mdir, "m.conf")], { stdio: "ignore" });
    const children: ChildProcess[] = [];
    try {
      await waitPort(mport, 10_000);
      const { gw, port } = await startGateway(join(ctx.tmpDir, "buffer"));
      children.push(gw);
      // For comparison in the same run: a gateway whose commits all wait for the interval, the
      // policy before ack_commit_gap_ms (the gap set to commit_interval_ms, 50).
      const old = await startGateway(join(ctx.tmpDir, "buffer-interval-only"), 50);
      children.push(old.gw);
      const gw5 = await startGateway(join(ctx.tmpDir, "buffer-mqtt5"), undefined, true);
      children.push(gw5.gw);
      const port5 = gw5.port;

      // First, in the fresh process: RSS with 1,000 device clients connected (each subscribed to its command topic).
      const nClients = ctx.quick ? 200 : 1000;
      const idle = (await ask(gw)).rss;
      const devices: MqttClient[] = [];
      for (let i = 0; i < nClients; i += 50) {
        devices.push(
          ...(await Promise.all(
            Array.from({ length: Math.min(50, nClients - i) }, (_, k) =>
              connectAsync(`mqtt://127.0.0.1:${port}`, {
                ...USER,
                clientId: `dev-${i + k}`,
                reconnectPeriod: 0,
                keepalive: 60,
              }),
            ),
          )),
        );
      }
      await Promise.all(devices.map((d, i) => d.subscribeAsync(`bench/dev-${i}/set`, { qos: 1 })));
      await new Promise((r) => setTimeout(r, 1000));
      const rss = (await ask(gw)).rss;
      ctx.log(
        `RSS ${(idle / 2 ** 20).toFixed(1)} MiB idle, ${(rss / 2 ** 20).toFixed(1)} MiB with ${nClients} clients`,
      );
      figures.push({ name: `rss_with_${nClients}_clients`, value: rss / 2 ** 20, unit: "MiB" });
      await Promise.all(devices.map((d) => d.endAsync(true)));

      ctx.log(
        `QoS1: ${conns} connections x ${inflight} in flight, ${seconds} s each, Mosquitto then the embedded broker, ${runs} times`,
      );
      const { mosq, ours } = await alternate(
        ctx,
        runs,
        () => mosquittoSide(mosquitto.pid!, () => qos1Rate(mport, conns, inflight, seconds, max)),
        () => gatewaySide(gw, () => qos1Rate(port, conns, inflight, seconds, max)),
      );
      figures.push(
        withPeer(
          "qos1_acked_after_commit",
          ours.rate,
          "msg/s",
          "mosquitto_qos1",
          mosq.rate,
          ">= 20000 (ratio >= 0.5)",
        ),
        { name: "  its readings per commit", value: ours.perCommit, unit: "readings" },
        { name: "  its bytes written to the device per reading", value: ours.writtenPerReading, unit: "B" },
        withPeer(
          "  its CPU per message (gateway process, all threads)",
          ours.cpuUs,
          "us",
          "mosquitto",
          mosq.cpuUs,
        ),
      );
      const oldRate = await qos1Rate(old.port, conns, inflight, seconds, max);
      ctx.log(`with ack_commit_gap_ms = commit_interval_ms (50): ${oldRate.rate.toFixed(0)} msg/s`);
      figures.push({
        name: "  its rate with ack_commit_gap_ms = commit_interval_ms (50)",
        value: oldRate.rate,
        unit: "msg/s",
      });

      // Devices that wait for each PUBACK before they send the next message.
      const waiting = 16;
      ctx.log(
        `QoS1: ${waiting} connections x 1 in flight, ${seconds} s each, Mosquitto then the embedded broker, ${runs} times`,
      );
      const { mosq: mosq1, ours: ours1 } = await alternate(
        ctx,
        runs,
        () => mosquittoSide(mosquitto.pid!, () => qos1Rate(mport, waiting, 1, seconds, max)),
        () => gatewaySide(gw, () => qos1Rate(port, waiting, 1, seconds, max)),
      );
      figures.push(
        withPeer(
          `qos1_${waiting}_devices_waiting_for_puback_ack_p50`,
          ours1.p50,
          "ms",
          "mosquitto_qos1",
          mosq1.p50,
          "< 10",
        ),
        withPeer(
          `qos1_${waiting}_devices_waiting_for_puback_ack_p99`,
          ours1.p99,
          "ms",
          "mosquitto_qos1",
          mosq1.p99,
        ),
        withPeer(
          `qos1_${waiting}_devices_waiting_for_puback_rate`,
          ours1.rate,
          "msg/s",
          "mosquitto_qos1",
          mosq1.rate,
          ">= 1000",
        ),
        { name: "  its readings per commit", value: ours1.perCommit, unit: "readings" },
        { name: "  its bytes written to the device per reading", value: ours1.writtenPerReading, unit: "B" },
        withPeer(
          "  its CPU per message (gateway process, all threads)",
          ours1.cpuUs,
          "us",
          "mosquitto",
          mosq1.cpuUs,
        ),
      );

      const oldRun = await qos1Rate(old.port, waiting, 1, seconds, max);
      old.gw.kill("SIGKILL");
      ctx.log(
        `with ack_commit_gap_ms = commit_interval_ms (50): ${oldRun.rate.toFixed(0)} msg/s, p50 ${percentile(oldRun.latencies, 50).toFixed(2)} ms`,
      );
      figures.push(
        {
          name: "  its rate with ack_commit_gap_ms = commit_interval_ms (50)",
          value: oldRun.rate,
          unit: "msg/s",
        },
        {
          name: "  its ack p50 with ack_commit_gap_ms = commit_interval_ms (50)",
          value: percentile(oldRun.latencies, 50),
          unit: "ms",
        },
      );

      ctx.log(
        "QoS1 again with MQTT 5: Mosquitto, then the embedded broker on aedes 2 (mqtt5: true), then 3.1.1 there",
      );
      const mosqRate5 = (await qos1Rate(mport, conns, inflight, seconds, max, 5)).rate;
      const ourRate5 = (await qos1Rate(port5, conns, inflight, seconds, max, 5)).rate;
      const ourRate5v311 = (await qos1Rate(port5, conns, inflight, seconds, max, 4)).rate;
      ctx.log(
        `MQTT 5: Mosquitto ${mosqRate5.toFixed(0)} msg/s, aedes 2 + commit ${ourRate5.toFixed(0)} msg/s; 3.1.1 on aedes 2 ${ourRate5v311.toFixed(0)} msg/s`,
      );
      figures.push(
        withPeer("qos1_acked_after_commit_mqtt5", ourRate5, "msg/s", "mosquitto_qos1_mqtt5", mosqRate5),
        withPeer(
          "qos1_acked_after_commit_aedes2_v311",
          ourRate5v311,
          "msg/s",
          "qos1_acked_after_commit (aedes 1.2)",
          ours.rate,
        ),
      );

      // QoS0: a fixed number of messages, timed until the last one is committed.
      const n0 = ctx.quick ? 50_000 : 300_000;
      const pubs: MqttClient[] = await Promise.all(
        Array.from({ length: conns }, (_, i) =>
          connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, clientId: `q0-${i}`, reconnectPeriod: 0 }),
        ),
      );
      const start0 = await ask(gw);
      const base = start0.committed;
      const t0 = performance.now();
      await Promise.all(
        pubs.map(async (c, i) => {
          for (let k = 0; k < n0 / conns; k++) {
            if (!c.publish(`bench/q${i}/v`, "3.5", { qos: 0 }) as unknown as boolean) {
              /* mqtt.js returns the client; flow control is the socket's */
            }
            if (k % 1000 === 999) await new Promise((r) => setImmediate(r));
          }
        }),
      );
      let committed = 0;
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        committed = (await ask(gw)).committed - base;
        if (committed >= n0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const q0 = committed / ((performance.now() - t0) / 1000);
      const cpu0 = ((await ask(gw)).cpuUs - start0.cpuUs) / Math.max(1, committed);
      await Promise.all(pubs.map((c) => c.endAsync(true)));
      ctx.log(
        `QoS0: ${committed} of ${n0} committed, ${q0.toFixed(0)} msg/s, ${cpu0.toFixed(1)} us CPU each`,
      );
      figures.push(
        { name: "qos0_ingest_committed", value: q0, unit: "msg/s", target: ">= 50000" },
        { name: "  its CPU per QoS0 message (gateway process, all threads)", value: cpu0, unit: "us" },
      );
    } finally {
      for (const c of children) c.kill("SIGKILL");
      mosquitto.kill("SIGKILL");
    }
    return figures;
  },
};

export default bench;
