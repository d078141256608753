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
