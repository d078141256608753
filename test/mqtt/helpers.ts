// Shared by the MQTT tests: configs through the real schema, an adapter on a free port, Mosquitto
// started on a free loopback port with a config of our own, and the mosquitto_pub/sub clients.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { MqttDeviceConfig } from "../../protocols/mqtt/schema.js";
import { configSchema, type Config } from "../../protocols/config-schema.js";
import { protocolContext } from "../../protocols/registry.js";
import type { Emit } from "../../protocols/adapter.js";
import { MqttAdapter } from "../../protocols/mqtt/adapter.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { recorder, waitFor } from "../modbus/helpers.js";

export { recorder, waitFor } from "../modbus/helpers.js";

export const USER = { username: "dev", password: "s3cret-pw" };

export function tempDir(t: TestContext, prefix = "mqtt-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A whole config through the schema; `mqtt.broker` gets one user (USER) unless given. */
export function mqttConfig(devices: Record<string, unknown>[], over: Record<string, unknown> = {}): Config {
  return configSchema.parse({
    gateway: { id: "gw-test", data_dir: "/nonexistent" },
    mqtt: {
      broker: {
        users: [{ ...USER, publish: ["#"], subscribe: ["#"] }],
        ...(over.broker as object),
      },
    },
    devices: devices.map((d) => ({ protocol: "mqtt", ...d })),
  });
}

export function mqttDevices(config: Config): MqttDeviceConfig[] {
  return config.devices.filter((d): d is MqttDeviceConfig => d.protocol === "mqtt");
}

/**
 * The embedded broker's two engines: aedes 1.2 (MQTT 3.1.1, the default) and aedes 2.0.0-beta.1
 * (mqtt.broker.mqtt5: 3.1.1 and 5). Tests that hold for both run on each.
 */
export const ENGINES = [
  { name: "aedes 1.2", mqtt5: false },
  { name: "aedes 2 beta", mqtt5: true },
] as const;

/** `embedded` on one engine. */
export function embeddedOn(engine: (typeof ENGINES)[number]): typeof embedded {
  return (t, devices, opts = {}) =>
    embedded(t, devices, { ...opts, broker: { ...opts.broker, mqtt5: engine.mqtt5 } });
}

export interface EmbeddedRig {
  adapter: MqttAdapter;
  rec: ReturnType<typeof recorder>;
  port: number;
  config: Config;
}

/** An adapter with its embedded broker on a free port; stopped after the test. */
export async function embedded(
  t: TestContext,
  devices: Record<string, unknown>[],
  opts: { broker?: Record<string, unknown>; emit?: Emit; stateDir?: string } = {},
): Promise<EmbeddedRig> {
  const config = mqttConfig(devices, { broker: { persist: false, ...opts.broker } });
  const rec = recorder();
  const adapter = new MqttAdapter(mqttDevices(config), protocolContext(config, "mqtt"), rec.deps, {
    listen: "127.0.0.1:0",
    ...(opts.stateDir ? { brokerStateDir: opts.stateDir } : {}),
  });
  await adapter.start(opts.emit ?? rec.emit);
  t.after(() => adapter.stop());
  return { adapter, rec, port: adapter.brokerAddress()!.port, config };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the broker under test lives in this process). */
export function run(cmd: string, args: string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function pub(port: number, args: string[], creds = USER): Promise<Run> {
  return run("mosquitto_pub", [
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-u",
    creds.username,
    "-P",
    creds.password,
    ...args,
  ]);
}

/** Starts mosquitto_sub and resolves once it is subscribed (its own -d log says SUBACK). */
export async function sub(
  t: TestContext,
  port: number,
  args: string[],
  creds = USER,
): Promise<{ lines: string[]; log: string; done: Promise<number | null> }> {
  // stdbuf: mosquitto_sub's stdout is a pipe here, and its SUBACK line must arrive before it exits.
  const child = spawn(
    "stdbuf",
    [
      "-oL",
      "mosquitto_sub",
      "-d",
      "-h",
      "127.0.0.1",
      "-p",
      String(port),
      ...(creds.username ? ["-u", creds.username, "-P", creds.password] : []),
      ...args,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  t.after(() => child.kill("SIGKILL"));
  const out = {
    lines: [] as string[],
    log: "",
    done: new Promise<number | null>((r) => child.on("close", r)),
  };
  child.stdout.on("data", (b: Buffer) => {
    out.log += b.toString();
    for (const l of b.toString().split("\n"))
      if (l && !l.startsWith("Client ") && !l.startsWith("Subscribed")) out.lines.push(l);
  });
  child.stderr.on("data", (b: Buffer) => (out.log += b.toString()));
  let exited = false;
  void out.done.then(() => (exited = true));
  await waitFor("mosquitto_sub subscribed", () => out.log.includes("SUBACK") || exited, 10_000);
  return out;
}

export function hasMosquittoClients(t: TestContext): boolean {
  return requirePeer(
    t,
    "mosquitto_pub/mosquitto_sub",
    hasCommand("mosquitto_pub", ["--help"]) && hasCommand("mosquitto_sub", ["--help"]),
    "apt-get install mosquitto-clients",
  );
}

export function hasMosquitto(t: TestContext): boolean {
  return requirePeer(t, "mosquitto", hasCommand("mosquitto", ["-h"]), "apt-get install mosquitto");
}

import { freePort } from "../../protocols/free-port.js";
export { freePort };

export interface Mosquitto {
  port: number;
  log(): string;
  stop(): Promise<void>;
  /** Stops (SIGTERM, so it saves its sessions) and starts again on the same port. */
  restart(): Promise<void>;
}

/** Mosquitto with our own config on a free loopback port (never the system service). */
export async function startMosquitto(t: TestContext, extra: string[] = []): Promise<Mosquitto> {
  // Removed after Mosquitto is killed (below), never while it may still be saving there.
  const dir = mkdtempSync(join(tmpdir(), "mosquitto-"));
  chmodSync(dir, 0o777); // run as root, mosquitto drops to its own user and must still save there
  const port = await freePort();
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      "allow_anonymous true",
      "persistence true",
      `persistence_location ${dir}/`,
      "autosave_interval 1",
      "log_dest stderr",
      "log_type all",
      ...extra,
      "",
    ].join("\n"),
  );
  let child: ChildProcess;
  let log = "";
  const launch = async () => {
    child = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout!.on("data", (b: Buffer) => (log += b.toString()));
    child.stderr!.on("data", (b: Buffer) => (log += b.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await canConnect(port))) {
      if (Date.now() > deadline) throw new Error(`mosquitto did not start on ${port}:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill(signal);
    await exited;
  };
  await launch();
  const m: Mosquitto = {
    port,
    log: () => log,
    stop: () => kill("SIGTERM"),
    async restart() {
      await kill("SIGTERM");
      await launch();
    },
  };
  t.after(async () => {
    await kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });
  return m;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
