// Subscriptions and polling against asyncua (not ours): changing values arrive with their source
// timestamps and quality; a Bad status becomes a bad reading named by its status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterFor, opcuaDevice, recorder, startPeer, waitFor } from "./helpers.js";

const T = { timeout: 120_000 };

test("a subscription delivers changing values with the source timestamp and good quality", T, async (t) => {
  const peer = await startPeer(t);
  if (!peer) return;
  const rec = recorder();
  const dev = opcuaDevice({
    id: "press",
    connection: { endpoint: peer.endpoint },
    points: [
      { name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 },
      { name: "level", browse_path: "/Objects/2:Press/2:Level", sampling_ms: 50, unit: "mm" },
    ],
  });
  const adapter = adapterFor(t, [dev], rec);
  await adapter.start(rec.emit);
  await waitFor("5 counter values", () => rec.readings.filter((r) => r.point === "counter").length >= 5);
  const counters = rec.readings.filter((r) => r.point === "counter");
  for (const r of counters) {
    assert.equal(r.quality, "good");
    assert.equal(typeof r.value, "number");
  }
  assert.ok(new Set(counters.map((r) => r.value)).size >= 3, "the values change");
  const ts = 1_700_000_123_456;
  peer.set("Level", 42, ts);
  await waitFor("level 42", () => rec.readings.some((r) => r.point === "level" && r.value === 42));
  const level = rec.readings.find((r) => r.point === "level" && r.value === 42)!;
  assert.equal(level.ts, ts, "the reading's ts is the source timestamp");
  assert.equal(level.unit, "mm");
  assert.equal(adapter.health().devices[0]!.up, true);
});

test(
  "poll mode reads every sampling_ms; a Bad status is a bad reading named by its status, counted",
  T,
  async (t) => {
    const peer = await startPeer(t);
    if (!peer) return;
    const rec = recorder();
    const dev = opcuaDevice({
      id: "poller",
      mode: "poll",
      connection: { endpoint: peer.endpoint },
      points: [
        { name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 },
        { name: "sensor", node: "ns=2;s=Sensor", sampling_ms: 50 },
      ],
    });
    const adapter = adapterFor(t, [dev], rec);
    await adapter.start(rec.emit);
    await waitFor("3 polls", () => (adapter.stats().poller?.polls ?? 0) >= 3);
    await waitFor("counter values", () => rec.readings.filter((r) => r.point === "counter").length >= 3);
    const sensor = rec.readings.filter((r) => r.point === "sensor");
    assert.equal(sensor.length, 1, "an unchanged bad value is reported once, not every poll");
    assert.equal(sensor[0]!.quality, "bad");
    assert.equal(sensor[0]!.value, null);
    assert.equal(sensor[0]!.tags?.status, "BadSensorFailure");
    assert.ok(rec.rejects.some((r) => r.reason === "opcua_bad_status" && r.device === "poller"));
    assert.ok(rec.messages("opcua point quality not good", "poller").length >= 1);

    peer.set("Sensor", 12.5);
    await waitFor("the sensor good again", () =>
      rec.readings.some((r) => r.point === "sensor" && r.quality === "good" && r.value === 12.5),
    );
  },
);

test(
  "a subscribed value whose status turns Bad arrives as a bad reading with the status name",
  T,
  async (t) => {
    const peer = await startPeer(t, { animateMs: 0 });
    if (!peer) return;
    const rec = recorder();
    const dev = opcuaDevice({
      id: "press",
      connection: { endpoint: peer.endpoint },
      points: [{ name: "level", node: "ns=2;s=Level", sampling_ms: 50 }],
    });
    const adapter = adapterFor(t, [dev], rec);
    await adapter.start(rec.emit);
    peer.set("Level", 5);
    await waitFor("level 5", () => rec.readings.some((r) => r.point === "level" && r.value === 5));
    peer.status("Level", "BadCommunicationError");
    await waitFor("a bad level", () => rec.readings.some((r) => r.point === "level" && r.quality === "bad"));
    const bad = rec.readings.find((r) => r.point === "level" && r.quality === "bad")!;
    assert.equal(bad.tags?.status, "BadCommunicationError");
    assert.equal(bad.value, null);
    assert.equal(adapter.health().devices[0]!.up, true, "a device that answers with a Bad status is up");
  },
);
