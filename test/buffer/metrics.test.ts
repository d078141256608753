// The buffer's Prometheus metrics follow its statistics when scraped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Registry } from "prom-client";
import { registerBufferMetrics } from "../../buffer/metrics.js";
import { open, readings, scratch } from "./helpers.js";

function value(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exported`);
  return Number(line.split(" ")[1]);
}

test("buffer gauges and the dropped/rejected counters reflect the buffer", async (t) => {
  const b = await open(t, scratch(t), { maxRows: 50, onFull: "reject_new" });
  const registry = new Registry();
  const { readingsRejected } = registerBufferMetrics(registry, b);
  await b.append(readings(0, 40));
  await assert.rejects(b.append(readings(40, 20)));
  const leased = (await b.lease({ maxReadings: 5 }))!;
  let text = await registry.metrics();
  assert.equal(value(text, "iggy_edge_buffer_readings"), 40);
  assert.equal(value(text, "iggy_edge_buffer_leased_readings"), 5);
  assert.ok(value(text, "iggy_edge_buffer_bytes") > 0);
  assert.ok(value(text, "iggy_edge_buffer_oldest_age_seconds") > 0);
  assert.equal(value(text, "iggy_edge_buffer_dead_letter_readings"), 0);
  assert.equal(value(text, "iggy_edge_buffer_quarantined_files"), 0);
  assert.equal(value(text, 'iggy_edge_readings_rejected_total{reason="buffer_full"}'), 20);
  // Scraped again, counters do not count the same rejections twice; others may add their own reasons.
  readingsRejected.inc({ reason: "decode" }, 2);
  await b.release(leased.id);
  text = await registry.metrics();
  assert.equal(value(text, 'iggy_edge_readings_rejected_total{reason="buffer_full"}'), 20);
  assert.equal(value(text, 'iggy_edge_readings_rejected_total{reason="decode"}'), 2);
  assert.equal(value(text, "iggy_edge_buffer_readings"), 35);
});

test("drops are counted by reason", async (t) => {
  const b = await open(t, scratch(t), { maxRows: 10, onFull: "drop_oldest" });
  const registry = new Registry();
  registerBufferMetrics(registry, b);
  for (let i = 0; i < 25; i += 5) await b.append(readings(i, 5));
  const text = await registry.metrics();
  assert.equal(value(text, 'iggy_edge_readings_dropped_total{reason="max_rows"}'), 15);
});

test("a closed buffer does not break the scrape", async (t) => {
  const b = await open(t, scratch(t));
  const registry = new Registry();
  registerBufferMetrics(registry, b);
  await b.close();
  assert.match(await registry.metrics(), /iggy_edge_buffer_readings/);
});
