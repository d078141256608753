// Iggy 0.8 payload layouts, both directions side by side: the client encodes requests and
// decodes replies; the dev server decodes requests and encodes replies with the same functions.
import { decodeHeaders, encodeHeaders, MAX_USER_HEADERS_BYTES } from "../headers.js";
import { LayoutError, nameBytes, Reader, Writer } from "../bytes.js";
import type { IncomingMessage, StoredMessage } from "../generation.js";
import type {
  Consumer,
  Identifier,
  Partitioning,
  PartitionInfo,
  PolledBatch,
  PolledMessage,
  StreamInfo,
  TopicInfo,
  TopicSettings,
} from "../../types.js";
import {
  writeConsumer,
  writeOptPartition,
  readOptPartition,
  readStrategy,
  readPartitioning,
  writeIdentifier,
  encodeIdentifiers,
  encodeOffsetInfo,
  decodeOffsetInfo,
  encodePoll,
  U32_MAX,
  type PollRequest,
  type SendRequest,
} from "../shared-layouts.js";
export { writeIdentifier, encodeIdentifiers, encodeOffsetInfo, decodeOffsetInfo, encodePoll };
export type { PollRequest, SendRequest };

export const COMMAND = {
  ping: 1,
  getMe: 20,
  login: 38,
  logout: 39,
  loginToken: 44,
  poll: 100,
  send: 101,
  getOffset: 120,
  storeOffset: 121,
  getStream: 200,
  createStream: 202,
  deleteStream: 203,
  getTopic: 300,
  createTopic: 302,
} as const;

export const MESSAGE_HEADER_SIZE = 64;
export const MAX_PAYLOAD_BYTES = 64_000_000;
/** Non-SEND payloads above this are refused by the server. */
export const MAX_CONTROL_PAYLOAD = 10 * 1024 * 1024;

// ---- primitives ----

/** `code` is the status a server answers for a malformed identifier here (6 in SEND, 4 elsewhere). */
export function readIdentifier(r: Reader, field: string, code = 4): Identifier {
  const kind = r.u8(`${field} kind`);
  const len = r.u8(`${field} length`);
  const value = r.bytes(len, field);
  if (kind === 1 && len === 4) return value.readUInt32LE(0);
  if (kind === 2 && len >= 1) return value.toString("utf8");
  throw new LayoutError(`${field}: identifier kind ${kind} with length ${len} is invalid`, code);
}

function readConsumer(r: Reader): Consumer {
  const kind = r.u8("consumer kind");
  if (kind !== 1 && kind !== 2) throw new LayoutError(`consumer kind ${kind} is invalid`, 4);
  return { kind: kind === 1 ? "consumer" : "group", id: readIdentifier(r, "consumer") };
}

function partitioningBytes(p: Partitioning): Buffer {
  switch (p.kind) {
    case "balanced":
      return Buffer.from([1, 0]);
    case "partition": {
      if (!Number.isInteger(p.id) || p.id < 0 || p.id > U32_MAX)
        throw new RangeError(`partition ${p.id} is not a u32`);
      const b = Buffer.alloc(6);
      b[0] = 2;
      b[1] = 4;
      b.writeUInt32LE(p.id, 2);
      return b;
    }
    case "key": {
      if (p.key.length < 1 || p.key.length > 255) throw new RangeError(`messages key must be 1..255 bytes`);
      return Buffer.concat([Buffer.from([3, p.key.length]), p.key]);
    }
  }
}

// ---- login ----

export function encodeLogin(username: string, password: string, version = ""): Buffer {
  const u = nameBytes(username, "username");
  const p = nameBytes(password, "password");
  const v = Buffer.from(version, "utf8");
  return new Writer().u8(u.length).bytes(u).u8(p.length).bytes(p).u32(v.length).bytes(v).u32(0).finish();
}

