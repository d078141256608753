// A gateway loads the code of the protocols its config uses and nothing it does not need: the
// npm packages its main thread loaded, seen from a gateway process (fixtures/loaded-packages.ts) and
// from `iggy-edge run` itself (fixtures/module-cache-on-exit.ts).
// The memory and start-up figures themselves are a benchmark (`npm run bench -- footprint`), not a test.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { cliPath } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";
import { freePort, tempDir } from "../iggy/helpers.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "loaded-packages.js");
const PRELOAD = pathToFileURL(join(import.meta.dirname, "fixtures", "module-cache-on-exit.js")).href;
const dir = tempDir("iggy-edge-footprint-");
after(() => dir.remove());

/** The packages a gateway on this config's devices loaded (Iggy is not listening: not needed here). */
async function loadedPackages(name: string, sections: string, devices: string): Promise<string[]> {
  const file = join(dir.path, `${name}.yaml`);
  writeFileSync(
    file,
    `gateway: { id: ${name}, data_dir: ${JSON.stringify(join(dir.path, name))} }\n` +
      `iggy: { address: "127.0.0.1:${await freePort()}", username: iggy, password: iggy }\n` +
      `http: { listen: "127.0.0.1:${await freePort()}" }\n` +
      sections +
      `devices:\n${devices}`,
  );
  const { stdout } = await promisify(execFile)(process.execPath, [FIXTURE, file], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as string[];
}

const MQTT_DEVICE =
  "  - id: sensor-1\n    protocol: mqtt\n    points:\n" +
  "      - { name: temperature, topic: s/sensor-1/temperature, decode: number }\n";

test("a gateway with one embedded-broker MQTT device loads neither Modbus nor mqtt.js, ws or pino-pretty", async () => {
  const packages = await loadedPackages(
    "mqtt-only",
    `mqtt:\n  broker:\n    listen: "127.0.0.1:${await freePort()}"\n    users: [{ username: dev, password: dev-password }]\n`,
    MQTT_DEVICE,
  );
  // The embedded broker's packet codec: proves the list sees what the adapter loaded.
  assert.ok(packages.includes("mqtt-packet"), `mqtt-packet not among ${packages.join(", ")}`);
  for (const absent of ["modbus-serial", "mqtt", "ws", "pino-pretty", "yaml", "zod"])
    assert.ok(!packages.includes(absent), `${absent} was loaded: ${packages.join(", ")}`);
});

test("a gateway with one Modbus device loads no MQTT code", async () => {
  const packages = await loadedPackages(
    "modbus-only",
    "",
    `  - id: boiler-1\n    protocol: modbus\n    connection: { host: 127.0.0.1, port: ${await freePort()}, unit_id: 1 }\n` +
      `    poll_ms: 1000\n    points:\n      - { name: temperature, address: "holding:100", type: float32 }\n`,
  );
  assert.ok(packages.includes("modbus-serial"), `modbus-serial not among ${packages.join(", ")}`);
  for (const absent of ["mqtt-packet", "mqtt", "ws", "pino-pretty", "yaml", "zod"])
    assert.ok(!packages.includes(absent), `${absent} was loaded: ${packages.join(", ")}`);
});

test(
  "`iggy-edge run` validates its config in a passing thread: its main thread never loads yaml, zod or a schema, nor on SIGHUP",
  { timeout: 120_000 },
  async () => {
    const httpPort = await freePort();
    const file = join(dir.path, "run.yaml");
    writeFileSync(
      file,
      `gateway: { id: run, data_dir: ${JSON.stringify(join(dir.path, "run"))} }\n` +
        `iggy: { address: "127.0.0.1:${await freePort()}", username: iggy, password: iggy }\n` +
        `http: { listen: "127.0.0.1:${httpPort}" }\n` +
        `mqtt:\n  broker:\n    listen: "127.0.0.1:${await freePort()}"\n    users: [{ username: dev, password: dev-password }]\n` +
        `devices:\n${MQTT_DEVICE}`,
    );
    const out = join(dir.path, "run-modules.json");
    const gw = spawn(process.execPath, ["--import", PRELOAD, cliPath, "run", "-c", file], {
      env: { ...process.env, IGGY_EDGE_LOG_FORMAT: "json", MODULE_CACHE_OUT: out },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let log = "";
    gw.stdout.on("data", (d: Buffer) => (log += d.toString()));
    gw.stderr.on("data", (d: Buffer) => (log += d.toString()));
    const exited = once(gw, "exit");
    try {
      await waitFor(
        "READY",
        async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => null))?.ok === true,
      );
      gw.kill("SIGHUP");
      await waitFor("the reload", () => log.includes('"msg":"reloading the device map"'));
    } finally {
      gw.kill("SIGTERM");
    }
    assert.deepEqual(await exited, [0, null], log);
    const files = JSON.parse(readFileSync(out, "utf8")) as string[];
    // The cache is seen: the run loaded the embedded broker's packet codec.
    assert.ok(
      files.some((f) => f.includes("/node_modules/mqtt-packet/")),
      "mqtt-packet in the module cache",
    );
    const loaded = files.filter((f) => /\/node_modules\/(yaml|zod)\/|\/config\/zod\.cjs$/.test(f));
    assert.deepEqual(loaded, [], "the main thread loaded the config's parser or schemas");
  },
);
