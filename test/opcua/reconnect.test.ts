// The asyncua server (not ours) is killed and started again on the same port: the adapter's session
// and its monitored items come back (the new server knows neither, so they are recreated), values
// resume, and the gap is one down and one up line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { transitionMessage } from "../../protocols/device-state.js";
import { adapterFor, opcuaDevice, recorder, startPeer, waitFor } from "./helpers.js";

test(
  "after the server restarts on the same port, the subscription resumes with one down and one up",
  { timeout: 180_000 },
  async (t) => {
    const peer = await startPeer(t, { animateMs: 0 });
    if (!peer) return;
    const rec = recorder();
    const dev = opcuaDevice({
      id: "press",
      connection: { endpoint: peer.endpoint, timeout_ms: 2000 },
      points: [
        { name: "level", node: "ns=2;s=Level", sampling_ms: 50 },
        { name: "temperature", browse_path: "/Objects/2:Press/2:Temperature", sampling_ms: 50 },
      ],
    });
    const adapter = adapterFor(t, [dev], rec);
    await adapter.start(rec.emit);
    peer.set("Level", 1);
    await waitFor("level 1", () => rec.readings.some((r) => r.point === "level" && r.value === 1));
    const down = transitionMessage("opcua", "down");
    const up = transitionMessage("opcua", "up");
    assert.equal(rec.messages(up, "press").length, 1);

    await peer.stop();
    await waitFor("the device down", () => !adapter.health().devices[0]!.up);
    await peer.start();
    await waitFor("the device up again", () => adapter.health().devices[0]!.up);
    peer.set("Level", 2);
    peer.set("Temperature", 33.5);
    await waitFor("level 2 after the restart", () =>
      rec.readings.some((r) => r.point === "level" && r.value === 2),
    );
    await waitFor("temperature after the restart", () =>
      rec.readings.some((r) => r.point === "temperature" && r.value === 33.5),
    );
    assert.equal(rec.messages(down, "press").length, 1, "one down line");
    assert.equal(rec.messages(up, "press").length, 2, "one up line after the first");
    const stats = adapter.stats().press!;
    assert.equal(stats.connectionLosses, 1);
    assert.ok(stats.reconnects >= 1);
  },
);
