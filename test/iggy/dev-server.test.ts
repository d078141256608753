// dev-iggy on its own: bad input on a raw socket, auth, dedup, the data directory, TLS.
import assert from "node:assert/strict";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { header, IggyServerError } from "../../gateway/iggy/index.js";
import { clientFor, frame, loginFrame, rawConnection, readBytes, startDev, tempDir } from "./helpers.js";
import { makeTestCertificates } from "../helpers/certs.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";

const status = (b: Buffer) => b.readUInt32LE(0);
const partition0 = { partitioning: { kind: "partition" as const, id: 0 } };

test("commands before login answer Unauthenticated (40); ping and unknown codes are answered in sync", async (t) => {
  const server = await startDev();
  t.after(() => server.close());
  const c = await rawConnection(server.address.port);
  c.socket.write(frame(200, [2, 1, 0x73]));
  assert.equal(status(await readBytes(c.socket, 8)), 40);
  c.socket.write(frame(1, []));
  assert.deepEqual(await readBytes(c.socket, 8), Buffer.alloc(8));
  c.socket.write(frame(9999, [1, 2, 3]));
  assert.equal(status(await readBytes(c.socket, 8)), 3);
  c.socket.write(loginFrame("iggy", "bad-password"));
  assert.equal(status(await readBytes(c.socket, 8)), 42);
  c.socket.write(loginFrame());
  const ok = await readBytes(c.socket, 12);
  assert.deepEqual([status(ok), ok.readUInt32LE(4), ok.readUInt32LE(8)], [0, 4, 0]);
  c.socket.destroy();
  await server.close();
});

test("a length below 4 or above the limit gets InvalidCommand and the connection is closed", async (t) => {
  const server = await startDev({ maxRequestBytes: 4096 });
  t.after(() => server.close());
  for (const bad of [Buffer.from([2, 0, 0, 0, 1, 0, 0, 0]), frame(101, Buffer.alloc(0)).fill(0xff, 0, 4)]) {
    const c = await rawConnection(server.address.port);
    c.socket.write(bad);
    await c.closed;
    assert.deepEqual(c.received(), Buffer.from([3, 0, 0, 0, 0, 0, 0, 0]));
  }
  // The server still serves others.
  const client = clientFor(server.address.port);
  t.after(() => client.close());
  await client.ping();
  await client.close();
  await server.close();
});

