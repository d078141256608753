// The client on Iggy 0.10 (binary protocol 0.12) against dev-iggy's 0.10 side, protocol detection
// against both sides and against servers that answer neither, the version gate, the resend on
// status 57, and the idempotent producer across a lost reply and a reconnect.
import assert from "node:assert/strict";

import { createServer, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import {
  header,
  IggyServerError,
  partitionForKey,
  type IggyClient,
  type OutgoingMessage,
} from "../../gateway/iggy/index.js";
import type { DevIggyServer } from "../../gateway/iggy/dev-server/server.js";
import { ping010 } from "../../gateway/iggy/wire/detect.js";
import { PROTOCOL_012 } from "../../gateway/iggy/wire/v0_10/dialect.js";
import * as L from "../../gateway/iggy/wire/v0_10/layouts.js";
import { closeAtEnd } from "../helpers/cleanup.js";
import { clientFor, listen, proxy, rawConnection, readBytes, startDev } from "./helpers.js";

const code = (c: number) => (e: unknown) => e instanceof IggyServerError && e.code === c;
const msg = (text: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  payload: Buffer.from(text),
  ...extra,
});
const p = (id: number) => ({ partitioning: { kind: "partition" as const, id } });

describe("client 0.10 against dev-iggy", () => {
  let server: DevIggyServer;
  let client: IggyClient;

  before(async () => {
    server = await startDev({ tokens: ["pat-010"] });
    client = clientFor(server.address.port, { protocol: "0.10" });
    await client.connect();
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  test("ping and the generation in use", async () => {
    await client.ping();
    assert.equal(client.protocolVersion, "0.10");
  });

  test("login-register with a token; wrong credentials fail at once with their code", async (t) => {
    const pat = clientFor(server.address.port, { protocol: "0.10", credentials: { token: "pat-010" } });
    t.after(() => pat.close());
    await pat.ping();
    await pat.close();
    const badToken = clientFor(server.address.port, { protocol: "0.10", credentials: { token: "nope" } });
    t.after(() => badToken.close());
    await assert.rejects(badToken.connect(), code(53));
    await badToken.close();
    const badPassword = clientFor(server.address.port, {
      protocol: "0.10",
      credentials: { username: "iggy", password: "wrong-pw" },
    });
    await assert.rejects(badPassword.connect(), code(42));
    await badPassword.close();
  });

  test("streams and topics with settings as options", async () => {
    assert.equal(await client.getStream("nope"), null);
    const s = await client.ensureStream("plant");
    assert.equal(s.name, "plant");
    assert.equal((await client.ensureStream("plant")).id, s.id);
    const t = await client.ensureTopic("plant", "tele", {
      partitions: 3,
      messageExpiry: 7_000_000n,
      compression: 2,
    });
    assert.equal(t.partitionsCount, 3);
    assert.equal(t.messageExpiry, 7_000_000n);
    assert.equal(t.compression, 2);
    assert.equal(t.partitions.length, 3);
    assert.ok(
      t.partitions.every((x) => (x.context?.incarnation ?? 0n) > 0n),
      "partitions carry their incarnation",
    );
    const again = await client.getTopic(s.id, t.id);
    assert.equal(again?.name, "tele");
    await assert.rejects(client.createTopic("plant", "tele", { partitions: 1 }), code(2013));
    await assert.rejects(client.createStream("plant"), code(1012));
    await assert.rejects(client.createTopic("ghost", "x", { partitions: 1 }), code(1009));
    const withTopics = await client.getStream("plant");
    assert.deepEqual(
      withTopics?.topics.map((x) => x.name),
      ["tele"],
    );
  });

  test("send confirms with base offsets; poll returns payloads, ids and headers", async () => {
    await client.ensureStream("s1");
    await client.ensureTopic("s1", "t", { partitions: 2 });
    const first = await client.send(
      "s1",
      "t",
      [
        msg("a", {
          id: 1n,
          headers: new Map([
            ["k", header.string("v")],
            ["n", header.uint64(5n)],
          ]),
        }),
        msg("b", { id: 2n }),
      ],
      p(1),
    );
    assert.equal(first.status, "confirmed");
    assert.deepEqual(
      first.status === "confirmed" && first.confirmation.partitions.map((x) => [x.partitionId, x.baseOffset]),
      [[1, 0n]],
    );
    const second = await client.send("s1", "t", [msg("c", { id: 3n })], p(1));
    assert.deepEqual(second.status === "confirmed" && second.confirmation.partitions[0]?.baseOffset, 2n);
    const polled = await client.poll("s1", "t", { partition: 1, strategy: { kind: "first" }, count: 10 });
    assert.deepEqual(
      polled.messages.map((m) => [m.offset, m.id, m.payload.toString()]),
      [
        [0n, 1n, "a"],
        [1n, 2n, "b"],
        [2n, 3n, "c"],
      ],
    );
    assert.deepEqual(
      polled.messages[0]!.headers,
      new Map([
        ["k", header.string("v")],
        ["n", header.uint64(5n)],
      ]),
    );
    assert.equal(polled.currentOffset, 2n);
    const tail = await client.pollTail("s1", "t", 1, 2);
    assert.deepEqual(
      tail.map((m) => m.id),
      [2n, 3n],
    );
    const fromOffset = await client.poll("s1", "t", {
      partition: 1,
      strategy: { kind: "offset", value: 1n },
      count: 1,
    });
    assert.deepEqual(
      fromOffset.messages.map((m) => m.id),
      [2n],
    );
  });

  test("balanced and key partitioning are resolved by the client (0.10 routes explicit partitions only)", async () => {
    await client.ensureStream("s2");
    await client.ensureTopic("s2", "t", { partitions: 3 });
    const key = Buffer.from("line-3");
    const out = await client.send("s2", "t", [msg("k")], { partitioning: { kind: "key", key } });
    assert.equal(
      out.status === "confirmed" && out.confirmation.partitions[0]?.partitionId,
      partitionForKey(key, 3),
    );
    const seen = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const b = await client.send("s2", "t", [msg(`b${i}`)], { partitioning: { kind: "balanced" } });
      if (b.status === "confirmed") seen.add(b.confirmation.partitions[0]!.partitionId);
    }
    assert.equal(seen.size, 3);
  });

  test("consumer offsets: store, get, poll next", async () => {
    await client.ensureStream("s3");
    await client.ensureTopic("s3", "t", { partitions: 1 });
    await client.send("s3", "t", [msg("x"), msg("y"), msg("z")], p(0));
    const gw = { kind: "consumer" as const, id: "gw-1" };
    assert.equal(await client.getConsumerOffset("s3", "t", gw, 0), null);
    await client.storeConsumerOffset("s3", "t", gw, 0, 1n);
    assert.deepEqual(await client.getConsumerOffset("s3", "t", gw, 0), {
      partitionId: 0,
      currentOffset: 2n,
      storedOffset: 1n,
    });
    const next = await client.poll("s3", "t", {
      consumer: gw,
      partition: 0,
      strategy: { kind: "next" },
      count: 10,
    });
    assert.deepEqual(
      next.messages.map((m) => m.payload.toString()),
      ["z"],
    );
    await assert.rejects(client.storeConsumerOffset("s3", "t", gw, 0, 9n), code(4100));
  });

  test("a deleted and recreated topic: the client reads the new partition records and sends again", async (t) => {
    await client.ensureStream("s4");
    await client.ensureTopic("s4", "t", { partitions: 1 });
    assert.equal((await client.send("s4", "t", [msg("1")], p(0))).status, "confirmed");
    // Another client recreates the stream under our feet.
    const other = clientFor(server.address.port, { protocol: "0.10" });
    t.after(() => other.close());
    await other.deleteStream("s4");
    await other.ensureStream("s4");
    await new Promise((r) => setTimeout(r, 2));
    await other.ensureTopic("s4", "t", { partitions: 1 });
    await other.close();
    const out = await client.send("s4", "t", [msg("2")], p(0));
    assert.equal(out.status, "confirmed");
    assert.deepEqual(
      (await client.pollTail("s4", "t", 0, 5)).map((m) => m.payload.toString()),
      ["2"],
    );
  });

  test("errors: missing partition, empty batch, unknown topic", async () => {
    await client.ensureStream("s5");
    await client.ensureTopic("s5", "t", { partitions: 1 });
    const missing = await client.send("s5", "t", [msg("x")], p(7));
    assert.equal(missing.status, "rejected");
    assert.ok(
      (missing.status === "rejected" && missing.error.code === 87) ||
        (missing.status === "rejected" && missing.error.code === 3007),
    );
    await assert.rejects(client.send("s5", "t", [], p(0)));
    const ghost = await client.send("s5", "ghost", [msg("x")], p(0));
    assert.equal(ghost.status, "rejected");
    assert.ok(client.connected);
  });
});

describe("protocol: auto", () => {
  test("finds 0.10 on an all-generations dev server, and each generation on a server of that one only", async (t) => {
    for (const [serverProtocol, expected] of [
      ["auto", "0.10"],
      ["0.8", "0.8"],
      ["0.9", "0.9"],
      ["0.10", "0.10"],
    ] as const) {
      const server = await startDev({ protocol: serverProtocol });
      t.after(() => server.close());
      const client = clientFor(server.address.port, { protocol: "auto" });
      t.after(() => client.close());
      assert.equal(client.protocolVersion, "auto");
      await client.ensureStream("auto");
      await client.ensureTopic("auto", "t", { partitions: 1 });
      assert.equal((await client.send("auto", "t", [msg("hi")], p(0))).status, "confirmed");
      assert.equal(client.protocolVersion, expected, `against a ${serverProtocol} server`);
      await client.close();
      await server.close();
    }
  });

  test("the generation found is kept for reconnects", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const px = proxy(server.address.port);
    closeAtEnd(t, px.server);
    const client = clientFor(await listen(px.server), { protocol: "auto" });
    t.after(() => client.close());
    await client.ping();
    assert.equal(client.protocolVersion, "0.10");
    px.state.dropReplies = true;
    await assert.rejects(client.ping());
    px.state.dropReplies = false;
    await client.ping();
    assert.equal(client.protocolVersion, "0.10");
    await client.close();
    px.server.close();
    await server.close();
  });

  test("a server that answers neither probe fails within the probe time limits, naming both", async (t) => {
    const sockets: Socket[] = [];
    const silent = createServer((s) => {
      sockets.push(s);
      s.on("error", () => undefined);
    });
    const port = await listen(closeAtEnd(t, silent));
    const client = clientFor(port, { protocol: "auto", probeTimeoutMs: 200, requestTimeoutMs: 2_000 });
    t.after(() => client.close());
    const started = Date.now();
    await assert.rejects(
      client.connect(1_000),
      /neither an Iggy VSR \(0\.9\/0\.10\) probe nor an Iggy 0\.8 ping/,
    );
    // Without the limits it would wait for the silent server for good; the bound leaves a loaded machine room.
    assert.ok(Date.now() - started < 10_000);
    await client.close();
    for (const s of sockets) s.destroy();
    silent.close();
  });
});

