// A gateway loads the code of the protocols its config uses and nothing it does not need: the
// npm packages its main thread loaded, seen from a gateway process (fixtures/loaded-packages.ts).
// The memory and start-up figures themselves are a benchmark (`npm run bench -- footprint`), not a test.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { freePort, tempDir } from "../iggy/helpers.js";

const FIXTURE = join(import.meta.dirname, "fixtures", "loaded-packages.js");
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
  for (const absent of ["modbus-serial", "mqtt", "ws", "pino-pretty"])
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
  for (const absent of ["mqtt-packet", "mqtt", "ws", "pino-pretty"])
    assert.ok(!packages.includes(absent), `${absent} was loaded: ${packages.join(", ")}`);
});
