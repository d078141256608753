// The client when things break: server down, restarted, killed mid-batch, a reply lost, a reply
// that never comes, truncated or oversized replies. Every send must end with a precise outcome.
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import {
  IggyConnectionError,
  IggyProtocolError,
  IggyTimeoutError,
  type OutgoingMessage,
  type SendOutcome,
} from "../../gateway/iggy/index.js";
import { closeAtEnd } from "../helpers/cleanup.js";
import { onceWithin } from "../helpers/wait.js";
import { clientFor, freePort, kill, listen, proxy, spawnDev, startDev, tempDir } from "./helpers.js";

const partition0 = { partitioning: { kind: "partition" as const, id: 0 } };
const one = (id: bigint, text = `m${id}`): OutgoingMessage[] => [{ id, payload: Buffer.from(text) }];

/** A fake Iggy server, closed at the test's end: answers login and ping with OK, hands on other frames. */
function fake(t: TestContext, onRequest: (code: number, socket: Socket) => void): Server {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 8 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const code = buf.readUInt32LE(4);
        buf = buf.subarray(4 + buf.readUInt32LE(0));
        if (code === 38) socket.write(Buffer.from([0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]));
        else onRequest(code, socket);
      }
    });
  });
  return closeAtEnd(t, server);
}

test("while no server listens, sends are not_sent and connect gives up with the cause", async (t) => {
  const port = await freePort();
  const client = clientFor(port, { requestTimeoutMs: 300 });
  t.after(() => client.close());
  const out = await client.send("s", "t", one(1n), partition0);
  assert.equal(out.status, "not_sent");
  if (out.status === "not_sent") assert.match(out.error.message, /ECONNREFUSED/);
  await assert.rejects(client.connect(200), IggyConnectionError);
  await client.close();
});

test("an attempt cut short by connect's time limit does not hide why the attempts before it failed", async (t) => {
  // The first TLS connection is dropped at once (the cause to report); every later one is left
  // waiting for its handshake, so the attempt in progress is always the one the time limit ends.
  let accepted = 0;
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    if (accepted++ === 0) socket.destroy();
  });
  const port = await listen(closeAtEnd(t, server));
  const client = clientFor(port, {
    tls: { serverName: "iggy.test" },
    reconnect: { initialDelayMs: 1, maxDelayMs: 1 },
  });
  t.after(() => client.close());
  const error = await client.connect(2_000).then(
    () => assert.fail("connected to a server that never finishes a handshake"),
    (e: unknown) => e as Error,
  );
  assert.ok(accepted >= 2, `a second attempt ran into the time limit (${accepted} connections)`);
  assert.ok(error instanceof IggyConnectionError, String(error));
  assert.match(error.message, /disconnected before secure TLS connection|ECONNRESET/);
  assert.doesNotMatch(error.message, /took longer/);
});

test("after a server restart the client reconnects, logs in again and carries on", async (t) => {
  const dir = tempDir("iggy-restart-");
  try {
    let server = await startDev({ dataDir: dir.path });
    t.after(() => server.close());
    const port = server.address.port;
    const client = clientFor(port);
    t.after(() => client.close());
    let connects = 0;
    client.on("connected", () => connects++);
    await client.ensureStream("s");
    await client.ensureTopic("s", "t", { partitions: 1 });
    assert.equal((await client.send("s", "t", one(1n), partition0)).status, "confirmed");
    const dropped = onceWithin(client, "disconnected", "the client to see the server go");
    await server.close();
    await dropped;
    server = await startDev({ dataDir: dir.path, port });
    assert.equal((await client.send("s", "t", one(2n), partition0)).status, "confirmed");
    assert.deepEqual(
      (await client.pollTail("s", "t", 0, 10)).map((m) => m.id),
      [1n, 2n],
    );
    assert.equal(connects, 2);
    await client.close();
    await server.close();
  } finally {
    dir.remove();
  }
});

test("a connection cut in the middle of a SEND gives unknown; the partial batch is not stored", async (t) => {
  const server = await startDev();
  t.after(() => server.close());
  const p = proxy(server.address.port);
  closeAtEnd(t, p.server);
  const client = clientFor(await listen(p.server));
  t.after(() => client.close());
  await client.ensureStream("s");
  await client.ensureTopic("s", "t", { partitions: 1 });
  const big = [{ id: 9n, payload: Buffer.alloc(200_000, 1) }];
  p.state.cut = (chunk) => (chunk.readUInt32LE(4) === 101 ? 1000 : undefined);
  const out = await client.send("s", "t", big, partition0);
  assert.equal(out.status, "unknown");
  p.state.cut = undefined;
  assert.deepEqual(await client.pollTail("s", "t", 0, 10), [], "nothing of the cut batch was stored");
  assert.equal((await client.send("s", "t", big, partition0)).status, "confirmed");
  assert.deepEqual(
    (await client.pollTail("s", "t", 0, 10)).map((m) => m.id),
    [9n],
  );
  await client.close();
  p.server.close();
  await server.close();
});

test("a lost reply gives unknown although the batch was stored; the tail tells", async (t) => {
  const server = await startDev();
  t.after(() => server.close());
  const p = proxy(server.address.port);
  closeAtEnd(t, p.server);
  const client = clientFor(await listen(p.server));
  t.after(() => client.close());
  await client.ensureStream("s");
  await client.ensureTopic("s", "t", { partitions: 1 });
  p.state.dropReplies = true;
  const out = await client.send("s", "t", one(77n), partition0);
  assert.equal(out.status, "unknown");
  p.state.dropReplies = false;
  assert.deepEqual(
    (await client.pollTail("s", "t", 0, 5)).map((m) => m.id),
    [77n],
  );
  await client.close();
  p.server.close();
  await server.close();
});

