// Byte-level checks of the 0.10 (binary protocol 0.12) layouts: the worked SEND example of the
// protocol brief, header fields, login-register, the producer section, poll replies, both
// partition-record shapes, evictions.
import assert from "node:assert/strict";
import { test } from "node:test";
import { header, IggyProtocolError, IggyServerError } from "../../gateway/iggy/index.js";
import { ClientSession010 } from "../../gateway/iggy/wire/v0_10/index.js";
import { PROTOCOL_012 as P12 } from "../../gateway/iggy/wire/v0_10/dialect.js";
import * as L from "../../gateway/iggy/wire/v0_10/layouts.js";
import { ProducerState } from "../../gateway/iggy/wire/v0_10/producer.js";

const origin = 1_700_000_000_000_000n;
const example = {
  stream: "orders",
  topic: "created",
  partitioning: { kind: "partition" as const, id: 0 },
  messages: [
    { id: 1n, payload: Buffer.from("hi"), originTimestamp: origin },
    {
      id: 2n,
      payload: Buffer.from("yo"),
      originTimestamp: origin + 1000n,
      headers: new Map([["k", header.string("v")]]),
    },
  ],
};

test("SEND body of the brief's example 5.2: sizes, metadata, checksums", () => {
  const b = L.encodeSendBody(example);
  assert.equal(b.length, 399);
  assert.equal(
    b.subarray(0, 31).toString("hex"),
    "1b000000" + "02066f7264657273" + "0207637265617465" + "64" + "020400000000" + "02000000",
  );
  const batch = b.subarray(31);
  assert.equal(batch.readBigUInt64LE(24), origin);
  assert.equal(batch.readBigUInt64LE(32), 368n);
  assert.equal(batch.readBigUInt64LE(40), 0xacfe5874634f5872n, "batch checksum");
  assert.equal(batch.readUInt32LE(48), 2);
  assert.ok(
    batch.subarray(52, 256).every((x) => x === 0),
    "flags 0 and reserved zero",
  );
  assert.equal(batch.subarray(256, 264).toString("hex"), "dc8e00ca420b92a9");
  assert.equal(batch.subarray(306, 314).toString("hex"), "26a6378613c3349e");
  assert.equal(batch.subarray(306 + 48 + 2).toString("hex"), "0201000000" + "6b" + "0201000000" + "76");
  const back = L.decodeSendBody(b, P12);
  assert.deepEqual(
    back.messages.map((m) => [m.id, m.originTimestamp, m.payload.toString()]),
    [
      [1n, origin, "hi"],
      [2n, origin + 1000n, "yo"],
    ],
  );
});

test("producer section: flags at 52, id at 56, epoch at 64, sequence at 68, covered by the batch checksum", () => {
  const producer = { producerId: (4711n << 20n) | 3n, epoch: 2, baseSequence: 10 };
  const b = L.encodeSendBody(example, producer);
  const batch = b.subarray(31);
  assert.equal(batch[52], 1);
  assert.equal(batch.readBigUInt64LE(56), producer.producerId);
  assert.equal(batch.readUInt16LE(64), 2);
  assert.equal(batch.readUInt32LE(68), 10);
  assert.ok(batch.subarray(53, 56).every((x) => x === 0) && batch.subarray(66, 68).every((x) => x === 0));
  assert.notEqual(batch.readBigUInt64LE(40), 0xacfe5874634f5872n);
  assert.deepEqual(L.decodeSendBody(b, P12).producer, producer);
  // A flipped byte of the producer section breaks the batch checksum.
  const bad = Buffer.from(b);
  bad[31 + 68] = 11;
  assert.throws(
    () => L.decodeSendBody(bad, P12),
    (e: unknown) => e instanceof Error && /checksum/.test(e.message),
  );
});

test("request headers: command 5, size, NonReplicated code at 196, Register with request and session 0", () => {
  const session = new ClientSession010(1 << 20, new ProducerState());
  const [ping] = session.encode({ op: "ping" });
  assert.equal(ping!.length, 256);
  assert.equal(ping![60], 5);
  assert.equal(ping!.readUInt32LE(48), 256);
  assert.equal(ping![176], 2);
  assert.equal(ping!.readUInt32LE(196), 1);
  assert.ok(
    ping!.subarray(0, 16).every((x) => x === 0),
    "unsealed",
  );
  assert.ok(
    ping!.subarray(144, 160).every((x) => x === 0),
    "no request identifier on reads",
  );
  const [head, body] = session.encode({ op: "login", credentials: { username: "iggy", password: "pw-1" } });
  assert.equal(head![176], 1);
  assert.equal(head!.readBigUInt64LE(168), 0n);
  assert.equal(head!.readBigUInt64LE(184), 0n);
  assert.ok(!head!.subarray(144, 160).every((x) => x === 0), "register carries a random request identifier");
  assert.equal(head!.readUInt32LE(48), 256 + body!.length);
  // [version][sdk name][sdk version][bind secret:32][user][password][context_len:u32 = 0]
  assert.equal(body!.readUInt32LE(0), 0x3000, "0.12.0 = 0x00003000");
  const name = body![4]!;
  assert.equal(body!.subarray(5, 5 + name).toString(), "iggy-edge");
  const v = body![5 + name]!;
  const afterPrefix = 6 + name + v;
  assert.equal(body!.length, afterPrefix + 32 + 1 + 4 + 1 + 4 + 4);
  assert.equal(body!.subarray(afterPrefix + 33, afterPrefix + 37).toString(), "iggy");
  assert.equal(body!.readUInt32LE(body!.length - 4), 0);
});

