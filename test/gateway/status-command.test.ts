// `iggy-edge status` as a user runs it, against the gateway's real HTTP endpoint in this process:
// what it prints, and the exit codes a monitoring check reads.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { renderStatus, statusUrl, verdict } from "../../gateway/cli/status-command.js";
import { HttpEndpoint } from "../../gateway/http.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import { StatusBoard, type Status } from "../../gateway/status.js";
import { cliPath } from "../helpers/cli.js";
import { freePort, tempDir } from "../iggy/helpers.js";

const DEVICES = [
  { id: "boiler-1", protocol: "modbus", points: [{ name: "temperature" }] },
  { id: "sensor-7", protocol: "mqtt", points: [{ name: "humidity" }] },
];

async function endpoint(
  t: TestContext,
  shape: { ready: boolean; sensorUp: boolean; connected: boolean },
): Promise<{ address: string; board: StatusBoard }> {
  const board = new StatusBoard("line-3", "9.9.9", DEVICES);
  board.ready = shape.ready;
  board.addHealthSource(() => ({
    protocol: "modbus",
    devices: [{ device: "boiler-1", up: true, since: Date.now() - 60_000 }],
  }));
  board.addHealthSource(() => ({
    protocol: "mqtt",
    devices: [
      shape.sensorUp
        ? { device: "sensor-7", up: true, since: Date.now() - 60_000 }
        : {
            device: "sensor-7",
            up: false,
            error: "no message for 3 poll periods",
            since: Date.now() - 120_000,
          },
    ],
  }));
  board.bufferStats = () => ({
    state: "open",
    readings: 1204,
    bytes: 98_304,
    oldestAgeMs: 4_000,
    deadLetterReadings: 0,
  });
  board.iggyStatus = () => ({
    address: "127.0.0.1:8090",
    state: "running",
    stream: "iot",
    topic: "telemetry",
    connected: shape.connected,
    protocol: "0.8",
    readings_sent: 12_345,
    batches_sent: 56,
    last_confirmed_at: new Date().toISOString(),
    last_error: shape.connected ? null : "connect ECONNREFUSED 127.0.0.1:8090",
  });
  board.record([
    { device: "boiler-1", point: "temperature", ts: Date.now(), value: 21.5, quality: "good", unit: "degC" },
  ]);
  const http = new HttpEndpoint(
    "127.0.0.1:0",
    board,
    new GatewayMetrics({ processMetrics: false }),
    createLogger({ level: "silent" }),
  );
  await http.start();
  t.after(() => http.stop());
  return { address: http.address!, board };
}

function status(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, "status", ...args],
      { encoding: "utf8", timeout: 30_000, env: { ...process.env, IGGY_EDGE_CONFIG: undefined } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
    );
  });
}