export function decodeLogin(body: Buffer): { username: string; password: string } {
  const r = new Reader(body, "login");
  const username = r.name("username");
  const password = r.name("password");
  // Version and context are optional u32-prefixed strings; a server ignores them.
  if (r.remaining >= 4) r.bytes(r.u32("version length"), "version");
  if (r.remaining >= 4) r.bytes(r.u32("context length"), "context");
  return { username, password };
}

export function encodeToken(token: string): Buffer {
  const t = nameBytes(token, "token");
  return new Writer().u8(t.length).bytes(t).finish();
}

export function decodeToken(body: Buffer): string {
  const r = new Reader(body, "token login");
  const t = r.name("token");
  r.end();
  return t;
}

export const encodeUserId = (id: number): Buffer => new Writer().u32(id).finish();
export function decodeUserId(body: Buffer): number {
  const r = new Reader(body, "login reply");
  return r.u32("user id");
}

// ---- streams and topics ----

export function decodeIdentifiers(body: Buffer, fields: string[]): Identifier[] {
  const r = new Reader(body, fields.join("/"));
  const out = fields.map((f) => readIdentifier(r, f));
  r.end();
  return out;
}

export function encodeName(name: string, field: string): Buffer {
  const b = nameBytes(name, field);
  return new Writer().u8(b.length).bytes(b).finish();
}

export function decodeName(body: Buffer, field: string): string {
  const r = new Reader(body, field);
  const len = r.u8(`${field} length`);
  if (len === 0) throw new LayoutError(`${field} is empty`, 4);
  const name = r.bytes(len, field).toString("utf8");
  r.end();
  return name;
}

export function encodeCreateTopic(stream: Identifier, name: string, s: TopicSettings): Buffer {
  const w = new Writer(64);
  writeIdentifier(w, stream, "stream");
  const n = nameBytes(name, "topic name");
  return w
    .u32(s.partitions)
    .u8(s.compression ?? 1)
    .u64(s.messageExpiry ?? 0n)
    .u64(s.maxTopicSize ?? 0n)
    .u8(s.replicationFactor ?? 1)
    .u8(n.length)
    .bytes(n)
    .finish();
}

export function decodeCreateTopic(body: Buffer): {
  stream: Identifier;
  name: string;
  settings: TopicSettings;
} {
  const r = new Reader(body, "create topic");
  const stream = readIdentifier(r, "stream");
  const partitions = r.u32("partitions count");
  const compression = r.u8("compression");
  const messageExpiry = r.u64("message expiry");
  const maxTopicSize = r.u64("max topic size");
  const replicationFactor = r.u8("replication factor");
  const len = r.u8("name length");
  if (len === 0) throw new LayoutError("topic name is empty", 4);
  const name = r.bytes(len, "topic name").toString("utf8");
  r.end();
  return {
    stream,
    name,
    settings: { partitions, compression, messageExpiry, maxTopicSize, replicationFactor },
  };
}

function writePartition(w: Writer, p: PartitionInfo): void {
  w.u32(p.id)
    .u64(p.createdAt)
    .u32(p.segmentsCount)
    .u64(p.currentOffset)
    .u64(p.sizeBytes)
    .u64(p.messagesCount);
}

function readPartition(r: Reader): PartitionInfo {
  return {
    id: r.u32("partition id"),
    createdAt: r.u64("created at"),
    segmentsCount: r.u32("segments count"),
    currentOffset: r.u64("current offset"),
    sizeBytes: r.u64("size"),
    messagesCount: r.u64("messages count"),
  };
}

function writeTopicHeader(w: Writer, t: TopicInfo): void {
  const n = nameBytes(t.name, "topic name");
  w.u32(t.id)
    .u64(t.createdAt)
    .u32(t.partitionsCount)
    .u64(t.messageExpiry)
    .u8(t.compression)
    .u64(t.maxTopicSize)
    .u8(t.replicationFactor)
    .u64(t.sizeBytes)
    .u64(t.messagesCount)
    .u8(n.length)
    .bytes(n);
}

