// The protocol registry: every protocol is one folder, found through one list; the gateway and the
// simulator say plainly when a protocol of the config is not built into this version.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test } from "node:test";
import { parseConfig } from "../../gateway/config.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayRuntime } from "../../gateway/runtime.js";
import {
  configSchema,
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
    if (p.load === undefined) {
      for (const load of [loadProtocol, loadSimulator])
        await assert.rejects(
          load(p.name),
          (e) => e instanceof ProtocolNotAvailableError && e.message.includes(p.title),
        );
      continue;
    }
    assert.ok(existsSync(join(repoRoot, "protocols", p.name, "README.md")), `protocols/${p.name}/README.md`);
    assert.equal(typeof (await loadProtocol(p.name)).createAdapter, "function", p.name);
    assert.equal(typeof (await loadSimulator(p.name)).createSimulator, "function", p.name);
  }
  await assert.rejects(loadProtocol("bacnet"), ProtocolNotAvailableError);
  await assert.rejects(loadSimulator("bacnet"), ProtocolNotAvailableError);
});

test("the file's schema is made from the plug-ins: their sections and their device kinds", () => {
  const keys = Object.keys(configSchema.shape);
  for (const p of PROTOCOLS) if (p.section) assert.ok(keys.includes(p.name), p.name);
  assert.deepEqual(keys.slice(0, 4), ["gateway", "iggy", "buffer", "http"]);
  assert.equal(keys.at(-1), "devices");
});

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return {
    stream,
    lines: () =>
      text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test("a device of a protocol not built yet is reported down with a warning, once, and the rest runs", async () => {
  const dir = tempDir("iggy-edge-registry-");
  const unbuilt = PROTOCOLS.find((p) => p.load === undefined);
  assert.ok(unbuilt, "this test needs a protocol that is not built yet");
  const http = await freePort();
  const text = [
    `gateway: { id: gw, data_dir: ${JSON.stringify(dir.path)} }`,
    "iggy: { address: 127.0.0.1:9, username: u, password: p, connect_timeout_ms: 200 }",
    `http: { listen: 127.0.0.1:${http} }`,
    "devices:",
    "  - id: meter-2",
    "    protocol: coap",
    "    points: [ { name: power, path: /d/meter-2/power } ]",
  ].join("\n");
  const out = capture();
  const runtime = new GatewayRuntime(
    parseConfig(text, join(dir.path, "gw.yaml"), {}),
    createLogger({ format: "json", destination: out.stream, level: "info" }),
  );
  try {
    await runtime.start();
    const status = (await (await fetch(`http://127.0.0.1:${http}/api/status`)).json()) as {
      devices: { id: string; up: boolean; error?: string }[];
    };
    for (const id of ["meter-2"]) {
      const d = status.devices.find((x) => x.id === id);
      assert.ok(d && !d.up && /is not built into this version/.test(d.error ?? ""), JSON.stringify(d));
    }
  } finally {
    await runtime.stop();
    dir.remove();
  }
  const about = out.lines().filter((l) => /not started/.test(String(l.msg)));
  assert.deepEqual(about.map((l) => [l.level, l.protocol]).sort(), [["warn", "coap"]]);
  assert.match(String(about[0]!.msg), /devices not started: .* is not built into this version of iggy-edge/);
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
