// kill -9 of the gateway while a QoS1 publisher runs: every PUBACKed message is in the buffer after
// (for MQTT 5: every PUBACK with reason code 0; mqtt.js fails the publish on any other).
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { connectAsync } from "mqtt";
import { openBuffer } from "../../buffer/index.js";
import { tempDir, USER } from "./helpers.js";

for (const v of [
  { name: "MQTT 3.1.1 at aedes 1.2", protocolVersion: 4, args: [] },
  { name: "MQTT 5 at aedes 2 beta", protocolVersion: 5, args: ["mqtt5"] },
] as const) {
  test(`${v.name}: after a SIGKILL mid-stream, every PUBACKed QoS1 message is in the reopened buffer`, async (t) => {
    const dir = join(tempDir(t), "buffer");
    const child = fork(join(import.meta.dirname, "gateway-child.js"), [dir, ...v.args], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    t.after(() => child.kill("SIGKILL"));
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once("message", (m) => resolve(m as { port: number }));
      child.once("exit", (code) => reject(new Error(`gateway child exited (${code})`)));
    });

    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
      ...USER,
      reconnectPeriod: 0,
      protocolVersion: v.protocolVersion,
    });
    client.on("error", () => {});
    const acked: number[] = [];
    let sent = 0;
    let killed = false;
    const exited = new Promise((r) => child.once("exit", r));
    // 100 in flight until 3,000 are acknowledged (at most 50,000 sent), then the kill lands mid-stream.
    const inflight = new Set<Promise<void>>();
    while (!killed && sent < 50_000) {
      const n = sent++;
      const p: Promise<void> = client.publishAsync("d/seq", String(n), { qos: 1 }).then(
        () => {
          acked.push(n);
          inflight.delete(p);
        },
        () => {
          inflight.delete(p);
        },
      );
      inflight.add(p);
      if (acked.length >= 3000 && !killed) {
        killed = true;
        child.kill("SIGKILL");
      }
      if (inflight.size >= 100) await Promise.race(inflight);
    }
    await exited;
    await client.endAsync(true);
    assert.ok(killed, "the kill happened while publishing");

    const buffer = await openBuffer({ dir });
    t.after(() => buffer.close());
    const stored = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const batch = await buffer.lease({ maxReadings: 10_000 });
      if (batch === null) break;
      for (const r of batch.readings) stored.add(r.value as number);
      await buffer.release(batch.id);
    }
    const missing = acked.filter((n) => !stored.has(n));
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} acknowledged messages missing`);
    assert.ok(stored.size >= acked.length);
  });
}
