// The CoAP benchmark's load generator: bounded by a request count here (never by time), against the
// coap package's own server (answers counted by code, message ids and tokens unique) and against a
// raw UDP peer that drops the first copy of every request and answers the next with an empty ACK
// and a separate confirmable response (retransmission, and the response's acknowledgement).
import assert from "node:assert/strict";
import { createSocket, type RemoteInfo } from "node:dgram";
import { test, type TestContext } from "node:test";
import { createServer } from "coap";
import { generate, parse } from "coap-packet";
import { coapLoad } from "../../scripts/coap-load.js";
import { waitFor } from "../helpers/wait.js";

const opts = { timeout: 120_000 };

async function udpPeer(t: TestContext) {
  const socket = createSocket("udp4");
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", () => resolve()));
  return socket;
}

test("each client keeps one request in flight; answers are counted by code", opts, async (t) => {
  const server = createServer({ cacheSize: 65_536 });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const seen = new Set<string>();
  const tokens = new Set<string>();
  let inflight = 0;
  let maxInflight = 0;
  let n = 0;
  server.on("request", (req, res) => {
    seen.add(`${req.rsinfo.port}:${req._packet.messageId}`);
    tokens.add(req._packet.token.toString("hex"));
    assert.equal(req.method, "POST");
    assert.equal(req.url, "/d/dev/v");
    assert.equal(req.payload.toString(), "21.5");
    inflight++;
    maxInflight = Math.max(maxInflight, inflight);
    const code = ++n % 4 === 0 ? "5.03" : "2.04";
    // Answered on a later turn, so requests of the clients overlap.
    setImmediate(() => {
      inflight--;
      res.code = code;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server._sock as unknown as { address(): { port: number } }).address().port;

  const r = await coapLoad({
    port,
    path: ["d", "dev", "v"],
    payload: Buffer.from("21.5"),
    clients: 4,
    seconds: 600,
    maxRequests: 200,
  });
  assert.deepEqual(r.codes, { "2.04": 150, "5.03": 50 });
  assert.equal(r.answered, 150);
  assert.equal(r.failed, 50);
  assert.equal(seen.size, 200, "a message id per request and client");
  assert.equal(tokens.size, 200, "a token per request");
  assert.ok(maxInflight <= 4, `at most one request per client in flight (saw ${maxInflight})`);
  assert.ok(r.rate > 0 && Number.isFinite(r.p50));
});

test("a lost request is sent again; a separate response is acknowledged", opts, async (t) => {
  const peer = await udpPeer(t);
  const copies = new Map<string, number>();
  const unacknowledged = new Set<number>();
  const answeredTokens = new Set<string>();
  let mid = 1000;
  peer.on("message", (msg: Buffer, from: RemoteInfo) => {
    const p = parse(msg);
    if (p.ack) {
      unacknowledged.delete(p.messageId);
      return;
    }
    const key = `${from.port}:${p.messageId}`;
    const copy = (copies.get(key) ?? 0) + 1;
    copies.set(key, copy);
    // The first copy is lost; copies after the second crossed its empty ACK.
    if (copy !== 2) return;
    answeredTokens.add(p.token.toString("hex"));
    peer.send(generate({ ack: true, messageId: p.messageId, code: "0.00" }), from.port, from.address);
    const responseMid = mid++;
    unacknowledged.add(responseMid);
    peer.send(
      generate({ confirmable: true, messageId: responseMid, token: p.token, code: "2.01" }),
      from.port,
      from.address,
    );
  });
  const port = peer.address().port;

  const r = await coapLoad({
    port,
    path: ["d", "dev", "v"],
    payload: Buffer.from("1"),
    clients: 3,
    seconds: 600,
    maxRequests: 30,
    ackTimeoutMs: 20,
    maxSends: 10,
  });
  assert.equal(r.answered, 30);
  assert.equal(r.failed, 0);
  assert.deepEqual(r.codes, { "2.01": 30 });
  assert.ok(r.retransmits >= 30, `every request was sent again (${r.retransmits} retransmissions)`);
  assert.equal(answeredTokens.size, 30);
  await waitFor("every separate response acknowledged", () => unacknowledged.size === 0);
});