describe("version gate", () => {
  test("a 0.10-only dev server evicts a login of another protocol minor with reason 14 and its window", async (t) => {
    const server = await startDev({ protocol: "0.10" });
    t.after(() => server.close());
    const c = await rawConnection(server.address.port);
    const body = L.encodeLoginRegister({
      protocolVersion: L.packVersion(0, 11, 0),
      sdkName: "test",
      sdkVersion: "1",
      bindSecret: Buffer.alloc(32, 1),
      credentials: { username: "iggy", password: "secret-pw" },
    });
    const head = L.encodeRequestHeader({
      size: 256 + body.length,
      client: 5n,
      requestChecksum: 9n,
      request: 0n,
      operation: L.OPERATION.register,
      session: 0n,
      code: L.CODE.loginRegister,
    });
    c.socket.write(Buffer.concat([head, body]));
    const ev = await readBytes(c.socket, 256);
    await c.closed;
    assert.equal(ev[60], 13, "Eviction");
    assert.equal(ev[255], 14, "IncompatibleProtocol");
    assert.equal(L.versionText(ev.readUInt32LE(148)), "0.12.0");
    assert.equal(L.versionText(ev.readUInt32LE(144)), "0.12.2");
    await server.close();
  });

  test("a refused protocol is an error naming both versions, and no retry loop", async (t) => {
    let logins = 0;
    const fake = createServer((s) => {
      s.on("error", () => undefined);
      s.on("data", () => {
        logins++;
        s.end(L.encodeEviction(1n, 14, { max: L.packVersion(0, 13, 0), min: L.packVersion(0, 13, 0) }));
      });
    });
    const client = clientFor(await listen(closeAtEnd(t, fake)), { protocol: "0.10" });
    t.after(() => client.close());
    await assert.rejects(client.connect(), (e: unknown) => {
      assert.ok(e instanceof IggyServerError && e.code === 14003, String(e));
      assert.match(e.message, /0\.12\.0/);
      assert.match(e.message, /0\.13\.0/);
      return true;
    });
    assert.equal(logins, 1);
    await client.close();
    fake.close();
  });

  test("a 0.10 ping before login is answered by the dev server", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const c = await rawConnection(server.address.port);
    c.socket.write(ping010());
    const reply = await readBytes(c.socket, 256);
    assert.equal(reply[60], 8);
    assert.equal(reply.readUInt32LE(216), 0);
    c.socket.destroy();
    await server.close();
  });
});

