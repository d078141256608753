// The protocol registry: every protocol is one folder, found through one list; the gateway and the
// simulator say plainly when a protocol of the config is not built into this version.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { coapSection } from "../../protocols/coap/schema.js";
import { COAP_SECTION_DEFAULTS } from "../../protocols/coap/section-defaults.js";
import { configSchema, PROTOCOL_CONFIGS } from "../../protocols/config-schema.js";
import {
  loadProtocol,
  loadSimulator,
  PROTOCOLS,
  ProtocolNotAvailableError,
} from "../../protocols/registry.js";
import { cliPath } from "../helpers/cli.js";
import { repoRoot } from "../helpers/peers.js";
import { freePort, tempDir } from "../iggy/helpers.js";

test("each protocol is one folder: schema, plug-in, example, README; built ones load their code", async () => {
  for (const p of PROTOCOLS) {
    for (const f of ["schema.ts", "plugin.ts", "example.yaml"]) {
      assert.ok(existsSync(join(repoRoot, "protocols", p.name, f)), `protocols/${p.name}/${f}`);
    }
    // A part not built yet (the adapter, the simulator) says so; a built one loads.
    if (p.loadSimulator === undefined) {
      await assert.rejects(
        loadSimulator(p.name),
        (e) => e instanceof ProtocolNotAvailableError && e.message.includes(p.title),
      );
    } else {
      assert.equal(typeof (await loadSimulator(p.name)).createSimulator, "function", p.name);
    }
    if (p.load === undefined) {
      await assert.rejects(
        loadProtocol(p.name),
        (e) => e instanceof ProtocolNotAvailableError && e.message.includes(p.title),
      );
      continue;
    }
    assert.ok(existsSync(join(repoRoot, "protocols", p.name, "README.md")), `protocols/${p.name}/README.md`);
    assert.equal(typeof (await loadProtocol(p.name)).createAdapter, "function", p.name);
  }
  await assert.rejects(loadProtocol("bacnet"), ProtocolNotAvailableError);
  await assert.rejects(loadSimulator("bacnet"), ProtocolNotAvailableError);
});

test("every protocol has its part of the config file, listed in the registry's order", () => {
  assert.deepEqual(
    PROTOCOL_CONFIGS.map((p) => p.name),
    PROTOCOLS.map((p) => p.name),
  );
});

test("the file's schema is made from the plug-ins: their sections and their device kinds", () => {
  const keys = Object.keys(configSchema.shape);
  for (const p of PROTOCOL_CONFIGS) if (p.section) assert.ok(keys.includes(p.name), p.name);
  assert.deepEqual(keys.slice(0, 4), ["gateway", "iggy", "buffer", "http"]);
  assert.equal(keys.at(-1), "devices");
});

test("the CoAP adapter's section without a coap: section is the schema's defaults", () => {
  assert.deepEqual(coapSection.parse({}), COAP_SECTION_DEFAULTS);
});

test("simulate names the protocol once per log line", { timeout: 60_000 }, async (t) => {
  const dir = tempDir("iggy-edge-sim-");
  t.after(() => dir.remove());
  const port = await freePort();
  const file = join(dir.path, "sim.yaml");
  writeFileSync(
    file,
    [
      "gateway: { id: gw }",
      "devices:",
      "  - id: boiler-1",
      "    protocol: modbus",
      `    connection: { host: 127.0.0.1, port: ${port} }`,
      "    points: [ { name: t, address: 'holding:1' } ]",
    ].join("\n"),
  );
  const child = spawn(process.execPath, [cliPath, "simulate", "-c", file], {
    env: { ...process.env, IGGY_EDGE_LOG_FORMAT: "json", IGGY_EDGE_LOG_LEVEL: "debug" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  t.after(() => child.kill("SIGKILL"));
  let text = "";
  child.stdout.on("data", (d: Buffer) => (text += d.toString()));
  const exited = once(child, "exit");
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", () => {
      if (text.includes('"msg":"simulating"')) resolve();
    });
    child.once("exit", (code) => reject(new Error(`simulate exited with ${code}: ${text}`)));
  });
  child.kill("SIGTERM");
  await exited;
  const lines = text.split("\n").filter((l) => l.includes('"protocol"'));
  assert.ok(lines.length >= 2, text);
  for (const l of lines) assert.equal(l.split('"protocol":').length - 1, 1, l);
});
