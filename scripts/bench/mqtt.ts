// MQTT: QoS1 publishes acknowledged after the durable commit through the embedded broker (real
// buffer, sync full) as a ratio to Mosquitto's own QoS1 rate with the same publisher, measured in
// the same run; QoS0 ingest into the buffer; the gateway's RSS with 1,000 connected device clients.
// The same QoS1 figure for MQTT 5: publishers speaking v5 to the broker on aedes 2 (mqtt5: true)
// beside v5 to Mosquitto, and 3.1.1 publishers on aedes 2.
// The gateway side runs in a child process (this file with --mqtt-bench-child), like Mosquitto.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { connectAsync, type MqttClient } from "mqtt";
import { withPeer, type Benchmark, type Figure } from "../bench-kit.js";

const USER = { username: "bench", password: "bench-pw" };
const CHILD_FLAG = "--mqtt-bench-child";

async function child(dir: string, mqtt5: boolean): Promise<void> {
  const pino = (await import("pino")).default;
  const { openBuffer } = await import("../../buffer/index.js");
  const { configSchema, protocolContext } = await import("../../protocols/registry.js");
  const { MqttAdapter } = await import("../../protocols/mqtt/adapter.js");
  const buffer = await openBuffer({ dir, sync: "full", maxBytes: 4 * 1024 ** 3 });
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
  await adapter.start(async (rs) => {
    await buffer.append(rs);
    committed += rs.length;
  });
  process.send!({ port: adapter.brokerAddress()!.port });
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "stats") process.send!({ committed, rss: process.memoryUsage().rss });
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.argv[2] === CHILD_FLAG) await child(process.argv[3]!, process.argv[4] === "mqtt5");

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((res) => {
      const s = net.connect(port, "127.0.0.1");
      s.once("connect", () => (s.destroy(), res(true)));
      s.once("error", () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** `conns` publishers, each with `inflight` QoS1 publishes outstanding, for `seconds` (or `max` each). */
async function qos1Rate(
  port: number,
  conns: number,
  inflight: number,
  seconds: number,
  max: number,
  protocolVersion: 4 | 5 = 4,
): Promise<number> {
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
          c.publish(`bench/d${i}/v`, payload, { qos: 1 }, (err) => {
            if (!err) acked++;
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
  return counts.reduce((a, b) => a + b, 0) / secs;
}

function ask(gw: ChildProcess): Promise<{ committed: number; rss: number }> {
  return new Promise((resolve) => {
    gw.once("message", (m) => resolve(m as { committed: number; rss: number }));
    gw.send({ cmd: "stats" });
  });
}

const bench: Benchmark = {
  description:
    "MQTT: QoS1 acked after durable commit through the embedded broker vs Mosquitto (same publisher), QoS0 ingest, RSS with 1,000 clients",
  async run(ctx) {
    const figures: Figure[] = [];
    const seconds = ctx.quick ? 2 : 8;
    const conns = 4;
    const inflight = 100;
    const max = ctx.quick ? 50_000 : 500_000;

    // Mosquitto, our config, a free loopback port.
    const mdir = join(ctx.tmpDir, "mosquitto");
    mkdirSync(mdir);
    chmodSync(mdir, 0o777);
    const mport = await freePort();
    writeFileSync(
      join(mdir, "m.conf"),
      `listener ${mport} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n`,
    );
    const mosq = spawn("mosquitto", ["-c", join(mdir, "m.conf")], { stdio: "ignore" });
    const gateway = (dir: string, ...args: string[]) =>
      fork(new URL(import.meta.url).pathname, [CHILD_FLAG, join(ctx.tmpDir, dir), ...args], {
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      });
    const gw = gateway("buffer");
    const gw5 = gateway("buffer-mqtt5", "mqtt5");
    try {
      await waitPort(mport, 10_000);
      const listening = (g: ChildProcess) =>
        new Promise<{ port: number }>((res, rej) => {
          g.once("message", (m) => res(m as { port: number }));
          g.once("exit", (c) => rej(new Error(`gateway child exited (${c})`)));
        });
      const [{ port }, { port: port5 }] = await Promise.all([listening(gw), listening(gw5)]);

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
        `QoS1: ${conns} connections x ${inflight} in flight, ${seconds} s each, Mosquitto then the embedded broker`,
      );
      const mosqRate = await qos1Rate(mport, conns, inflight, seconds, max);
      const before = await ask(gw);
      const ourRate = await qos1Rate(port, conns, inflight, seconds, max);
      const after = await ask(gw);
      ctx.log(
        `Mosquitto ${mosqRate.toFixed(0)} msg/s, embedded + commit ${ourRate.toFixed(0)} msg/s (${after.committed - before.committed} committed)`,
      );
      figures.push(
        withPeer(
          "qos1_acked_after_commit",
          ourRate,
          "msg/s",
          "mosquitto_qos1",
          mosqRate,
          ">= 20000 (ratio >= 0.5)",
        ),
      );

      ctx.log(
        "QoS1 again with MQTT 5: Mosquitto, then the embedded broker on aedes 2 (mqtt5: true), then 3.1.1 there",
      );
      const mosqRate5 = await qos1Rate(mport, conns, inflight, seconds, max, 5);
      const ourRate5 = await qos1Rate(port5, conns, inflight, seconds, max, 5);
      const ourRate5v311 = await qos1Rate(port5, conns, inflight, seconds, max, 4);
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
          ourRate,
        ),
      );

      // QoS0: a fixed number of messages, timed until the last one is committed.
      const n0 = ctx.quick ? 50_000 : 300_000;
      const pubs: MqttClient[] = await Promise.all(
        Array.from({ length: conns }, (_, i) =>
          connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, clientId: `q0-${i}`, reconnectPeriod: 0 }),
        ),
      );
      const base = (await ask(gw)).committed;
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
      await Promise.all(pubs.map((c) => c.endAsync(true)));
      ctx.log(`QoS0: ${committed} of ${n0} committed, ${q0.toFixed(0)} msg/s`);
      figures.push({ name: "qos0_ingest_committed", value: q0, unit: "msg/s", target: ">= 50000" });
    } finally {
      gw.kill("SIGKILL");
      gw5.kill("SIGKILL");
      mosq.kill("SIGKILL");
    }
    return figures;
  },
};

export default bench;