test("a reply to another request id is a protocol error; an eviction is a server error", () => {
  const session = new ClientSession010(1 << 20, new ProducerState());
  const [ping] = session.encode({ op: "ping" });
  const client = ping!.readBigUInt64LE(128) | (ping!.readBigUInt64LE(136) << 64n);
  const wrong = L.encodeReplyHeader(
    { client, requestChecksum: 0n, timestamp: 0n, request: 9n, operation: 2 },
    0,
    0,
    1n,
  );
  const [r] = session.push(wrong);
  assert.throws(() => session.decode({ op: "ping" }, r!), IggyProtocolError);
  const s2 = new ClientSession010(1 << 20, new ProducerState());
  s2.encode({ op: "login", credentials: { token: "t" } });
  const [ev] = s2.push(L.encodeEviction(1n, 10));
  assert.throws(
    () => s2.decode({ op: "login", credentials: { token: "t" } }, ev!),
    (e: unknown) => e instanceof IggyServerError && e.code === 53,
  );
  assert.equal(s2.mustCloseAfter(), true);
});

test("poll reply: one batch per server timestamp, offsets from base offset + delta", () => {
  const stored = [0, 1, 2].map((i) => ({
    id: BigInt(i + 10),
    originTimestamp: origin + BigInt(i),
    payload: Buffer.from(`p${i}`),
    headers: i === 1 ? Buffer.from("0201000000610201000000620", "hex").subarray(0, 12) : Buffer.alloc(0),
    offset: BigInt(i + 5),
    timestamp: i < 2 ? 111n : 222n,
  }));
  const ctx = { incarnation: 7n, ownerGeneration: 0n, metadataOp: 0n };
  const body = Buffer.concat(L.encodePollReply(3, 7n, ctx, stored, P12));
  const back = L.decodePollReply(body, P12);
  assert.equal(back.partitionId, 3);
  assert.deepEqual(back.context, ctx);
  assert.deepEqual(
    back.messages.map((m) => [m.offset, m.id, m.timestamp, m.originTimestamp, m.payload.toString()]),
    stored.map((m) => [m.offset, m.id, m.timestamp, m.originTimestamp, m.payload.toString()]),
  );
  assert.deepEqual(back.messages[1]!.headers, new Map([["a", header.string("b")]]));
  // Two batches: 40-byte prefix, then 256 + frames each.
  assert.equal(body.readUInt32LE(12), 3);
  assert.equal(body.readBigUInt64LE(40 + 8), 5n);
});

test("topic records decode in both partition shapes (0.12.0: 64 bytes; 0.12.2: with node lists)", () => {
  const t = {
    id: 1,
    name: "tele",
    createdAt: 5n,
    partitionsCount: 2,
    messageExpiry: 9n,
    compression: 2,
    maxTopicSize: (1n << 64n) - 1n,
    replicationFactor: 1,
    sizeBytes: 0n,
    messagesCount: 0n,
    partitions: [0, 1].map((id) => ({
      id,
      createdAt: 5n,
      segmentsCount: 1,
      currentOffset: 0n,
      sizeBytes: 0n,
      messagesCount: 0n,
      context: { incarnation: 5n, ownerGeneration: 0n, metadataOp: 0n },
    })),
  };
  for (const withNodes of [false, true]) {
    const back = L.decodeTopicDetails(L.encodeTopicDetails(t, withNodes, P12), P12)!;
    assert.equal(back.partitions.length, 2);
    assert.equal(back.messageExpiry, 9n);
    assert.equal(back.compression, 2);
    assert.equal(back.partitions[1]!.context?.incarnation, 5n);
  }
  // Topic header: 33 fixed bytes + name + two u32-prefixed option blocks.
  const bytes = L.encodeTopicDetails({ ...t, partitions: [], partitionsCount: 0 }, false, P12);
  assert.equal(bytes.readUInt32LE(33 + 4), 0, "explicit options block is empty");
});

test("options block: topic settings as String-keyed TLVs; unknown keys refused", () => {
  const o = L.topicOptions({ partitions: 1, messageExpiry: 1000n, maxTopicSize: 2n ** 31n, compression: 2 });
  const settings = L.decodeTopicOptions(o);
  assert.equal(settings.messageExpiry, 1000n);
  assert.equal(settings.maxTopicSize, 2n ** 31n);
  assert.equal(settings.compression, 2);
  const odd = L.topicOptions({ partitions: 1 });
  assert.equal(odd.length, 0);
  const unknown = Buffer.concat([
    Buffer.from([2, 3, 0, 0, 0]),
    Buffer.from("abc"),
    Buffer.from([2, 1, 0, 0, 0]),
    Buffer.from("x"),
  ]);
  assert.throws(() => L.decodeTopicOptions(unknown), /unsupported option key/);
});

test("version packing", () => {
  assert.equal(L.packVersion(0, 12, 0), 0x3000);
  assert.equal(L.packVersion(0, 11, 0), 0x2c00);
  assert.equal(L.versionText(0x3002), "0.12.2");
});
