// kill -9 of the gateway while 10 clients stream confirmable POSTs: every request answered 2.01 is in
// the reopened buffer (what reaches the buffer reaches Iggy: the forwarder's own tests cover that leg).
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Agent } from "coap";
import { openBuffer } from "../../buffer/index.js";
import { exchange } from "../../protocols/coap/exchange.js";

test(
  "after a SIGKILL mid-stream, every confirmable POST answered 2.01 is in the reopened buffer",
  { timeout: 180_000 },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), "coap-kill9-"));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const dir = join(root, "buffer");
    const child = fork(join(import.meta.dirname, "gateway-child.js"), [dir], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    t.after(() => child.kill("SIGKILL"));
    const { port } = await new Promise<{ port: number }>((resolve, reject) => {
      child.once("message", (m) => resolve(m as { port: number }));
      child.once("exit", (code) => reject(new Error(`gateway child exited (${code})`)));
    });
    const exited = new Promise((r) => child.once("exit", r));

    const agents = Array.from({ length: 10 }, () => new Agent({ type: "udp4" }));
    const acked: number[] = [];
    let sent = 0;
    let killed = false;
    // Until 1,000 are answered 2.01 (at most 20,000 sent), then the kill lands while requests are in flight.
    await Promise.all(
      agents.map(async (agent) => {
        while (!killed && sent < 20_000) {
          const n = sent++;
          const x = exchange(
            agent,
            { host: "127.0.0.1", port },
            {
              method: "POST",
              path: "/d/seq",
              payload: Buffer.from(String(n)),
              timeoutMs: 1500,
            },
          );
          try {
            if ((await x.answer).code === "2.01") acked.push(n);
          } catch {
            // no answer: the gateway is gone
          }
          if (acked.length >= 1000 && !killed) {
            killed = true;
            child.kill("SIGKILL");
          }
        }
      }),
    );
    for (const a of agents) a.close();
    await exited;
    assert.ok(killed, "the kill happened while posting");

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
    assert.deepEqual(missing, [], `${missing.length} of ${acked.length} answered requests missing`);
    assert.ok(stored.size >= acked.length);
  },
);
