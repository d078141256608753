// Hostile input at the Iggy client: a misbehaving server (a loopback fake that logs the client in,
// then answers each request with fuzzed bytes: random ones, headers with unknown status codes,
// lengths that do not match, frames cut short, the connection closed after). Every request ends:
// a send with one of its four outcomes (confirmed only on a status-0 reply), any other request
// resolved or refused with an IggyError; the client closes. Fixed seed, bounded runs (fast-check).
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { IggyError } from "../../gateway/iggy/index.js";
import { closeAtEnd } from "../helpers/cleanup.js";
import { clientFor, listen } from "../iggy/helpers.js";

const LOGIN = 38;
const LOGIN_OK = Buffer.from([0, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0]);

interface Reply {
  bytes: Uint8Array;
  close: boolean;
}

const u32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

const reply: fc.Arbitrary<Reply> = fc.record({
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .record({
        status: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 5_000 }), fc.constant(0xffffffff)),
        payload: fc.uint8Array({ maxLength: 64 }),
        length: fc.option(fc.oneof(fc.nat(200), fc.constant(0x7fffffff)), { nil: undefined }),
        cut: fc.option(fc.nat(80), { nil: undefined }),
      })
      .map(({ status, payload, length, cut }) => {
        const frame = Uint8Array.from([...u32(status), ...u32(length ?? payload.length), ...payload]);
        return cut === undefined ? frame : frame.subarray(0, cut);
      }),
  ),
  close: fc.boolean(),
});

test(
  "Iggy client: fuzzed replies from a misbehaving server end every request with a clear outcome",
  { timeout: 600_000 },
  async (t) => {
    let script: Reply[] = [];
    /** What the fake answered to the SEND_MESSAGES of the current run. */
    let sendReply: Uint8Array | null = null;
    const server = closeAtEnd(
      t,
      createServer((socket: Socket) => {
        socket.on("error", () => undefined);
        let buf = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 8 && buf.length >= 4 + buf.readUInt32LE(0)) {
            const code = buf.readUInt32LE(4);
            buf = buf.subarray(4 + buf.readUInt32LE(0));
            if (code === LOGIN) {
              socket.write(LOGIN_OK);
              continue;
            }
            const r = script.shift() ?? { bytes: new Uint8Array(0), close: true };
            if (code === 101 && sendReply === null) sendReply = r.bytes;
            if (r.close) socket.end(r.bytes);
            else socket.write(r.bytes);
          }
        });
      }),
    );
    const port = await listen(server);
    let outcomes = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(reply, { minLength: 3, maxLength: 3 }), async (replies) => {
        script = [...replies];
        sendReply = null;
        const client = clientFor(port, {
          requestTimeoutMs: 200,
          reconnect: { initialDelayMs: 1, maxDelayMs: 5 },
        });
        try {
          const out = await client.send("s", "t", [{ id: 1n, payload: Buffer.from("x") }], {
            partitioning: { kind: "partition", id: 0 },
          });
          assert.ok(["confirmed", "rejected", "unknown", "not_sent"].includes(out.status), out.status);
          if (out.status === "confirmed") {
            const r = sendReply as Uint8Array | null;
            assert.ok(
              r !== null && r.length >= 8 && r.subarray(0, 4).every((b) => b === 0),
              "confirmed only on a status-0 reply",
            );
          } else {
            assert.ok(out.error instanceof IggyError, `${out.status}: ${String(out.error)}`);
          }
          for (const request of [() => client.ping(), () => client.getStream("s")]) {
            await request().then(
              () => undefined,
              (e: unknown) => assert.ok(e instanceof IggyError, `not an IggyError: ${String(e)}`),
            );
          }
          outcomes++;
        } finally {
          await client.close();
        }
      }),
      { seed: 18_201, numRuns: 120 },
    );
    assert.equal(outcomes, 120);
  },
);
