// Notifications reach the buffer in emits of at most a publish response's worth (1,000): the
// responses decoded in one event-loop turn are not all held until its end.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Reading } from "../../protocols/adapter.js";
import { adapterFor, recorder, waitFor } from "./helpers.js";
import { opcuaDeviceConfig, startSimulator } from "./sim-helpers.js";

const ITEMS = 2500;

test(
  "the initial values of 2,500 items arrive in emits of at most 1,000 readings",
  { timeout: 180_000 },
  async (t) => {
    const points = Array.from({ length: ITEMS }, (_, i) => ({
      name: `v${i}`,
      node: `ns=1;s=v${i}`,
      type: "Double",
      sampling_ms: 1000,
    }));
    const sim = await startSimulator(t, [opcuaDeviceConfig("plc", points)], { animateMs: 0 });
    const rec = recorder();
    const sizes: number[] = [];
    const emit = (rs: Reading[]) => {
      sizes.push(rs.length);
      return rec.emit(rs);
    };
    const dev = opcuaDeviceConfig("plc", points, { endpoint: sim.endpoint("plc") });
    const adapter = adapterFor(t, [dev], rec);
    await adapter.start(emit);
    await waitFor("every initial value", () => rec.readings.length >= ITEMS, 120_000);
    assert.equal(rec.readings.length, ITEMS);
    assert.ok(Math.max(...sizes) <= 1000, `emits of ${sizes.join(", ")} readings`);
    assert.equal(new Set(rec.readings.map((r) => r.point)).size, ITEMS);
  },
);