/** A 0.10 server stand-in: logs in anyone, answers SENDs with what `onSend` says. */
function fake010(
  onSend: (n: number, header: L.ParsedRequestHeader) => { status?: number; body?: Buffer } | null,
) {
  let sends = 0;
  const server = createServer((s) => {
    s.on("error", () => undefined);
    let buf = Buffer.alloc(0);
    s.on("data", (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 256 && buf.length >= buf.readUInt32LE(48)) {
        const size = buf.readUInt32LE(48);
        const h = L.decodeRequestHeader(buf.subarray(0, 256));
        buf = buf.subarray(size);
        const reply = (body: Buffer, status = 0) =>
          s.write(
            Buffer.concat([L.encodeReplyHeader({ ...h, timestamp: 0n }, body.length, status, 1n), body]),
          );
        if (h.operation === L.OPERATION.register)
          reply(
            L.encodeLoginReply({
              userId: 0,
              session: 42n,
              serverProtocolVersion: L.PROTOCOL_VERSION,
              serverVersion: "fake",
            }),
          );
        else if (h.operation === L.OPERATION.send) {
          const a = onSend(++sends, h);
          if (a)
            reply(
              a.body ?? L.encodeSendReply([{ streamId: 0, topicId: 0, partitionId: 0, baseOffset: 0n }]),
              a.status ?? 0,
            );
        } else if (h.code === L.CODE.getTopic) {
          const t = {
            id: 0,
            name: "t",
            createdAt: 1n,
            partitionsCount: 1,
            messageExpiry: 0n,
            compression: 1,
            maxTopicSize: 0n,
            replicationFactor: 1,
            sizeBytes: 0n,
            messagesCount: 0n,
            partitions: [
              {
                id: 0,
                createdAt: 1n,
                segmentsCount: 1,
                currentOffset: 0n,
                sizeBytes: 0n,
                messagesCount: 0n,
                context: { incarnation: 1n, ownerGeneration: 0n, metadataOp: 0n },
              },
            ],
          };
          reply(L.encodeTopicDetails(t, false, PROTOCOL_012));
        } else reply(Buffer.alloc(0));
      }
    });
  });
  return { server, sends: () => sends };
}

