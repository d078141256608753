// MQTT client mode: how fast the gateway takes QoS1 messages from a site Mosquitto, each acknowledged
// after the durable commit that holds it (real buffer, sync full), beside a bare mqtt.js subscriber
// that acknowledges at once, against the same Mosquitto in the same run. Both drain the same
// queue: their sessions subscribe, go away, N messages are published (queued for each), then each
// connects and is timed until it has all N. The gateway side runs in a child process (this file
// with --mqtt-client-bench-child), the bare subscriber in this one.
import { fork, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, connectAsync, type IClientOptions } from "mqtt";
import { type Benchmark, type Figure, freePort, waitPort, withPeer } from "../bench-kit.js";

const CHILD_FLAG = "--mqtt-client-bench-child";
const TOPIC = "bench/+device/v";
const PUBLISHERS = 4;
const PUBLISH_WINDOW = 100;
const GATEWAY_ID = "bench-gw";
const BARE_ID = "bench-bare";

interface ChildDone {
  seconds: number;
  committed: number;
  ackDelayMs: number | null;
}

async function child(dir: string, url: string, expect: number): Promise<void> {
  const pino = (await import("pino")).default;
  const { openBuffer } = await import("../../buffer/index.js");
  const [{ configSchema }, { protocolContext }] = await Promise.all([
    import("../../protocols/config-schema.js"),
    import("../../protocols/registry.js"),
  ]);
  const { MqttAdapter } = await import("../../protocols/mqtt/adapter.js");
  const buffer = await openBuffer({ dir, sync: "full", maxBytes: 4 * 1024 ** 3 });
  const config = configSchema.parse({
    gateway: { id: "bench", data_dir: dir },
    devices: [
      {
        id: "dev",
        protocol: "mqtt",
        connection: { url, client_id: GATEWAY_ID },
        points: [{ name: "v", topic: TOPIC, qos: 1 }],
      },
    ],
  });
  if (config.devices[0]?.protocol !== "mqtt") throw new Error("unreachable");
  const adapter = new MqttAdapter([config.devices[0]], protocolContext(config, "mqtt"), {
    log: pino({ level: "warn" }),
    reject: () => {},
  });
  let committed = 0;
  let t0 = 0;
  let reported = false;
  const emit = async (readings: Parameters<typeof buffer.append>[0]) => {
    await buffer.append(readings);
    committed += readings.length;
    if (committed >= expect && !reported) {
      reported = true;
      const seconds = (performance.now() - t0) / 1000;
      const ackDelayMs = adapter.health().connections?.[0]?.ack_delay_ms ?? null;
      process.send!({ done: { seconds, committed, ackDelayMs } satisfies ChildDone });
    }
  };
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "start") {
      t0 = performance.now();
      void adapter.start(emit);
    }
    if (m.cmd === "stop") {
      void adapter
        .stop()
        .then(() => buffer.close())
        .then(() => process.exit(0));
    }
  });
  process.send!({ ready: true });
}

if (process.argv[2] === CHILD_FLAG) await child(process.argv[3]!, process.argv[4]!, Number(process.argv[5]));

function subscriberOptions(clientId: string): IClientOptions {
  return {
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 3600, receiveMaximum: 65535 },
    reconnectPeriod: 0,
  };
}

/** A persistent session for `clientId` subscribed to the topic, left offline: Mosquitto queues for it. */
async function prepareSession(url: string, clientId: string): Promise<void> {
  const c = await connectAsync(url, subscriberOptions(clientId));
  await c.subscribeAsync("bench/+/v", { qos: 1 });
  await c.endAsync();
}

/** `total` QoS1 messages from PUBLISHERS publishers, each on its own topic, payload its sequence number. */
async function publish(url: string, total: number): Promise<void> {
  const per = Math.ceil(total / PUBLISHERS);
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async (_, k) => {
      const c = await connectAsync(url, { clientId: `bench-pub-${k}`, reconnectPeriod: 0 });
      let sent = 0;
      let acked = 0;
      await new Promise<void>((resolve, reject) => {
        const next = () => {
          if (sent >= per) {
            if (acked === per) resolve();
            return;
          }
          const seq = sent++;
          c.publish(`bench/p${k}/v`, String(seq), { qos: 1 }, (err) => {
            if (err) return reject(err);
            acked++;
            next();
          });
        };
        for (let i = 0; i < PUBLISH_WINDOW; i++) next();
      });
      await c.endAsync();
    }),
  );
}

