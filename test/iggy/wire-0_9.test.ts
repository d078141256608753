// Iggy 0.9 (binary protocol 0.11, the released crate iggy_binary_protocol 0.11.0): byte-level
// checks of every place where it differs from 0.12 (wire/v0_10/dialect.ts), and how the client,
// dev-iggy and `protocol: auto` tell the VSR lines apart.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, test } from "node:test";
import { header, IggyServerError } from "../../gateway/iggy/index.js";
import { versionProbe } from "../../gateway/iggy/wire/detect.js";
import { PROTOCOL_011 as P11, PROTOCOL_012 as P12 } from "../../gateway/iggy/wire/v0_10/dialect.js";
import { ClientSession010, reasonOf09, wire09 } from "../../gateway/iggy/wire/v0_10/index.js";
import * as L from "../../gateway/iggy/wire/v0_10/layouts.js";
import { ProducerState } from "../../gateway/iggy/wire/v0_10/producer.js";
import { closeAtEnd } from "../helpers/cleanup.js";
import { clientFor, listen, rawConnection, readBytes, startDev } from "./helpers.js";

const session09 = () => wire09.newSession({ maxReplyBytes: 1 << 20, state: wire09.newClientState!() });

const topic = {
  id: 3,
  name: "tele",
  createdAt: 5n,
  partitionsCount: 2,
  messageExpiry: 9n,
  compression: 2,
  maxTopicSize: 1234n,
  replicationFactor: 1,
  sizeBytes: 77n,
  messagesCount: 8n,
  partitions: [0, 1].map((id) => ({
    id,
    createdAt: 5n,
    segmentsCount: 1,
    currentOffset: 4n,
    sizeBytes: 0n,
    messagesCount: 0n,
  })),
};