function readTopicHeader(r: Reader): TopicInfo {
  return {
    id: r.u32("topic id"),
    createdAt: r.u64("created at"),
    partitionsCount: r.u32("partitions count"),
    messageExpiry: r.u64("message expiry"),
    compression: r.u8("compression"),
    maxTopicSize: r.u64("max topic size"),
    replicationFactor: r.u8("replication factor"),
    sizeBytes: r.u64("size"),
    messagesCount: r.u64("messages count"),
    name: r.name("topic name"),
    partitions: [],
  };
}

export function encodeTopicDetails(t: TopicInfo): Buffer {
  const w = new Writer(128 + 40 * t.partitions.length);
  writeTopicHeader(w, t);
  for (const p of t.partitions) writePartition(w, p);
  return w.finish();
}

export function decodeTopicDetails(body: Buffer): TopicInfo | null {
  if (body.length === 0) return null;
  const r = new Reader(body, "topic details");
  const t = readTopicHeader(r);
  for (let i = 0; i < t.partitionsCount; i++) t.partitions.push(readPartition(r));
  r.end();
  return t;
}

/** Stream header, then (for details) its topic headers. */
export function encodeStream(s: StreamInfo, withTopics: boolean): Buffer {
  const w = new Writer(128);
  const n = nameBytes(s.name, "stream name");
  w.u32(s.id)
    .u64(s.createdAt)
    .u32(withTopics ? s.topics.length : 0)
    .u64(s.sizeBytes)
    .u64(s.messagesCount)
    .u8(n.length)
    .bytes(n);
  if (withTopics) for (const t of s.topics) writeTopicHeader(w, t);
  return w.finish();
}

export function decodeStream(body: Buffer): StreamInfo | null {
  if (body.length === 0) return null;
  const r = new Reader(body, "stream details");
  const s: StreamInfo = {
    id: r.u32("stream id"),
    createdAt: r.u64("created at"),
    topicsCount: r.u32("topics count"),
    sizeBytes: r.u64("size"),
    messagesCount: r.u64("messages count"),
    name: r.name("stream name"),
    topics: [],
  };
  while (r.remaining > 0) s.topics.push(readTopicHeader(r));
  return s;
}

// ---- consumer offsets ----

export function encodeOffsetRequest(
  consumer: Consumer,
  stream: Identifier,
  topic: Identifier,
  partition: number | undefined,
  offset?: bigint,
): Buffer {
  const w = new Writer(64);
  writeConsumer(w, consumer);
  writeIdentifier(w, stream, "stream");
  writeIdentifier(w, topic, "topic");
  writeOptPartition(w, partition);
  if (offset !== undefined) w.u64(offset);
  return w.finish();
}

export function decodeOffsetRequest(
  body: Buffer,
  withOffset: boolean,
): { consumer: Consumer; stream: Identifier; topic: Identifier; partition?: number; offset: bigint } {
  const r = new Reader(body, "consumer offset");
  const consumer = readConsumer(r);
  const stream = readIdentifier(r, "stream");
  const topic = readIdentifier(r, "topic");
  const partition = readOptPartition(r);
  const offset = withOffset ? r.u64("offset") : 0n;
  r.end();
  return { consumer, stream, topic, offset, ...(partition === undefined ? {} : { partition }) };
}

// ---- poll ----

export function decodePoll(body: Buffer): PollRequest {
  const r = new Reader(body, "poll");
  const consumer = readConsumer(r);
  const stream = readIdentifier(r, "stream");
  const topic = readIdentifier(r, "topic");
  const partition = readOptPartition(r);
  const strategy = readStrategy(r);
  const count = r.u32("count");
  const autoCommit = r.u8("auto commit") === 1;
  r.end();
  return {
    consumer,
    stream,
    topic,
    strategy,
    count,
    autoCommit,
    ...(partition === undefined ? {} : { partition }),
  };
}