test("status 57 resends the identical request (same id) and then succeeds", async (t) => {
  const seen: bigint[] = [];
  const f = fake010((n, h) => {
    seen.push(h.request);
    return n === 1 ? { status: 57, body: Buffer.alloc(0) } : {};
  });
  const port = await listen(closeAtEnd(t, f.server));
  const client = clientFor(port, { protocol: "0.10" });
  t.after(() => client.close());
  const out = await client.send("s", "t", [msg("once", { id: 5n })], p(0));
  assert.equal(out.status, "confirmed");
  assert.equal(f.sends(), 2);
  assert.equal(seen[0], seen[1], "the resend carries the same request id");
  await client.close();
  f.server.close();
});

describe("idempotent producer", () => {
  test("a batch resent after a lost reply is written once; sequences go on after the reconnect", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const px = proxy(server.address.port);
    closeAtEnd(t, px.server);
    const client = clientFor(await listen(px.server), { protocol: "0.10" });
    t.after(() => client.close());
    await client.ensureStream("idem");
    await client.ensureTopic("idem", "t", { partitions: 1 });
    assert.equal((await client.send("idem", "t", [msg("1", { id: 1n })], p(0))).status, "confirmed");
    px.state.dropReplies = true;
    const lost = await client.send("idem", "t", [msg("2", { id: 2n }), msg("3", { id: 3n })], p(0));
    assert.equal(lost.status, "unknown");
    px.state.dropReplies = false;
    // The same batch again, on a new connection and session: the partition knows it.
    const again = await client.send("idem", "t", [msg("2", { id: 2n }), msg("3", { id: 3n })], p(0));
    assert.equal(again.status, "confirmed");
    assert.equal(
      again.status === "confirmed" && again.confirmation.partitions[0]?.baseOffset,
      1n,
      "the first write's receipt",
    );
    assert.equal((await client.send("idem", "t", [msg("4", { id: 4n })], p(0))).status, "confirmed");
    assert.deepEqual(
      (await client.pollTail("idem", "t", 0, 10)).map((m) => m.id),
      [1n, 2n, 3n, 4n],
    );
    await client.close();
    px.server.close();
    await server.close();
  });

  test("after an unknown outcome a different batch starts a new epoch (never follows a hole)", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const px = proxy(server.address.port);
    closeAtEnd(t, px.server);
    const client = clientFor(await listen(px.server), { protocol: "0.10" });
    t.after(() => client.close());
    await client.ensureStream("idem2");
    await client.ensureTopic("idem2", "t", { partitions: 1 });
    px.state.cut = (chunk) => (chunk.length > 256 && chunk[176] === 160 ? 300 : undefined);
    assert.equal((await client.send("idem2", "t", [msg("lost", { id: 1n })], p(0))).status, "unknown");
    px.state.cut = undefined;
    assert.equal((await client.send("idem2", "t", [msg("next", { id: 2n })], p(0))).status, "confirmed");
    assert.equal((await client.send("idem2", "t", [msg("more", { id: 3n })], p(0))).status, "confirmed");
    assert.deepEqual(
      (await client.pollTail("idem2", "t", 0, 10)).map((m) => m.payload.toString()),
      ["next", "more"],
    );
    await client.close();
    px.server.close();
    await server.close();
  });

  test("the dev server's producer rules: out of order 92, fenced 93, unknown 94, duplicate = receipt", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const raw = clientFor(server.address.port, { protocol: "0.10", idempotentProducer: false });
    t.after(() => raw.close());
    await raw.ensureStream("rules");
    await raw.ensureTopic("rules", "t", { partitions: 1 });
    const topic = (await raw.getTopic("rules", "t"))!;
    const ctx = topic.partitions[0]!.context!;
    const c = await rawConnection(server.address.port);
    const frames = frameReader(c.socket);
    let request = 0n;
    const session = await loginRaw(c.socket, frames);
    const send = async (producerId: bigint, epoch: number, baseSequence: number, ids: bigint[]) => {
      const body = L.encodeSendBody(
        {
          stream: "rules",
          topic: "t",
          partitioning: { kind: "partition", id: 0 },
          messages: ids.map((id) => msg(`m${id}`, { id })),
        },
        { producerId, epoch, baseSequence },
      );
      const head = L.encodeRequestHeader({
        size: 256 + body.length,
        client: 77n,
        requestChecksum: 0n,
        request: ++request,
        operation: L.OPERATION.send,
        session,
        code: L.CODE.send,
        context: ctx,
      });
      c.socket.write(Buffer.concat([head, body]));
      const reply = await frames.next();
      return { status: reply.readUInt32LE(216), body: reply.subarray(256) };
    };
    assert.equal((await send(9n, 0, 3, [1n])).status, 94, "a new producer must start at 0");
    assert.equal((await send(9n, 0, 0, [1n, 2n])).status, 0);
    assert.equal((await send(9n, 0, 5, [3n])).status, 92, "a gap");
    const dup = await send(9n, 0, 0, [1n, 2n]);
    assert.equal(dup.status, 0, "a duplicate is answered as success");
    assert.deepEqual(L.decodeSendReply(dup.body)[0]?.baseOffset, 0n, "with the first write's offset");
    assert.equal((await send(9n, 1, 0, [3n])).status, 0, "a new epoch starts at 0");
    assert.equal((await send(9n, 0, 2, [4n])).status, 93, "the old epoch is fenced");
    assert.deepEqual(
      (await raw.pollTail("rules", "t", 0, 10)).map((m) => m.id),
      [1n, 2n, 3n],
    );
    c.socket.destroy();
    await raw.close();
    await server.close();
  });
});