describe("protocol 0.11 layouts", () => {
  test("login-register announces 0.11.0 and carries no bind secret", () => {
    const [head, body] = session09().encode({
      op: "login",
      credentials: { username: "iggy", password: "pw-1" },
    });
    assert.equal(head![176], 1, "Register");
    assert.equal(body!.readUInt32LE(0), 0x2c00, "0.11.0 = 0x00002c00");
    const name = body![4]!;
    const v = body![5 + name]!;
    assert.equal(body!.subarray(6 + name, 6 + name + v).toString(), "0.9.0");
    const afterPrefix = 6 + name + v;
    // [user_len][user][pass_len][pass][context_len:u32 = 0], nothing between prefix and user.
    assert.equal(body!.length, afterPrefix + 1 + 4 + 1 + 4 + 4);
    assert.equal(body![afterPrefix], 4);
    assert.equal(body!.subarray(afterPrefix + 1, afterPrefix + 5).toString(), "iggy");
  });

  test("a send has no producer section and no partition context, even when the client has them", () => {
    const s = session09();
    // A session exists after login; the producer state is enabled, yet 0.11 has no section for it.
    s.decode(
      { op: "login", credentials: { username: "iggy", password: "pw" } },
      loginReply(s, { op: "login", credentials: { username: "iggy", password: "pw" } }),
    );
    const [head, body] = s.encode({
      op: "send",
      stream: "s",
      topic: "t",
      partitioning: { kind: "partition", id: 0 },
      messages: [{ payload: Buffer.from("x") }],
      context: { incarnation: 9n, ownerGeneration: 0n, metadataOp: 4n },
    });
    assert.ok(
      head!.subarray(196, 256).every((x) => x === 0),
      "header bytes 196..256 reserved",
    );
    const metaLen = body!.readUInt32LE(0);
    const batch = body!.subarray(4 + metaLen);
    assert.ok(
      batch.subarray(52, 256).every((x) => x === 0),
      "batch header bytes 52..256 reserved",
    );
    assert.equal(L.decodeSendBody(body!, P11).messages.length, 1);
  });

  test("dev-iggy's 0.11 side refuses a batch with a producer section (reserved bytes)", () => {
    const body = L.encodeSendBody(
      {
        stream: "s",
        topic: "t",
        partitioning: { kind: "partition", id: 0 },
        messages: [{ payload: Buffer.from("x"), headers: new Map([["k", header.string("v")]]) }],
      },
      { producerId: 1n, epoch: 0, baseSequence: 0 },
    );
    assert.equal(L.decodeSendBody(body, P12).producer?.producerId, 1n);
    assert.throws(
      () => L.decodeSendBody(body, P11),
      (e: unknown) => e instanceof Error && /reserved/.test(e.message),
    );
  });

  test("topic: 50 fixed bytes with expiry, compression and max size; 40-byte partition records", () => {
    const b = L.encodeTopicDetails(topic, false, P11);
    assert.equal(b.readUInt32LE(0), 3);
    assert.equal(b.readUInt32LE(12), 2, "partitions count");
    assert.equal(b.readBigUInt64LE(16), 9n, "message expiry");
    assert.equal(b[24], 2, "compression");
    assert.equal(b.readBigUInt64LE(25), 1234n, "max topic size");
    assert.equal(b.readBigUInt64LE(33), 77n, "size");
    assert.equal(b.readBigUInt64LE(41), 8n, "messages count");
    assert.equal(b[49], 4);
    assert.equal(b.subarray(50, 54).toString(), "tele");
    const blocks = 4 + b.readUInt32LE(54);
    const derivedAt = 54 + blocks;
    const partitionsAt = derivedAt + 4 + b.readUInt32LE(derivedAt);
    assert.equal(b.length - partitionsAt, 2 * 40);
    assert.equal(b.readBigUInt64LE(partitionsAt + 40 + 16), 4n, "second partition's current offset");
    const back = L.decodeTopicDetails(b, P11)!;
    assert.deepEqual(
      [back.messageExpiry, back.compression, back.maxTopicSize, back.partitions.length],
      [9n, 2, 1234n, 2],
    );
    assert.equal(back.partitions[1]!.context, undefined);
    // The same topic in 0.12 is 17 bytes shorter in the header and 24 longer per partition.
    assert.equal(L.encodeTopicDetails(topic, false, P12).length, b.length - 17 + 2 * 24);
  });

  test("stream: one options block (0.12 adds a derived one)", () => {
    const s = {
      id: 1,
      name: "gw",
      createdAt: 1n,
      topicsCount: 0,
      sizeBytes: 0n,
      messagesCount: 0n,
      topics: [],
    };
    const b = L.encodeStream(s, true, P11);
    assert.equal(b.length, 33 + 2 + 4);
    assert.equal(L.encodeStream(s, true, P12).length, 33 + 2 + 8);
    assert.equal(L.decodeStream(b, P11)?.name, "gw");
  });

  test("poll reply: a 16-byte prefix, then the batches", () => {
    const stored = [
      {
        id: 5n,
        offset: 0n,
        timestamp: 10n,
        originTimestamp: 9n,
        payload: Buffer.from("p"),
        headers: Buffer.alloc(0),
      },
    ];
    const ctx = { incarnation: 1n, ownerGeneration: 0n, metadataOp: 0n };
    const b = Buffer.concat(L.encodePollReply(0, 0n, ctx, stored, P11));
    assert.equal(b.length, 16 + 256 + 48 + 1);
    assert.equal(b.readBigUInt64LE(16 + 32), BigInt(256 + 48 + 1), "batch length right after the prefix");
    const back = L.decodePollReply(b, P11);
    assert.equal(back.context, undefined);
    assert.deepEqual(
      back.messages.map((m) => [m.id, m.payload.toString()]),
      [[5n, "p"]],
    );
  });

  test("0.11 has none of 0.12's history and producer codes", () => {
    assert.equal(reasonOf09(87, "send"), "other");
    assert.equal(reasonOf09(3014, "poll"), "other");
    assert.equal(reasonOf09(1009, "send"), "missing_target");
    assert.equal(reasonOf09(57, "send"), "uncertain");
    assert.equal(reasonOf09(57, "poll"), "transient");
  });
});

function loginReply(
  s: ReturnType<typeof session09>,
  request: { op: "login"; credentials: { username: string; password: string } },
) {
  const [head] = s.encode(request);
  const h = L.decodeRequestHeader(head!);
  const body = L.resultOk(
    L.encodeLoginReply({ userId: 0, session: 7n, serverProtocolVersion: 0x2c00, serverVersion: "t" }),
  );
  const reply = L.encodeReplyHeader(h, body.length, 0, 1n);
  const [r] = s.push(Buffer.concat([reply, body]));
  return r!;
}

