// The sd_notify protocol against a NOTIFY_SOCKET this test listens on: the notifier's datagrams,
// the gateway's READY (only once its listeners are bound), STATUS, watchdog pings and STOPPING, and
// a blocked event loop that stops the watchdog pings.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { notifyEnv, formatMessage, SystemdNotifier } from "../../gateway/systemd/notify.js";
import { statusLine } from "../../gateway/systemd/service.js";
import type { Status } from "../../gateway/status.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { cliPath } from "../helpers/cli.js";
import { NotifyListener } from "../helpers/notify-socket.js";
import { freePort, PASSWORD, startDev, tempDir } from "../iggy/helpers.js";

test("notifyEnv: the socket, and half of WATCHDOG_USEC when the watchdog is meant for this process", () => {
  assert.equal(notifyEnv({}), null);
  assert.deepEqual(notifyEnv({ NOTIFY_SOCKET: "/run/systemd/notify" }), {
    socketPath: "/run/systemd/notify",
    watchdogPingMs: null,
  });
  assert.deepEqual(notifyEnv({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "30000000" }, 42), {
    socketPath: "/n",
    watchdogPingMs: 15_000,
  });
  assert.equal(
    notifyEnv({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "42" }, 42)!.watchdogPingMs,
    15_000,
  );
  assert.equal(
    notifyEnv({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "30000000", WATCHDOG_PID: "7" }, 42)!.watchdogPingMs,
    null,
  );
  assert.equal(notifyEnv({ NOTIFY_SOCKET: "/n", WATCHDOG_USEC: "nonsense" })!.watchdogPingMs, null);
});

test("formatMessage: one KEY=VALUE a line, a value kept on one line", () => {
  assert.equal(formatMessage({ READY: "1", STATUS: "a\nb\r\nc" }), "READY=1\nSTATUS=a b c");
  assert.equal(formatMessage({ STATUS: undefined, WATCHDOG: "1" }), "WATCHDOG=1");
});

test("statusLine: devices up, buffer depth and oldest age, the Iggy link", () => {
  const s: Status = {
    gateway: "g",
    version: "0",
    started_at: "",
    uptime_s: 1,
    ready: true,
    not_ready: [],
    connections: [],
    devices: [
      { id: "a", protocol: "mqtt", up: true, points: {} },
      { id: "b", protocol: "modbus", up: false, points: {} },
      { id: "c", protocol: "coap", up: true, points: {} },
    ],
    buffer: { state: "open", readings: 1204, bytes: 98_304, oldestAgeMs: 4_000 },
    iggy: { connected: true },
  };
  assert.equal(statusLine(s), "2/3 devices up; buffer 1,204 readings (96 KiB), oldest 4 s; Iggy connected");
  const down = statusLine({
    ...s,
    ready: false,
    not_ready: ["forwarder restarting"],
    buffer: { state: "failed", error: "disk I/O error" },
    iggy: { connected: false, last_error: "ECONNREFUSED" },
  });
  assert.equal(
    down,
    "2/3 devices up; buffer FAILED: disk I/O error; Iggy DISCONNECTED (ECONNREFUSED); not ready: forwarder restarting",
  );
});

test(
  "SystemdNotifier sends READY, STATUS, STOPPING as datagrams to NOTIFY_SOCKET",
  { timeout: 30_000 },
  async (t) => {
    const sd = new NotifyListener(t);
    assert.equal(SystemdNotifier.fromEnv({}), null, "no NOTIFY_SOCKET: no notifier");
    const notifier = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: sd.path })!;
    t.after(() => notifier.close());
    notifier.ready("all good");
    notifier.status("still good");
    notifier.stopping("bye");
    const stopping = await sd.next("STOPPING=1", (m) => m.STOPPING === "1");
    assert.deepEqual(sd.messages.slice(0, stopping.index + 1), [
      { READY: "1", STATUS: "all good", MAINPID: String(process.pid) },
      { STATUS: "still good" },
      { STOPPING: "1", STATUS: "bye" },
    ]);
    assert.equal(notifier.sent, 3);
  },
);

test("a notify socket that is gone costs a warning, not the process", { timeout: 30_000 }, async (t) => {
  const dir = tempDir("iggy-edge-notify-gone-");
  t.after(() => dir.remove());
  const warnings: unknown[] = [];
  const log = { warn: (...args: unknown[]) => warnings.push(args) } as never;
  const notifier = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: join(dir.path, "nobody.sock") }, log)!;
  t.after(() => notifier.close());
  for (let i = 0; i < 5; i++) notifier.status(`try ${i}`);
  assert.equal(notifier.sent, 0);
  assert.equal(warnings.length, 1, "one warning however many sends failed");
});

test("an abstract NOTIFY_SOCKET is refused with an error in the log", () => {
  const errors: unknown[] = [];
  const log = { error: (...args: unknown[]) => errors.push(args) } as never;
  assert.equal(SystemdNotifier.fromEnv({ NOTIFY_SOCKET: "@/org/freedesktop/systemd1/notify" }, log), null);
  assert.equal(errors.length, 1);
});

