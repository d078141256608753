// A normal close is quiet: when the server goes away while the adapter is closing (the demo's
// shutdown stops the simulator and the gateway together), the failed deletion of the subscription
// is logged at debug level, not as a warning. Against our simulator, whose delay fault holds the
// DeleteSubscriptions request until the server is gone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterFor, opcuaDevice, recorder, waitFor } from "./helpers.js";
import { startSimulator } from "./sim-helpers.js";

test(
  "the server going away while the adapter closes: the subscription's failed deletion is no warning",
  { timeout: 120_000 },
  async (t) => {
    const device = opcuaDevice({
      id: "press-4",
      connection: { endpoint: "opc.tcp://127.0.0.1:0" },
      points: [{ name: "speed", node: "ns=1;s=Speed", type: "Double", sampling_ms: 50 }],
    });
    const sim = await startSimulator(t, [device], { animateMs: 50 });
    const rec = recorder();
    const adapter = adapterFor(
      t,
      [opcuaDevice({ ...device, connection: { endpoint: sim.endpoint("press-4") } })],
      rec,
    );
    await adapter.start(rec.emit);
    await waitFor("3 values", () => rec.readings.length >= 3);
    sim.fault("press-4", { kind: "delay", ms: 600_000 });
    const stopping = adapter.stop();
    await waitFor("the DeleteSubscriptions request held by the server", () => sim.heldRequests() >= 1);
    await sim.stop();
    await stopping;
    await waitFor(
      "the failed deletion logged",
      () => rec.messages("opcua subscription not deleted at close").length === 1,
    );
    const line = rec.messages("opcua subscription not deleted at close")[0]!;
    assert.equal(line.level, 20, "debug");
    assert.equal(line.device, "press-4");
    assert.deepEqual(rec.messages("opcua subscription internal error"), []);
    assert.deepEqual(
      rec.logs.filter((l) => (l.level as number) >= 40).map((l) => l.msg),
      [],
      "no warning at a normal close",
    );
  },
);