/** Writes the 64-byte message header at `at`. */
function writeMessageHeader(
  b: Buffer,
  at: number,
  m: { checksum: bigint; id: bigint; offset: bigint; timestamp: bigint; originTimestamp: bigint },
  headersLen: number,
  payloadLen: number,
): void {
  b.writeBigUInt64LE(m.checksum, at);
  b.writeBigUInt64LE(BigInt.asUintN(64, m.id), at + 8);
  b.writeBigUInt64LE(BigInt.asUintN(64, m.id >> 64n), at + 16);
  b.writeBigUInt64LE(m.offset, at + 24);
  b.writeBigUInt64LE(m.timestamp, at + 32);
  b.writeBigUInt64LE(m.originTimestamp, at + 40);
  b.writeUInt32LE(headersLen, at + 48);
  b.writeUInt32LE(payloadLen, at + 52);
  b.writeBigUInt64LE(0n, at + 56);
}

/** A stored message's frame with checksum 0 (the checksum is XXH3-64 of bytes 8.. of this). */
export function storedFrame(m: StoredMessage, checksum: bigint): Buffer {
  const b = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE + m.payload.length + m.headers.length);
  writeMessageHeader(b, 0, { ...m, checksum }, m.headers.length, m.payload.length);
  m.payload.copy(b, MESSAGE_HEADER_SIZE);
  m.headers.copy(b, MESSAGE_HEADER_SIZE + m.payload.length);
  return b;
}

/** Poll reply: 16-byte prefix then whole message frames. */
export function encodePollReply(
  partitionId: number,
  currentOffset: bigint,
  messages: StoredMessage[],
  checksum: (m: StoredMessage) => bigint,
): Buffer[] {
  const prefix = new Writer(16).u32(partitionId).u64(currentOffset).u32(messages.length).finish();
  const out = [prefix];
  for (const m of messages) {
    const head = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE);
    writeMessageHeader(head, 0, { ...m, checksum: checksum(m) }, m.headers.length, m.payload.length);
    out.push(head, m.payload, m.headers);
  }
  return out;
}

export function decodePollReply(body: Buffer): PolledBatch {
  const r = new Reader(body, "poll reply");
  const partitionId = r.u32("partition id");
  const currentOffset = r.u64("current offset");
  const count = r.u32("messages count");
  const messages: PolledMessage[] = [];
  for (let i = 0; i < count; i++) {
    const checksum = r.u64("checksum");
    const id = r.u128("id");
    const offset = r.u64("offset");
    const timestamp = r.u64("timestamp");
    const originTimestamp = r.u64("origin timestamp");
    const headersLen = r.u32("headers length");
    const payloadLen = r.u32("payload length");
    r.u64("reserved");
    const payload = Buffer.from(r.bytes(payloadLen, "payload"));
    const headers = decodeHeaders(r.bytes(headersLen, "user headers"));
    messages.push({ offset, id, timestamp, originTimestamp, checksum, payload, headers });
  }
  r.end();
  return { partitionId, currentOffset, messages };
}

// ---- send ----

const nowMicros = (): bigint => BigInt(Date.now()) * 1000n;

/**
 * The whole SEND_MESSAGES frame (8-byte frame header included) in one buffer.
 * Throws RangeError for what the protocol cannot carry.
 */