describe("the VSR lines on one port", () => {
  test("dev-iggy (all generations) evicts a 0.13 login naming its whole window, 0.11.0..0.12.2", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const c = await rawConnection(server.address.port);
    c.socket.write(versionProbe(L.packVersion(0, 13, 0)));
    const ev = await readBytes(c.socket, 256);
    await c.closed;
    assert.equal(ev[60], 13, "Eviction");
    assert.equal(ev[255], 14, "IncompatibleProtocol");
    assert.equal(L.versionText(ev.readUInt32LE(148)), "0.11.0");
    assert.equal(L.versionText(ev.readUInt32LE(144)), "0.12.2");
    await server.close();
  });

  test("a 0.9-only dev-iggy evicts a 0.12 login with 0.11.0, as a 0.9.0 server does", async (t) => {
    const server = await startDev({ protocol: "0.9" });
    t.after(() => server.close());
    const c = await rawConnection(server.address.port);
    c.socket.write(versionProbe());
    const ev = await readBytes(c.socket, 256);
    await c.closed;
    assert.equal(ev[255], 14);
    assert.equal(L.versionText(ev.readUInt32LE(148)), "0.11.0");
    assert.equal(L.versionText(ev.readUInt32LE(144)), "0.11.0");
    await server.close();
  });

  test("0.9 and 0.10 clients share one dev-iggy and read each other's messages", async (t) => {
    const server = await startDev();
    t.after(() => server.close());
    const c09 = clientFor(server.address.port, { protocol: "0.9" });
    const c10 = clientFor(server.address.port, { protocol: "0.10" });
    t.after(() => c09.close());
    t.after(() => c10.close());
    await c09.ensureStream("both");
    await c09.ensureTopic("both", "t", { partitions: 1 });
    const p = { partitioning: { kind: "partition" as const, id: 0 } };
    assert.equal(
      (await c09.send("both", "t", [{ id: 1n, payload: Buffer.from("from 0.9") }], p)).status,
      "confirmed",
    );
    assert.equal(
      (await c10.send("both", "t", [{ id: 2n, payload: Buffer.from("from 0.10") }], p)).status,
      "confirmed",
    );
    for (const c of [c09, c10])
      assert.deepEqual(
        (await c.pollTail("both", "t", 0, 5)).map((m) => [m.id, m.payload.toString()]),
        [
          [1n, "from 0.9"],
          [2n, "from 0.10"],
        ],
      );
    await c09.close();
    await c10.close();
    await server.close();
  });

  test("auto against a server that accepts only protocols newer than ours: one clear error, no retries", async (t) => {
    let probes = 0;
    const fake = createServer((s) => {
      s.on("error", () => undefined);
      s.on("data", () => {
        probes++;
        s.end(L.encodeEviction(1n, 14, { max: L.packVersion(0, 13, 2), min: L.packVersion(0, 13, 0) }));
      });
    });
    const client = clientFor(await listen(closeAtEnd(t, fake)), { protocol: "auto" });
    t.after(() => client.close());
    await assert.rejects(client.connect(5_000), (e: unknown) => {
      assert.ok(e instanceof IggyServerError);
      assert.equal(e.reason, "incompatible");
      assert.match(e.message, /accepts binary protocol 0\.13\.0\.\.0\.13\.2/);
      assert.match(e.message, /0\.11\.0 \(Iggy 0\.9\), 0\.12\.0 \(Iggy 0\.10\)/);
      return true;
    });
    assert.equal(probes, 1);
    await client.close();
  });

  test("a 0.11 client session refuses nothing a 0.12 one would send before login", () => {
    const a = new ClientSession010(1 << 20, new ProducerState(), P11);
    const b = new ClientSession010(1 << 20, new ProducerState(), P12);
    const [pa] = a.encode({ op: "ping" });
    const [pb] = b.encode({ op: "ping" });
    assert.deepEqual(pa!.subarray(48, 128), pb!.subarray(48, 128));
    assert.deepEqual(pa!.subarray(160, 256), pb!.subarray(160, 256));
  });
});
