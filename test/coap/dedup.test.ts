// The response cache: a retransmitted confirmable request (same message id) is answered from it
// without storing its readings twice, and the cache holds at most dedup_cache_bytes / 4 responses
// (each response datagram is at least 4 bytes), however many requests came.
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { test } from "node:test";
import { waitFor } from "../helpers/wait.js";
import { coapDevice, section, startAdapter } from "./helpers.js";

test(
  "a retransmission is answered from the cache; the cache stays within its bytes",
  { timeout: 120_000 },
  async (t) => {
    const device = coapDevice({ id: "m", points: [{ name: "v", path: "/v" }] });
    const { adapter, port, rec } = await startAdapter(t, [device], section({ dedup_cache_bytes: 400 }));
    const sock = createSocket("udp4");
    t.after(() => new Promise<void>((r) => sock.close(() => r())));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    const answers: { messageId: number; code: string }[] = [];
    sock.on("message", (m) => {
      // RFC 7252 header: version/type/token length, code (class.detail), message id.
      answers.push({
        messageId: m.readUInt16BE(2),
        code: `${m[1]! >> 5}.${String(m[1]! & 31).padStart(2, "0")}`,
      });
    });
    const post = (messageId: number, value: number): Promise<void> =>
      new Promise((resolve, reject) => {
        // A confirmable POST (0.02), a 4-byte token, Uri-Path "v" (option 11, length 1), a payload.
        const datagram = Buffer.concat([
          Buffer.from([0x44, 0x02, messageId >> 8, messageId & 0xff, messageId >> 8, messageId & 0xff, 1, 2]),
          Buffer.from([0xb1, 0x76, 0xff]),
          Buffer.from(String(value)),
        ]);
        sock.send(datagram, port, "127.0.0.1", (e) => (e ? reject(e) : resolve()));
      });

    await post(1, 10);
    await waitFor("the first answer", () => answers.length === 1);
    await post(1, 10); // the device did not see the answer and sends the same message again
    await waitFor("the second answer", () => answers.length === 2);
    assert.deepEqual(answers, [
      { messageId: 1, code: "2.01" },
      { messageId: 1, code: "2.01" },
    ]);
    assert.equal(rec.readings.length, 1, "the retransmission was not stored again");
    assert.equal(adapter.stats().server!.requests, 1, "the retransmission never reached the handler");

    // 300 more requests, one after the other: the cache keeps at most 400 / 4 = 100 of them.
    for (let i = 2; i < 302; i++) {
      await post(i, i);
      await waitFor(`answer ${i}`, () => answers.length === i + 1);
    }
    const lru = (
      adapter as unknown as { ingest: { server: { _lru: { size: number; calculatedSize: number } } } }
    ).ingest.server._lru;
    assert.ok(lru.size <= 100, `${lru.size} responses cached`);
    assert.ok(lru.calculatedSize <= 400, `${lru.calculatedSize} bytes cached`);
    assert.equal(rec.readings.length, 301);
  },
);