test("garbage, truncated frames and undecodable payloads never crash the server", async (t) => {
  const server = await startDev({ maxRequestBytes: 1 << 20 });
  t.after(() => server.close());
  const c1 = await rawConnection(server.address.port);
  c1.socket.end("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  await c1.closed;
  assert.equal(status(c1.received()), 3);

  const c2 = await rawConnection(server.address.port);
  c2.socket.end(frame(202, Buffer.alloc(50)).subarray(0, 20));
  await c2.closed;
  assert.equal(c2.received().length, 0, "half a frame then EOF: nothing to answer");

  const c3 = await rawConnection(server.address.port);
  c3.socket.write(loginFrame());
  await readBytes(c3.socket, 12);
  const cases: [number, number[], number][] = [
    [202, [], 3], // create stream: empty payload
    [202, [0], 4], // create stream: empty name
    [200, [1, 3, 1, 2, 3], 4], // numeric id with length 3
    [101, [0xff, 0xff, 0xff, 0x7f], 3], // metadata length beyond the frame
    [100, [1, 1, 4], 3], // poll cut short
  ];
  for (const [code, payload, expected] of cases) {
    c3.socket.write(frame(code, payload));
    assert.equal(
      status(await readBytes(c3.socket, 8)),
      expected,
      `command ${code} ${JSON.stringify(payload)}`,
    );
  }
  c3.socket.destroy();
  const client = clientFor(server.address.port);
  t.after(() => client.close());
  await client.ping();
  await client.close();
  await server.close();
});

test("dedup on: a resent batch is dropped silently (OK), id 0 is never deduplicated", async (t) => {
  const server = await startDev({ dedup: { enabled: true } });
  t.after(() => server.close());
  const client = clientFor(server.address.port);
  t.after(() => client.close());
  await client.ensureStream("s");
  await client.ensureTopic("s", "t", { partitions: 1 });
  const batch = [1n, 2n, 3n].map((id) => ({ id, payload: Buffer.from(`m${id}`) }));
  assert.equal((await client.send("s", "t", batch, partition0)).status, "confirmed");
  assert.equal(
    (await client.send("s", "t", batch, partition0)).status,
    "confirmed",
    "all duplicates: OK, no crash",
  );
  const mixed = [3n, 4n].map((id) => ({ id, payload: Buffer.from(`m${id}`) }));
  assert.equal((await client.send("s", "t", mixed, partition0)).status, "confirmed");
  const zeros = [{ payload: Buffer.from("z") }, { id: 0n, payload: Buffer.from("z") }];
  await client.send("s", "t", zeros, partition0);
  const all = await client.poll("s", "t", { partition: 0, strategy: { kind: "first" }, count: 100 });
  assert.deepEqual(
    all.messages.slice(0, 4).map((m) => [m.offset, m.id]),
    [
      [0n, 1n],
      [1n, 2n],
      [2n, 3n],
      [3n, 4n],
    ],
  );
  assert.equal(all.messages.length, 6, "offsets stay dense");
  assert.ok(
    all.messages[4]!.id !== 0n && all.messages[5]!.id !== all.messages[4]!.id,
    "id 0 became random ids",
  );
  await client.close();
  await server.close();
});

test("dedup off (the default): a resent batch is stored twice", async (t) => {
  const server = await startDev();
  t.after(() => server.close());
  const client = clientFor(server.address.port);
  t.after(() => client.close());
  await client.ensureStream("s");
  await client.ensureTopic("s", "t", { partitions: 1 });
  await client.send("s", "t", [{ id: 5n, payload: Buffer.from("x") }], partition0);
  await client.send("s", "t", [{ id: 5n, payload: Buffer.from("x") }], partition0);
  assert.equal((await client.pollTail("s", "t", 0, 10)).length, 2);
  await client.close();
  await server.close();
});

test("dedup capacity and expiry are honoured", async (t) => {
  const server = await startDev({ dedup: { enabled: true, maxEntries: 2, expiryMs: 0 } });
  t.after(() => server.close());
  const client = clientFor(server.address.port);
  t.after(() => client.close());
  await client.ensureStream("s");
  await client.ensureTopic("s", "t", { partitions: 1 });
  for (const id of [1n, 2n, 3n, 1n, 3n])
    await client.send("s", "t", [{ id, payload: Buffer.from("x") }], partition0);
  // 1 was evicted by 3 (capacity 2), so its resend is stored; 3 is still remembered.
  assert.deepEqual(
    (await client.pollTail("s", "t", 0, 10)).map((m) => m.id),
    [1n, 2n, 3n, 1n],
  );
  await client.close();
  await server.close();
});

test("the data directory keeps streams, messages, headers and consumer offsets across restarts", async (t) => {
  const dir = tempDir("iggy-data-");
  try {
    let server = await startDev({ dataDir: dir.path });
    t.after(() => server.close());
    const port = server.address.port;
    let client = clientFor(port);
    t.after(() => client.close());
    await client.ensureStream("s");
    await client.ensureTopic("s", "t", { partitions: 2 });
    const headers = new Map([["codec", header.string("msgpack")]]);
    await client.send(
      "s",
      "t",
      [
        { id: 1n, payload: Buffer.from("one"), headers },
        { id: 2n, payload: Buffer.from("two") },
      ],
      {
        partitioning: { kind: "partition", id: 1 },
      },
    );
    await client.storeConsumerOffset("s", "t", { kind: "consumer", id: "gw" }, 1, 0n);
    const before = await client.poll("s", "t", { partition: 1, strategy: { kind: "first" }, count: 10 });
    await client.close();
    await server.close();
    // A torn record at the end of a log (a crash mid-append) is cut off at load.
    const log = join(dir.path, "partitions", "0-0-1.log");
    appendFileSync(log, Buffer.from([200, 0, 0, 0, 1, 2, 3]));

    server = await startDev({ dataDir: dir.path, port });
    client = clientFor(port);
    const after = await client.poll("s", "t", { partition: 1, strategy: { kind: "first" }, count: 10 });
    assert.deepEqual(after, before);
    assert.deepEqual(await client.getConsumerOffset("s", "t", { kind: "consumer", id: "gw" }, 1), {
      partitionId: 1,
      currentOffset: 1n,
      storedOffset: 0n,
    });
    await client.send("s", "t", [{ id: 3n, payload: Buffer.from("three") }], {
      partitioning: { kind: "partition", id: 1 },
    });
    assert.deepEqual(
      (await client.pollTail("s", "t", 1, 1)).map((m) => [m.offset, m.id]),
      [[2n, 3n]],
    );
    await assert.rejects(
      client.createStream("s"),
      (e: unknown) => e instanceof IggyServerError && e.code === 1012,
    );
    await client.close();
    await server.close();
    assert.ok(readFileSync(log).length > 0);
  } finally {
    dir.remove();
  }
});

test("TLS: the client verifies the server with a CA file and a server name", async (t) => {
  if (
    !requirePeer(
      t,
      "openssl (test certificates)",
      hasCommand("openssl", ["version"]),
      "apt-get install openssl",
    )
  )
    return;
  const dir = tempDir("iggy-tls-");
  try {
    const certs = makeTestCertificates(dir.path, "iggy.test");
    const server = await startDev({
      tls: { cert: readFileSync(certs.cert), key: readFileSync(certs.key) },
    });
    t.after(() => server.close());
    const ok = clientFor(server.address.port, {
      tls: { ca: certs.ca, serverName: "iggy.test" },
    });
    t.after(() => ok.close());
    await ok.ensureStream("tls");
    assert.equal((await ok.getStream("tls"))?.name, "tls");
    await ok.close();
    // One attempt each (the next would come after the time limit): the refusal is the error, however
    // long a handshake takes on this machine.
    const once = { requestTimeoutMs: 30_000, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 } };
    const wrongName = clientFor(server.address.port, {
      tls: { ca: certs.ca, serverName: "other.test" },
      ...once,
    });
    t.after(() => wrongName.close());
    await assert.rejects(wrongName.connect(), /altnames|does not match/i);
    const noCa = clientFor(server.address.port, { tls: { serverName: "iggy.test" }, ...once });
    t.after(() => noCa.close());
    await assert.rejects(noCa.connect(), /certificate/i);
  } finally {
    dir.remove();
  }
});