test(
  "a blocked event loop stops the watchdog pings; they resume when it runs again",
  { timeout: 60_000 },
  async (t) => {
    const sd = new NotifyListener(t);
    const dir = tempDir("iggy-edge-block-");
    t.after(() => dir.remove());
    const fifo = join(dir.path, "block.fifo");
    assert.equal(spawnSync("mkfifo", [fifo]).status, 0, "mkfifo");
    const watchdogUsec = 200_000;
    const child = killAtEnd(
      t,
      spawn(process.execPath, [resolve(import.meta.dirname, "blocking-child.js")], {
        env: {
          ...process.env,
          NOTIFY_SOCKET: sd.path,
          WATCHDOG_USEC: String(watchdogUsec),
          BLOCK_FIFO: fifo,
        },
        stdio: ["ignore", "inherit", "inherit"],
      }),
    );
    const { index: ready } = await sd.next("READY=1", (m) => m.READY === "1");
    let from = ready;
    for (let i = 0; i < 3; i++)
      from = (await sd.next(`watchdog ping ${i + 1}`, (m) => m.WATCHDOG === "1", from + 1)).index;

    child.kill("SIGUSR1");
    const { index: blocked } = await sd.next("STATUS=blocking", (m) => m.STATUS === "blocking");
    // What systemd does: a deadline of WATCHDOG_USEC after the last ping. The child stays blocked
    // until that deadline passed, so the only question is whether a ping came in between.
    await new Promise((r) => setTimeout(r, watchdogUsec / 1000));

    await writeFile(fifo, "go");
    const { index: unblocked } = await sd.next(
      "STATUS=unblocked",
      (m) => m.STATUS === "unblocked",
      blocked + 1,
    );
    assert.equal(
      sd.messages.slice(blocked + 1, unblocked).filter((m) => m.WATCHDOG === "1").length,
      0,
      "no ping between blocking and unblocking",
    );
    await sd.next("a ping after the loop runs again", (m) => m.WATCHDOG === "1", unblocked + 1);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    assert.deepEqual(await exited, [0, null]);
  },
);

function gatewayConfig(dataDir: string, iggyPort: number, httpPort: number, mqttPort: number): string {
  return [
    `gateway: { id: notify-test, data_dir: ${JSON.stringify(dataDir)} }`,
    `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: ${PASSWORD}, batch: { linger_ms: 5 } }`,
    `http: { listen: 127.0.0.1:${httpPort} }`,
    `mqtt: { broker: { listen: 127.0.0.1:${mqttPort}, allow_anonymous: true } }`,
    "devices:",
    "  - id: sensor-1",
    "    protocol: mqtt",
    "    points: [ { name: temperature, topic: s/1/t, decode: number } ]",
    "",
  ].join("\n");
}

async function accepts(port: number): Promise<boolean> {
  const socket = connect(port, "127.0.0.1");
  try {
    await once(socket, "connect");
    return true;
  } catch {
    return false;
  } finally {
    socket.destroy();
  }
}

test(
  "iggy-edge run under NOTIFY_SOCKET: pings the watchdog, READY once its listeners are bound, STATUS, RELOADING, STOPPING",
  { timeout: 120_000 },
  async (t) => {
    const sd = new NotifyListener(t);
    const dev = await startDev();
    t.after(() => dev.close());
    const dir = tempDir("iggy-edge-notify-gw-");
    t.after(() => dir.remove());
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    const file = join(dir.path, "gw.yaml");
    writeFileSync(file, gatewayConfig(join(dir.path, "data"), dev.address.port, httpPort, mqttPort));
    const gw = killAtEnd(
      t,
      spawn(process.execPath, [cliPath, "run", "-c", file], {
        env: {
          ...process.env,
          NOTIFY_SOCKET: sd.path,
          WATCHDOG_USEC: "1000000",
          IGGY_EDGE_LOG_FORMAT: "json",
        },
        stdio: ["ignore", "ignore", "inherit"],
      }),
    );

    const died = once(gw, "exit").then(([code]) => {
      throw new Error(`the gateway exited (${String(code)}) before READY`);
    });
    const { message: ready, index: readyAt } = await Promise.race([
      sd.next("READY=1", (m) => m.READY === "1", 0, 60_000),
      died,
    ]);
    // READY is sent only after every listener is bound: both answer right away.
    assert.ok(await accepts(httpPort), "HTTP bound at READY");
    assert.ok(await accepts(mqttPort), "MQTT broker bound at READY");
    assert.equal(ready.MAINPID, String(gw.pid));
    assert.match(ready.STATUS!, /^\d\/1 devices up; buffer 0 readings/);
    const before = sd.messages.slice(0, readyAt);
    assert.ok(
      before.some((m) => m.STATUS === "starting"),
      "a status before READY",
    );
    assert.ok(
      before.some((m) => m.WATCHDOG === "1"),
      "the watchdog is pinged from the start, before READY",
    );

    await sd.next("a watchdog ping after READY", (m) => m.WATCHDOG === "1", readyAt + 1);
    await sd.next(
      "STATUS with the Iggy link up",
      (m) => /Iggy connected/.test(m.STATUS ?? ""),
      readyAt,
      60_000,
    );

    const mark = sd.messages.length;
    gw.kill("SIGHUP");
    const { index: reloading } = await sd.next("RELOADING=1", (m) => m.RELOADING === "1", mark);
    await sd.next("READY=1 after the reload", (m) => m.READY === "1", reloading + 1);

    const exited = once(gw, "exit");
    gw.kill("SIGTERM");
    const { message: stopping } = await sd.next("STOPPING=1", (m) => m.STOPPING === "1", readyAt + 1);
    assert.equal(stopping.STATUS, "stopping: SIGTERM");
    assert.deepEqual(await exited, [0, null]);
  },
);
