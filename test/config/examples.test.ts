import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { configJsonSchemaText } from "../../config/json-schema.js";
import { loadConfig } from "../../config/load.js";
import { runCli } from "../helpers/cli.js";
import { repoRoot } from "../helpers/peers.js";

const examplesDir = join(repoRoot, "config/examples");
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".yaml"));
const secretsEnv = {
  IGGY_PASSWORD: "s3cret-iggy",
  MQTT_SENSORS_PASSWORD: "s3cret-mqtt",
  SITE_MQTT_PASSWORD: "s3cret-site",
};

test("there is an example per protocol and a demo with all four", () => {
  for (const name of ["modbus.yaml", "mqtt.yaml", "coap.yaml", "opcua.yaml", "demo.yaml"])
    assert.ok(examples.includes(name), name);
  const demo = loadConfig(join(examplesDir, "demo.yaml"), {}).config;
  assert.deepEqual([...new Set(demo.devices.map((d) => d.protocol))].sort(), [
    "coap",
    "modbus",
    "mqtt",
    "opcua",
  ]);
});

for (const name of examples) {
  test(`iggy-edge check accepts config/examples/${name}`, () => {
    const r = runCli(["check", "-c", `config/examples/${name}`], secretsEnv);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^config/examples/${name}: OK \\(gateway `));
  });
}

test("the exported JSON Schema accepts every example and rejects a few broken files", () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(JSON.parse(configJsonSchemaText()));
  for (const name of examples) {
    const ok = validate(parse(readFileSync(join(examplesDir, name), "utf8")));
    assert.ok(ok, `${name}: ${JSON.stringify(validate.errors)}`);
  }
  for (const name of ["unknown-key.yaml", "port-range.yaml", "bad-enum.yaml", "unknown-protocol.yaml"]) {
    assert.equal(validate(parse(readFileSync(join(repoRoot, "config/broken", name), "utf8"))), false, name);
  }
});

test("config/schema.json is the schema the code exports (run `npm run schema` after changing config/schema.ts)", () => {
  assert.equal(readFileSync(join(repoRoot, "config/schema.json"), "utf8"), configJsonSchemaText());
});

test("defaults are filled in and sizes are parsed", () => {
  const { config } = loadConfig(join(examplesDir, "demo.yaml"), {});
  assert.equal(config.iggy.batch.max_bytes, 1024 * 1024);
  assert.equal(config.buffer.max_bytes, 256 * 1024 * 1024);
  assert.equal(config.buffer.sync, "full");
  const boiler = config.devices.find((d) => d.id === "boiler-1");
  assert.ok(boiler && boiler.protocol === "modbus");
  assert.equal(boiler.connection.unit_id, 1);
  assert.equal(boiler.order, "ABCD");
  assert.deepEqual(boiler.points[0]!.write, { min: 0, max: 90, readback: false });
});