/** The bare subscriber: mqtt.js acknowledges each message as it arrives. Seconds until `expect` arrived. */
async function bareDrain(url: string, expect: number, limitMs: number): Promise<number> {
  const t0 = performance.now();
  // The handler is in place before the connection: the queued messages follow the CONNACK at once.
  const c = connect(url, subscriberOptions(BARE_ID));
  try {
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the bare subscriber got ${received} of ${expect}`)),
        limitMs,
      );
      c.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      c.on("message", () => {
        if (++received === expect) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    return (performance.now() - t0) / 1000;
  } finally {
    await c.endAsync();
  }
}

function next<T>(gw: ChildProcess, key: string, limitMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway child sent no ${key}`)), limitMs);
    const onMessage = (m: Record<string, unknown>) => {
      if (!(key in m)) return;
      clearTimeout(timer);
      gw.off("message", onMessage);
      resolve(m[key] as T);
    };
    gw.on("message", onMessage);
    gw.once("exit", (code) => reject(new Error(`the gateway child exited (${code})`)));
  });
}

const bench: Benchmark = {
  description:
    "MQTT client mode: QoS1 from a site Mosquitto acked after durable commit vs a bare mqtt.js subscriber (same queue, same run)",
  async run(ctx) {
    const n = ctx.quick ? 8_000 : 40_000;
    const rounds = ctx.quick ? 1 : 2;
    const limitMs = 120_000;

    // Mosquitto with its defaults, except: no persistence file, and an unlimited queue so that the
    // preloaded messages wait for the offline subscribers.
    const mdir = join(ctx.tmpDir, "mosquitto");
    mkdirSync(mdir);
    chmodSync(mdir, 0o777);
    const mport = await freePort();
    writeFileSync(
      join(mdir, "m.conf"),
      `listener ${mport} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 0\n`,
    );
    const mosq = spawn("mosquitto", ["-c", join(mdir, "m.conf")], { stdio: "ignore" });
    const url = `mqtt://127.0.0.1:${mport}`;
    const children: ChildProcess[] = [];
    try {
      await waitPort(mport, 10_000);
      const gwRates: number[] = [];
      const bareRates: number[] = [];
      const delays: number[] = [];
      for (let round = 1; round <= rounds; round++) {
        await prepareSession(url, BARE_ID);
        await prepareSession(url, GATEWAY_ID);
        const gw = fork(
          new URL(import.meta.url).pathname,
          [CHILD_FLAG, join(ctx.tmpDir, `buffer-${round}`), url, String(n)],
          { stdio: ["ignore", "ignore", "inherit", "ipc"] },
        );
        children.push(gw);
        await next(gw, "ready", 60_000);
        ctx.log(`round ${round}: publishing ${n} QoS1 messages from ${PUBLISHERS} publishers`);
        await publish(url, n);

        const bare = n / (await bareDrain(url, n, limitMs));
        const done = next<ChildDone>(gw, "done", limitMs);
        gw.send({ cmd: "start" });
        const d = await done;
        const ours = d.committed / d.seconds;
        const exited = new Promise((r) => gw.once("exit", r));
        gw.send({ cmd: "stop" });
        await exited;
        ctx.log(
          `round ${round}: bare subscriber ${bare.toFixed(0)} msg/s, gateway ${ours.toFixed(0)} msg/s (${d.committed} committed, ack delay ~${d.ackDelayMs ?? "?"} ms)`,
        );
        bareRates.push(bare);
        gwRates.push(ours);
        if (d.ackDelayMs !== null) delays.push(d.ackDelayMs);
      }
      const best = (xs: number[]) => Math.max(...xs);
      const figures: Figure[] = [
        withPeer(
          "client_qos1_acked_after_commit",
          best(gwRates),
          "msg/s",
          "bare_mqttjs_subscriber",
          best(bareRates),
          ">= 5000 (ratio >= 0.5)",
        ),
      ];
      if (delays.length > 0)
        figures.push({ name: "client_ack_delay_recent_avg", value: Math.min(...delays), unit: "ms" });
      return figures;
    } finally {
      for (const c of children) c.kill("SIGKILL");
      mosq.kill("SIGKILL");
    }
  },
};

export default bench;
