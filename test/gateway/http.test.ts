import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { HttpEndpoint } from "../../gateway/http.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import { StatusBoard, type Status } from "../../gateway/status.js";

const board = new StatusBoard("line-3", "1.2.3", [
  { id: "boiler-1", protocol: "modbus", points: [{ name: "temperature" }, { name: "counter" }] },
  { id: "sensor-<7>", protocol: "mqtt", points: [{ name: "t" }] },
]);
const metrics = new GatewayMetrics();
const http = new HttpEndpoint("127.0.0.1:0", board, metrics, createLogger({ level: "silent" }));
let base = "";

before(async () => {
  const address = await http.start();
  base = `http://127.0.0.1:${address.port}`;
  board.addHealthSource(() => ({
    protocol: "modbus",
    devices: [{ device: "boiler-1", up: false, error: "timeout after 500 ms", since: Date.now() - 1000 }],
  }));
  board.bufferStats = () => ({ readings: 12, bytes: 4096 });
});
after(() => http.stop());

test("/healthz answers while the process lives; /readyz follows readiness", async () => {
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  board.ready = false;
  assert.equal((await fetch(`${base}/readyz`)).status, 503);
  board.ready = true;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});

test("/api/status reports devices with health and last values, the buffer and the gateway", async () => {
  board.record([
    { device: "boiler-1", point: "temperature", ts: 1, value: 21.5, quality: "good", unit: "degC" },
    { device: "boiler-1", point: "counter", ts: 2, value: 2n ** 63n - 1n, quality: "uncertain" },
    { device: "not-configured", point: "x", ts: 3, value: 1, quality: "good" },
  ]);
  const s = (await (await fetch(`${base}/api/status`)).json()) as Status;
  assert.equal(s.gateway, "line-3");
  assert.equal(s.version, "1.2.3");
  const boiler = s.devices.find((d) => d.id === "boiler-1")!;
  assert.equal(boiler.up, false);
  assert.equal(boiler.error, "timeout after 500 ms");
  assert.deepEqual(boiler.points.temperature, { value: 21.5, ts: 1, quality: "good", unit: "degC" });
  assert.equal(boiler.points.counter!.value, "9223372036854775807");
  assert.equal(s.devices.find((d) => d.id === "sensor-<7>")!.up, null);
  assert.ok(!s.devices.some((d) => d.id === "not-configured"));
  assert.deepEqual(s.buffer, { readings: 12, bytes: 4096 });
});

test("/ is a page a person reads, with names escaped", async () => {
  const r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get("content-type")!, /text\/html/);
  const html = await r.text();
  assert.match(html, /<h1>iggy-edge <small>line-3<\/small><\/h1>/);
  assert.match(html, /sensor-&lt;7&gt;/);
  assert.match(html, /down: timeout after 500 ms/);
  assert.match(html, /temperature: <b>21.5<\/b> degC/);
});

test("/metrics is Prometheus text with the contract's names", async () => {
  metrics.readingsReceived.inc({ protocol: "modbus", device: "boiler-1" }, 3);
  metrics.forwardBatches.inc({ result: "ok" });
  const r = await fetch(`${base}/metrics`);
  assert.equal(r.status, 200);
  const text = await r.text();
  assert.match(text, /^iggy_edge_readings_received_total\{protocol="modbus",device="boiler-1"\} 3$/m);
  assert.match(text, /^iggy_edge_forward_batches_total\{result="ok"\} 1$/m);
  assert.match(text, /^# TYPE iggy_edge_iggy_connected gauge$/m);
  assert.match(text, /^iggy_edge_process_cpu_user_seconds_total /m);
});

test("other paths and methods are refused", async () => {
  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/healthz`, { method: "POST" })).status, 405);
});

test("a reload keeps last values of points that remain and forgets removed ones", () => {
  board.setDevices([{ id: "boiler-1", protocol: "modbus", points: [{ name: "temperature" }] }]);
  const s = board.snapshot();
  assert.equal(s.devices.length, 1);
  assert.deepEqual(Object.keys(s.devices[0]!.points), ["temperature"]);
});

test("/readyz names what is not ready; the page says it too", async () => {
  let forwarder: string | null = "forwarder restarting (buffer: disk I/O error)";
  board.addReadinessCheck(() => forwarder);
  const r = await fetch(`${base}/readyz`);
  assert.equal(r.status, 503);
  assert.equal(await r.text(), "not ready: forwarder restarting (buffer: disk I/O error)\n");
  const s = (await (await fetch(`${base}/api/status`)).json()) as Status;
  assert.equal(s.ready, false);
  assert.deepEqual(s.not_ready, ["forwarder restarting (buffer: disk I/O error)"]);
  assert.match(await (await fetch(`${base}/`)).text(), /<b>not ready<\/b>: forwarder restarting/);
  forwarder = null;
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
});

test("the page shows the buffer in words and sizes; /api/status keeps the raw fields", async () => {
  const stats = {
    state: "open",
    readings: 12345,
    bytes: 2789248,
    fileBytes: 3250000,
    leasedBatches: 2,
    leasedReadings: 1000,
    oldestTs: Date.now() - 200_000,
    oldestAgeMs: 200_000,
    nextSeq: 1796138716288001,
    deadLetterEntries: 1,
    deadLetterReadings: 100,
    dropped: { max_bytes: 1234 },
    rejected: {},
    quarantinedThisRun: 0,
    quarantinedOnDisk: 0,
    commits: 4567,
    committedReadings: 98765,
    pendingReadings: 0,
  };
  const before = board.bufferStats;
  board.bufferStats = () => stats;
  try {
    const html = await (await fetch(`${base}/`)).text();
    const buffer = html.slice(html.indexOf("<h2>Buffer</h2>"), html.indexOf("<h2>Iggy</h2>"));
    assert.match(buffer, /<th>Waiting for Iggy<\/th><td>12,345 readings<\/td>/);
    assert.match(buffer, /<th>Oldest reading<\/th><td>3\.3 min old<\/td>/);
    assert.match(buffer, /<th>Size<\/th><td>2\.7 MiB in use, 3\.1 MiB on disk<\/td>/);
    assert.match(buffer, /<th>Sent, not yet confirmed<\/th><td>1,000 readings in 2 batches<\/td>/);
    assert.match(buffer, /<th>Dead letters<\/th><td>100 readings in 1 entry/);
    assert.match(buffer, /<th>Dropped \(buffer full\)<\/th><td>max_bytes: 1,234<\/td>/);
    assert.match(buffer, /<th>Refused<\/th><td>none<\/td>/);
    assert.doesNotMatch(buffer, /fileBytes|nextSeq|2789248/);
    const s = (await (await fetch(`${base}/api/status`)).json()) as Status;
    assert.deepEqual(s.buffer, stats);
  } finally {
    board.bufferStats = before;
  }
});