export function encodeSendFrame(s: SendRequest): Buffer {
  const count = s.messages.length;
  if (count === 0) throw new RangeError("a batch must hold at least one message");
  const meta = new Writer(64);
  writeIdentifier(meta, s.stream, "stream");
  writeIdentifier(meta, s.topic, "topic");
  meta.bytes(partitioningBytes(s.partitioning)).u32(count);
  const metadata = meta.finish();
  const headers = s.messages.map((m) => encodeHeaders(m.headers));
  let data = 0;
  for (let i = 0; i < count; i++) {
    const m = s.messages[i]!;
    if (m.payload.length > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`message ${i}: payload of ${m.payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
    }
    if (m.id !== undefined && (m.id < 0n || m.id >> 128n !== 0n))
      throw new RangeError(`message ${i}: id is not a u128`);
    data += MESSAGE_HEADER_SIZE + m.payload.length + headers[i]!.length;
  }
  const payloadLen = 4 + metadata.length + 16 * count + data;
  if (payloadLen + 4 > U32_MAX)
    throw new RangeError(`batch of ${payloadLen} bytes is too large for one frame`);
  const b = Buffer.allocUnsafe(8 + payloadLen);
  b.writeUInt32LE(payloadLen + 4, 0);
  b.writeUInt32LE(COMMAND.send, 4);
  b.writeUInt32LE(metadata.length, 8);
  metadata.copy(b, 12);
  let idx = 12 + metadata.length;
  let at = idx + 16 * count;
  const dataStart = at;
  const origin = nowMicros();
  for (let i = 0; i < count; i++) {
    const m = s.messages[i]!;
    const h = headers[i]!;
    const id = m.id ?? 0n;
    writeMessageHeader(
      b,
      at,
      { checksum: 0n, id, offset: 0n, timestamp: 0n, originTimestamp: m.originTimestamp ?? origin },
      h.length,
      m.payload.length,
    );
    b.set(m.payload, at + MESSAGE_HEADER_SIZE);
    h.copy(b, at + MESSAGE_HEADER_SIZE + m.payload.length);
    at += MESSAGE_HEADER_SIZE + m.payload.length + h.length;
    b.writeUInt32LE(0, idx);
    b.writeUInt32LE(at - dataStart, idx + 4);
    b.writeBigUInt64LE(0n, idx + 8);
    idx += 16;
  }
  return b;
}

/** Server side: validates like a 0.8 server and returns views into `body` (no copies). */
export function decodeSend(body: Buffer): Omit<SendRequest, "messages"> & { messages: IncomingMessage[] } {
  const r = new Reader(body, "send messages");
  const metaLen = r.u32("metadata length");
  const meta = new Reader(r.bytes(metaLen, "metadata"), "send metadata");
  const stream = readIdentifier(meta, "stream", 6);
  const topic = readIdentifier(meta, "topic", 6);
  const partitioning = readPartitioning(meta);
  const count = meta.u32("messages count");
  meta.end();
  if (count === 0) throw new LayoutError("a batch must hold at least one message", 4009);
  if (r.remaining < 16 * count) throw new LayoutError(`index of ${count} entries is truncated`, 4033);
  const index = r.bytes(16 * count, "index");
  const data = r.bytes(r.remaining, "data");
  const messages: IncomingMessage[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const at = 16 * i;
    if (index.readUInt32LE(at) !== 0) throw new LayoutError(`index ${i}: non-zero offset`, 4031);
    if (index.readBigUInt64LE(at + 8) !== 0n) throw new LayoutError(`index ${i}: non-zero timestamp`, 4032);
    const end = index.readUInt32LE(at + 4);
    if (end < start || end > data.length)
      throw new LayoutError(`index ${i}: position ${end} is out of order`, 4033);
    if (end - start < MESSAGE_HEADER_SIZE)
      throw new LayoutError(`message ${i} is shorter than its header`, 4037);
    const headersLen = data.readUInt32LE(start + 48);
    const payloadLen = data.readUInt32LE(start + 52);
    if (payloadLen > MAX_PAYLOAD_BYTES) throw new LayoutError(`message ${i}: payload too big`, 4022);
    if (headersLen > MAX_USER_HEADERS_BYTES) throw new LayoutError(`message ${i}: headers too big`, 4017);
    if (MESSAGE_HEADER_SIZE + payloadLen + headersLen !== end - start) {
      throw new LayoutError(`message ${i}: declared lengths do not match its index entry`, 4025);
    }
    const p = start + MESSAGE_HEADER_SIZE;
    messages.push({
      id: data.readBigUInt64LE(start + 8) | (data.readBigUInt64LE(start + 16) << 64n),
      originTimestamp: data.readBigUInt64LE(start + 40),
      payload: data.subarray(p, p + payloadLen),
      headers: data.subarray(p + payloadLen, p + payloadLen + headersLen),
    });
    start = end;
  }
  if (start !== data.length)
    throw new LayoutError(`messages take ${start} bytes, data section has ${data.length}`, 4036);
  return { stream, topic, partitioning, messages };
}