test(
  "status: a healthy gateway prints devices, buffer, Iggy link and rate, and exits 0",
  { timeout: 60_000 },
  async (t) => {
    const { address } = await endpoint(t, { ready: true, sensorUp: true, connected: true });
    const r = await status(["--http", address]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(lines[0]!, /^OK: gateway line-3 \(iggy-edge 9\.9\.9\), up \d+ s, ready$/);
    assert.equal(lines[1], "devices: 2/2 up");
    assert.match(lines[2]!, /^ {2}boiler-1 {2}modbus {2}up {4}temperature 21\.5 degC \(\d+ s ago\)$/);
    assert.match(lines[3]!, /^ {2}sensor-7 {2}mqtt {4}up$/);
    assert.equal(lines[4], "buffer: 1,204 readings, 96 KiB, oldest 4 s");
    assert.equal(
      lines[5],
      "iggy: connected to 127.0.0.1:8090 (protocol 0.8), iot/telemetry, forwarder running",
    );
    assert.match(
      lines[6]!,
      /^ {2}sent 12,345 readings in 56 batches, [\d.]+ readings\/s on average, last confirmed \d+ s ago$/,
    );
  },
);

test(
  "status: a device down or Iggy away is a warning (exit 1) that names it",
  { timeout: 60_000 },
  async (t) => {
    const { address } = await endpoint(t, { ready: true, sensorUp: false, connected: false });
    const r = await status(["--http", `http://${address}/`]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^WARNING: gateway line-3 /);
    assert.match(r.stdout, /^ {2}- 1 device down: sensor-7$/m);
    assert.match(r.stdout, /^ {2}- Iggy not connected$/m);
    assert.match(
      r.stdout,
      /^ {2}sensor-7 {2}mqtt {4}DOWN {2}no message for 3 poll periods \(since 2\.0 min ago\)$/m,
    );
    assert.match(r.stdout, /^ {2}last error: connect ECONNREFUSED 127\.0\.0\.1:8090$/m);
  },
);

test(
  "status: a gateway that is not ready is critical (exit 2), with the reasons",
  { timeout: 60_000 },
  async (t) => {
    const { address, board } = await endpoint(t, { ready: true, sensorUp: true, connected: true });
    board.addReadinessCheck(() => "forwarder restarting (buffer: disk I/O error)");
    const r = await status(["--http", address]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stdout, /^CRITICAL: gateway line-3 .*, NOT READY$/m);
    assert.match(r.stdout, /^ {2}- forwarder restarting \(buffer: disk I\/O error\)$/m);
  },
);

test("status: no gateway answering is unknown (exit 3) with a hint", { timeout: 60_000 }, async () => {
  const port = await freePort();
  const r = await status(["--http", `127.0.0.1:${port}`]);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    new RegExp(
      `^UNKNOWN: cannot read http://127\\.0\\.0\\.1:${port}/api/status: ECONNREFUSED \\(is the gateway running\\?`,
    ),
  );
});

test(
  "status: the address comes from http.listen in the config; --json prints the raw status",
  { timeout: 60_000 },
  async (t) => {
    const { address } = await endpoint(t, { ready: true, sensorUp: true, connected: true });
    const dir = tempDir("iggy-edge-status-");
    t.after(() => dir.remove());
    const file = join(dir.path, "gw.yaml");
    // Secrets are not needed to find the address: ${env:...} is not substituted here.
    writeFileSync(
      file,
      `gateway: { id: x }\niggy: { password: "\${env:NOT_SET_HERE}" }\nhttp: { listen: ${address} }\n`,
    );
    const r = await status(["-c", file, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as Status;
    assert.equal(s.gateway, "line-3");
    assert.equal(s.devices.length, 2);
  },
);

test("statusUrl: HOST:PORT, a URL, a wildcard listen address asked on loopback, the default", () => {
  assert.equal(statusUrl("10.0.0.5:9100", "/x"), "http://10.0.0.5:9100");
  assert.equal(statusUrl("http://pi.local:9100/", "/x"), "http://pi.local:9100");
  assert.equal(statusUrl("0.0.0.0:9100", "/x"), "http://127.0.0.1:9100");
  assert.equal(statusUrl("[::]:9100", "/x"), "http://[::1]:9100");
  assert.throws(() => statusUrl(undefined, "/nonexistent/gw.yaml"), /cannot read \/nonexistent\/gw\.yaml/);
});

test("verdict and renderStatus: an empty buffer, a failed buffer", () => {
  const base: Status = {
    gateway: "g",
    version: "1",
    started_at: "",
    uptime_s: 7200,
    ready: true,
    not_ready: [],
    connections: [],
    devices: [],
    buffer: { state: "open", readings: 0, bytes: 0, oldestAgeMs: null, deadLetterReadings: 3 },
    iggy: null,
  };
  assert.deepEqual(verdict(base), { code: 1, word: "WARNING", reasons: ["3 readings in dead letters"] });
  const out = renderStatus(base);
  assert.match(out, /^WARNING: gateway g \(iggy-edge 1\), up 2\.0 h, ready$/m);
  assert.match(out, /^buffer: 0 readings, 0 B, empty, 3 in dead letters$/m);
  assert.match(out, /^iggy: not started$/m);
  const failed = renderStatus({
    ...base,
    ready: false,
    not_ready: ["buffer failed: disk I/O error"],
    buffer: { state: "failed", error: "disk I/O error" },
  });
  assert.match(failed, /^CRITICAL: /);
  assert.match(failed, /^buffer: FAILED: disk I\/O error$/m);
});
