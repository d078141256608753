import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { configJsonSchemaText } from "../../config/json-schema.js";
import { loadConfig } from "../../gateway/config.js";
import { configSchema } from "../../protocols/config-schema.js";
import { PROTOCOLS } from "../../protocols/registry.js";
import { runCli } from "../helpers/cli.js";
import { repoRoot } from "../helpers/peers.js";

// Each protocol folder holds its example; the demo, with all of them, sits in config/examples.
const examples = [...PROTOCOLS.map((p) => `protocols/${p.name}/example.yaml`), "config/examples/demo.yaml"];

test("every protocol has an example in its folder, and the demo has a device of each", () => {
  for (const file of examples) assert.ok(existsSync(join(repoRoot, file)), file);
  const demo = loadConfig(join(repoRoot, "config/examples/demo.yaml"), {}).config;
  assert.deepEqual(
    [...new Set(demo.devices.map((d) => d.protocol))].sort(),
    PROTOCOLS.map((p) => p.name).sort(),
  );
});

for (const file of examples) {
  test(`iggy-edge check accepts ${file} as it is, with no environment variable set`, () => {
    const unset = {
      IGGY_PASSWORD: undefined,
      MQTT_SENSORS_PASSWORD: undefined,
      SITE_MQTT_PASSWORD: undefined,
    };
    const r = runCli(["check", "-c", file], unset);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`^${file}: OK \\(gateway `));
  });
}

test("the exported JSON Schema accepts every example and rejects a few broken files", () => {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(JSON.parse(configJsonSchemaText(configSchema)));
  for (const file of examples) {
    const ok = validate(parse(readFileSync(join(repoRoot, file), "utf8")));
    assert.ok(ok, `${file}: ${JSON.stringify(validate.errors)}`);
  }
  for (const name of ["unknown-key.yaml", "port-range.yaml", "bad-enum.yaml", "unknown-protocol.yaml"]) {
    assert.equal(validate(parse(readFileSync(join(repoRoot, "config/broken", name), "utf8"))), false, name);
  }
});

test("config/schema.json is the schema the code exports (run `npm run schema` after changing a schema)", () => {
  assert.equal(
    readFileSync(join(repoRoot, "config/schema.json"), "utf8"),
    configJsonSchemaText(configSchema),
  );
});

test("defaults are filled in and sizes are parsed", () => {
  const { config } = loadConfig(join(repoRoot, "config/examples/demo.yaml"), {});
  assert.equal(config.iggy.batch.max_bytes, 1024 * 1024);
  assert.equal(config.buffer.max_bytes, 256 * 1024 * 1024);
  assert.equal(config.buffer.sync, "full");
  const boiler = config.devices.find((d) => d.id === "boiler-1");
  assert.ok(boiler && boiler.protocol === "modbus");
  assert.equal(boiler.connection.unit_id, 1);
  assert.equal(boiler.order, "ABCD");
  assert.deepEqual(boiler.points[0]!.write, { min: 0, max: 90, readback: false });
});