/** Whole 0.10 frames from a socket, one at a time (bounded wait). */
function frameReader(socket: Socket): { next(): Promise<Buffer> } {
  let buf = Buffer.alloc(0);
  let waiter: (() => void) | null = null;
  socket.on("data", (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    waiter?.();
  });
  return {
    async next() {
      const deadline = Date.now() + 5_000;
      while (!(buf.length >= 256 && buf.length >= buf.readUInt32LE(48))) {
        if (Date.now() > deadline) throw new Error(`no whole frame (have ${buf.length} bytes)`);
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 100);
        });
      }
      const size = buf.readUInt32LE(48);
      const f = buf.subarray(0, size);
      buf = buf.subarray(size);
      return f;
    },
  };
}

async function loginRaw(socket: Socket, frames: { next(): Promise<Buffer> }): Promise<bigint> {
  const body = L.encodeLoginRegister({
    protocolVersion: L.PROTOCOL_VERSION,
    sdkName: "raw",
    sdkVersion: "1",
    bindSecret: Buffer.alloc(32, 2),
    credentials: { username: "iggy", password: "secret-pw" },
  });
  socket.write(
    Buffer.concat([
      L.encodeRequestHeader({
        size: 256 + body.length,
        client: 77n,
        requestChecksum: 1n,
        request: 0n,
        operation: L.OPERATION.register,
        session: 0n,
        code: L.CODE.loginRegister,
      }),
      body,
    ]),
  );
  const reply = await frames.next();
  const r = L.splitResult(reply.subarray(256));
  return L.decodeLoginReply(r.payload).session;
}
