// Writes against asyncua (not ours): the value lands with the node's DataType (read from the server
// when the map says no type); refused before it leaves when not writable or out of range; a Bad
// status from the server is a failed write named by its status.
import assert from "node:assert/strict";
import { test } from "node:test";
import { adapterFor, opcuaDevice, recorder, startPeer, waitFor } from "./helpers.js";

const T = { timeout: 120_000 };

test(
  "writes land with the node's DataType, range checked, and a Bad status fails the write",
  T,
  async (t) => {
    const peer = await startPeer(t, { animateMs: 0 });
    if (!peer) return;
    const rec = recorder();
    const points: Record<string, unknown>[] = [
      { name: "setpoint", node: "ns=2;s=Setpoint", write: { min: 0, max: 100 } },
      { name: "level", node: "ns=2;s=Level" },
      { name: "locked", node: "ns=2;s=Locked", write: true },
    ];
    const cases: [string, unknown, unknown][] = [
      ["Boolean", true, true],
      ["SByte", -100, -100],
      ["Byte", 200, 200],
      ["Int16", -30000, -30000],
      ["UInt16", 60000, 60000],
      ["Int32", -2000000000, -2000000000],
      ["UInt32", 4000000000, 4000000000],
      ["Int64", -9007199254740993n, "-9007199254740993"],
      ["UInt64", 18000000000000000000n, "18000000000000000000"],
      ["Float", 1.5, 1.5],
      ["Double", -2.25, -2.25],
      ["String", "hello", "hello"],
    ];
    // Half the typed points say their type, half leave it to the server's DataType attribute.
    cases.forEach(([type], i) =>
      points.push({ name: `w_${type}`, node: `ns=2;s=W_${type}`, write: true, ...(i % 2 ? { type } : {}) }),
    );
    const dev = opcuaDevice({ id: "press", connection: { endpoint: peer.endpoint }, points });
    const adapter = adapterFor(t, [dev], rec);
    await adapter.start(rec.emit);
    await waitFor("device up", () => adapter.health().devices[0]!.up);

    for (const [type, value] of cases) {
      await adapter.write({ device: "press", point: `w_${type}` }, value as never);
    }
    await peer.ping();
    for (const [type, , expected] of cases) {
      const w = peer.writesTo(`W_${type}`);
      assert.equal(w.length, 1, `one write to W_${type}`);
      assert.equal(w[0]!.type, type, `W_${type} written as ${type}`);
      assert.equal(w[0]!.value, expected, `W_${type}`);
    }

    await adapter.write({ device: "press", point: "setpoint" }, 42);
    const refused: [string, unknown, RegExp][] = [
      ["setpoint", 101, /outside the allowed range 0\.\.100/],
      ["setpoint", -1, /outside the allowed range 0\.\.100/],
      ["level", 1, /not writable/],
      ["w_Byte", 256, /outside Byte's range 0\.\.255/],
      ["w_Int16", 40000, /outside Int16's range -32768\.\.32767/],
      ["w_UInt32", -1, /outside UInt32's range/],
      ["w_Int32", 1.5, /whole numbers/],
      ["w_Boolean", "maybe", /true\/false/],
      ["w_String", 5, /takes text/],
    ];
    for (const [point, value, message] of refused) {
      await assert.rejects(
        adapter.write({ device: "press", point }, value as never),
        message,
        `${point}=${String(value)}`,
      );
    }
    await peer.ping();
    assert.equal(peer.writesTo("Setpoint").length, 1, "only the write inside the range reached the server");
    assert.equal(peer.writesTo("W_Byte").length, 1);
    assert.equal(peer.writesTo("W_Int16").length, 1);

    // Declared writable here, but the server refuses: its status names the failure.
    await assert.rejects(
      adapter.write({ device: "press", point: "locked" }, 2.5),
      /failed: .*BadNotWritable|BadUserAccessDenied/,
    );
    assert.ok((adapter.stats().press?.writeFailures ?? 0) >= 1);
  },
);
