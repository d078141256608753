// The whole gateway as a user runs it: `dev-iggy`, `simulate` and `run` as processes, readings read
// back with `tail`, the HTTP endpoint, SIGHUP reload and a clean SIGTERM stop.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { cliPath } from "../helpers/cli.js";
import { freePort, tempDir } from "../iggy/helpers.js";

const children: ChildProcess[] = [];
const dir = tempDir("iggy-edge-run-");
after(() => {
  for (const c of children) c.kill("SIGKILL");
  dir.remove();
});

function start(args: string[]): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { ...process.env, IGGY_EDGE_LOG_FORMAT: "json", IGGY_PASSWORD: "s3cret-pass" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function config(iggyPort: number, httpPort: number, modbusPort: number, extraPoint: string): string {
  return [
    "gateway: { id: run-test, data_dir: " + JSON.stringify(join(dir.path, "data")) + " }",
    `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: "\${env:IGGY_PASSWORD}", codec: msgpack, batch: { linger_ms: 5 } }`,
    `http: { listen: 127.0.0.1:${httpPort} }`,
    "devices:",
    "  - id: boiler-1",
    "    protocol: modbus",
    `    connection: { host: 127.0.0.1, port: ${modbusPort}, unit_id: 1 }`,
    "    poll_ms: 200",
    "    points:",
    '      - { name: temperature, address: "holding:100", type: float32, unit: degC }',
    '      - { name: pressure, address: "holding:102", type: int16, scale: 0.01, unit: bar }',
    extraPoint,
    "",
  ].join("\n");
}

test("iggy-edge run: readings flow from a simulated device through the buffer into Iggy", async () => {
  const [iggyPort, httpPort, modbusPort] = [await freePort(), await freePort(), await freePort()];
  const file = join(dir.path, "gw.yaml");
  writeFileSync(file, config(iggyPort, httpPort, modbusPort, ""));
  const iggy = start(["dev-iggy", "--port", String(iggyPort), "--password", "s3cret-pass"]);
  start(["simulate", "-c", file]);
  const gw = start(["run", "-c", file]);

  const status = await until("a reading of both points in /api/status", async () => {
    const s = (await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json()) as {
      ready: boolean;
      devices: { id: string; up: boolean; points: Record<string, { value: number }> }[];
    };
    const boiler = s.devices[0]!;
    return s.ready && boiler.up && boiler.points.temperature && boiler.points.pressure ? s : undefined;
  });
  assert.equal(status.devices[0]!.id, "boiler-1");
  assert.equal((await fetch(`http://127.0.0.1:${httpPort}/readyz`)).status, 200);

  const tail = spawnSync(
    process.execPath,
    [
      cliPath,
      "tail",
      "--iggy",
      `127.0.0.1:${iggyPort}`,
      "--password",
      "s3cret-pass",
      "--stream",
      "iot",
      "--topic",
      "telemetry",
      "--from",
      "first",
      "--count",
      "6",
      "--json",
    ],
    { encoding: "utf8", timeout: 120_000 },
  );
  assert.equal(tail.status, 0, tail.stderr);
  const lines = tail.stdout
    .trimEnd()
    .split("\n")
    .map(
      (l) => JSON.parse(l) as { gateway: string; seq: number; device: string; point: string; unit: string },
    );
  assert.equal(lines.length, 6);
  for (const l of lines) {
    assert.equal(l.gateway, "run-test");
    assert.equal(l.device, "boiler-1");
    assert.ok(["temperature", "pressure"].includes(l.point));
  }
  assert.deepEqual(
    lines.map((l) => l.seq),
    lines.map((_, i) => lines[0]!.seq + i),
    "consecutive sequence numbers",
  );

  const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  assert.match(metrics, /^iggy_edge_readings_received_total\{protocol="modbus",device="boiler-1"\} [1-9]/m);
  assert.match(metrics, /^iggy_edge_readings_forwarded_total [1-9]/m);
  assert.match(metrics, /^iggy_edge_iggy_connected 1$/m);
  assert.match(metrics, /^iggy_edge_device_up\{device="boiler-1"\} 1$/m);

  // SIGHUP: a new point appears without a restart.
  writeFileSync(
    file,
    config(
      iggyPort,
      httpPort,
      modbusPort,
      '      - { name: setpoint, address: "holding:104", type: uint16 }',
    ),
  );
  gw.child.kill("SIGHUP");
  await until("the reloaded point", async () => {
    const s = (await (await fetch(`http://127.0.0.1:${httpPort}/api/status`)).json()) as {
      devices: { points: Record<string, unknown> }[];
    };
    return s.devices[0]!.points.setpoint ? true : undefined;
  });

  gw.child.kill("SIGTERM");
  const [code] = (await once(gw.child, "exit")) as [number | null];
  assert.equal(code, 0, gw.output());
  assert.ok(!gw.output().includes("s3cret-pass"), "the password never reaches the log");
  assert.match(gw.output(), /"msg":"stopped"/);
  iggy.child.kill("SIGTERM");
});

test("iggy-edge run with a broken config exits 1 with FILE:LINE:COL", () => {
  const file = join(dir.path, "broken.yaml");
  writeFileSync(file, "gateway: { id: gw }\nhttp: { listen: 'nope' }\n");
  const r = spawnSync(process.execPath, [cliPath, "run", "-c", file], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:2:17: http\\.listen: expected HOST:PORT`),
  );
});