test("a reply that never comes times out as unknown, and the connection is replaced", async (t) => {
  let sends = 0;
  const server = fake(t, (code, socket) => {
    if (code === 101) sends++;
    else socket.write(Buffer.alloc(8));
  });
  const client = clientFor(await listen(server), { requestTimeoutMs: 300 });
  t.after(() => client.close());
  let drops = 0;
  client.on("disconnected", () => drops++);
  const out = await client.send("s", "t", one(1n), partition0);
  assert.equal(out.status, "unknown");
  if (out.status === "unknown") assert.ok(out.error instanceof IggyTimeoutError);
  assert.equal(sends, 1);
  assert.equal(drops, 1);
  await client.ping();
  await client.close();
  server.close();
});

test("an oversized reply length is a protocol error, not a wait for 4 GiB", async (t) => {
  const server = fake(t, (_code, socket) => socket.write(Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])));
  const client = clientFor(await listen(server));
  t.after(() => client.close());
  await assert.rejects(
    client.ping(),
    (e: unknown) => e instanceof IggyProtocolError && /exceeds the limit/.test(e.message),
  );
  const out = await client.send("s", "t", one(1n), partition0);
  assert.equal(out.status, "unknown");
  await client.close();
  server.close();
});

test("a reply cut short by a closing server is a protocol error naming the bytes", async (t) => {
  const server = fake(t, (_code, socket) => {
    socket.end(Buffer.concat([Buffer.from([0, 0, 0, 0, 100, 0, 0, 0]), Buffer.alloc(10)]));
  });
  const client = clientFor(await listen(server));
  t.after(() => client.close());
  await assert.rejects(
    client.getStream("s"),
    (e: unknown) => e instanceof IggyProtocolError && /18 of 108 bytes/.test(e.message),
  );
  await client.close();
  server.close();
});

test("garbage from the server is a protocol error; an unasked reply too", async (t) => {
  const server = fake(t, (code, socket) => {
    // A getStream reply whose body is not a stream, then a second reply nobody asked for.
    if (code === 200) socket.write(Buffer.from([0, 0, 0, 0, 3, 0, 0, 0, 1, 2, 3]));
    else socket.write(Buffer.concat([Buffer.alloc(8), Buffer.alloc(8)]));
  });
  const client = clientFor(await listen(server));
  t.after(() => client.close());
  await assert.rejects(client.getStream("s"), IggyProtocolError);
  const drops: Error[] = [];
  client.on("disconnected", (e) => drops.push(e));
  await client.ping();
  assert.match(drops[0]?.message ?? "", /nobody asked for/);
  await client.close();
  server.close();
});

test("dev-iggy killed mid-stream: every confirmed batch survives, no not_sent batch is stored", async (t) => {
  const dir = tempDir("iggy-kill-");
  const port = await freePort();
  let dev = await spawnDev(["--port", String(port), "--data-dir", dir.path]);
  t.after(() => kill(dev.child));
  const client = clientFor(port, { requestTimeoutMs: 10_000 });
  t.after(() => client.close());
  try {
    await client.ensureStream("s");
    await client.ensureTopic("s", "t", { partitions: 1 });
    const outcomes = new Map<bigint, SendOutcome["status"]>();
    const payload = Buffer.alloc(50_000, 7);
    const deadline = Date.now() + 180_000;
    let killedAt = -1;
    let restarted = false;
    for (let i = 1; i <= 400 && Date.now() < deadline; i++) {
      const id = BigInt(i);
      const sending = client.send(
        "s",
        "t",
        [
          { id, payload },
          { id: id + 1_000_000n, payload },
        ],
        partition0,
      );
      if (i === 60) {
        killedAt = i;
        await kill(dev.child);
      }
      outcomes.set(id, (await sending).status);
      if (killedAt > 0 && !restarted && i >= killedAt + 5) {
        dev = await spawnDev(["--port", String(port), "--data-dir", dir.path]);
        restarted = true;
      }
      if (restarted && [...outcomes.values()].filter((s) => s === "confirmed").length >= 120) break;
    }
    assert.ok(restarted, "the server was restarted");
    const statuses = [...outcomes.values()];
    assert.ok(statuses.includes("not_sent"), "some sends found no server");
    assert.ok(statuses.filter((s) => s === "confirmed").length >= 120);
    const stored = new Set<bigint>();
    for (let offset = 0n, page = 0; page < 100; page++) {
      const b = await client.poll("s", "t", {
        partition: 0,
        strategy: { kind: "offset", value: offset },
        count: 100,
      });
      if (b.messages.length === 0) break;
      for (const m of b.messages) if (m.id < 1_000_000n) stored.add(m.id);
      offset = b.messages[b.messages.length - 1]!.offset + 1n;
    }
    for (const [id, status] of outcomes) {
      if (status === "confirmed") assert.ok(stored.has(id), `confirmed batch ${id} is stored`);
      if (status === "not_sent" || status === "rejected")
        assert.ok(!stored.has(id), `${status} batch ${id} is not stored`);
    }
  } finally {
    await client.close();
    await kill(dev.child);
    dir.remove();
  }
});

test("a server failing inside a SEND (e.g. ShardCommunicationError) gives unknown with the code", async (t) => {
  const server = fake(t, (code, socket) => {
    const status = code === 101 ? 11001 : 0;
    const reply = Buffer.alloc(8);
    reply.writeUInt32LE(status, 0);
    socket.write(reply);
  });
  const client = clientFor(await listen(server));
  t.after(() => client.close());
  const out = await client.send("s", "t", one(1n), partition0);
  assert.equal(out.status, "unknown");
  if (out.status === "unknown") assert.equal((out.error as { code?: number }).code, 11001);
  await client.close();
  server.close();
});
