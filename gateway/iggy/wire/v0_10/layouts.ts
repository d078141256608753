// VSR layouts (Iggy 0.10 / binary protocol 0.12 and Iggy 0.9 / protocol 0.11), both directions
// side by side: the 256-byte request, reply and eviction headers, and the bodies of the commands
// the gateway uses. Where the two protocols differ, a function takes the VsrDialect (./dialect.ts
// lists every difference). Written from the `Wire format:` doc comments of the crate
// iggy_binary_protocol (see ./index.ts for which versions and what was confirmed); no code of it
// is copied.
import { xxh3_64 } from "../../hash/xxh3.js";
import type {
  Consumer,
  HeaderValue,
  Identifier,
  Partitioning,
  PartitionInfo,
  PolledBatch,
  PolledMessage,
  StreamInfo,
  TopicInfo,
  TopicSettings,
  UserHeaders,
} from "../../types.js";
import { LayoutError, nameBytes, Reader, Writer } from "../bytes.js";
import type { IncomingMessage, PartitionContext, ProducerSection, StoredMessage } from "../generation.js";
import { PROTOCOL_012, type VsrDialect } from "./dialect.js";
import { decodeHeaders, encodeHeaders, MAX_USER_HEADERS_BYTES } from "../headers.js";
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

export const HEADER_SIZE = 256;
export const COMMAND = { request: 5, reply: 8, eviction: 13 } as const;
export const OPERATION = {
  register: 1,
  nonReplicated: 2,
  logout: 3,
  createStream: 128,
  deleteStream: 130,
  createTopic: 132,
  send: 160,
  storeOffset: 161,
} as const;
export const CODE = {
  ping: 1,
  logout: 39,
  loginRegister: 40,
  loginRegisterPat: 45,
  poll: 100,
  send: 101,
  getOffset: 120,
  storeOffset: 121,
  getStream: 200,
  createStream: 202,
  deleteStream: 203,
  getTopic: 300,
  createTopic: 302,
  getClusterMetadata: 12,
  getPartitionRoute: 105,
  pollDeferred: 106,
} as const;

/** Operation of each command code this module speaks (NonReplicated carries its code at byte 196). */
export const OPERATION_OF: Record<number, number> = {
  [CODE.ping]: OPERATION.nonReplicated,
  [CODE.logout]: OPERATION.logout,
  [CODE.loginRegister]: OPERATION.register,
  [CODE.loginRegisterPat]: OPERATION.register,
  [CODE.poll]: OPERATION.nonReplicated,
  [CODE.send]: OPERATION.send,
  [CODE.getOffset]: OPERATION.nonReplicated,
  [CODE.storeOffset]: OPERATION.storeOffset,
  [CODE.getStream]: OPERATION.nonReplicated,
  [CODE.createStream]: OPERATION.createStream,
  [CODE.deleteStream]: OPERATION.deleteStream,
  [CODE.getTopic]: OPERATION.nonReplicated,
  [CODE.createTopic]: OPERATION.createTopic,
};

/** Replies to these operations start with the result section `[count][{index, result}]*`. */
export function isResultFramed(operation: number): boolean {
  return (operation >= 128 && operation <= 150) || operation === 161 || operation === 162;
}

export { packVersion, versionText } from "./dialect.js";

/** What the 0.10 generation announces at login: Iggy 0.10.0 speaks binary protocol 0.12.0. */
export const PROTOCOL_VERSION = PROTOCOL_012.protocolVersion;
export const SDK_NAME = "iggy-edge";
export const BIND_SECRET_BYTES = 32;

export const EVICTION_REASONS: Record<number, string> = {
  1: "NoSession",
  2: "ClientReleaseTooLow",
  3: "ClientReleaseTooHigh",
  4: "InvalidRequestOperation",
  5: "InvalidRequestBody",
  6: "InvalidRequestBodySize",
  7: "SessionTooLow",
  8: "SessionReleaseMismatch",
  9: "InvalidCredentials",
  10: "InvalidToken",
  11: "UserInactive",
  12: "SessionError",
  13: "StaleClient",
  14: "IncompatibleProtocol",
  15: "MalformedLogin",
};

// ---- headers ----

export interface RequestHeaderFields {
  size: number;
  client: bigint;
  requestChecksum: bigint;
  request: bigint;
  operation: number;
  session: bigint;
  /** Written at 196..200 for NonReplicated only. */
  code: number;
  context?: PartitionContext;
}

function writeU128(b: Buffer, v: bigint, at: number): void {
  b.writeBigUInt64LE(BigInt.asUintN(64, v), at);
  b.writeBigUInt64LE(BigInt.asUintN(64, v >> 64n), at + 8);
}

function readU128(b: Buffer, at: number): bigint {
  return b.readBigUInt64LE(at) | (b.readBigUInt64LE(at + 8) << 64n);
}

export function encodeRequestHeader(f: RequestHeaderFields): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32LE(f.size, 48);
  h[60] = COMMAND.request;
  writeU128(h, f.client, 128);
  writeU128(h, f.requestChecksum, 144);
  h.writeBigUInt64LE(f.request, 168);
  h[176] = f.operation;
  h.writeBigUInt64LE(f.session, 184);
  if (f.operation === OPERATION.nonReplicated) h.writeUInt32LE(f.code, 196);
  if (f.context) {
    h.writeBigUInt64LE(f.context.incarnation, 200);
    h.writeBigUInt64LE(f.context.ownerGeneration, 208);
    h.writeBigUInt64LE(f.context.metadataOp, 216);
  }
  return h;
}

export interface ParsedRequestHeader extends RequestHeaderFields {
  timestamp: bigint;
}

/** Server side: the checks a 0.10 server makes on a client's request header. */
export function decodeRequestHeader(h: Buffer): ParsedRequestHeader {
  if (h[60] !== COMMAND.request) throw new LayoutError(`command ${h[60]} is not Request (5)`, 3);
  const size = h.readUInt32LE(48);
  if (size < HEADER_SIZE) throw new LayoutError(`frame size ${size} is below the header size`, 3);
  if (h.readUInt32LE(56) !== 0) throw new LayoutError("release must be 0", 3);
  const client = readU128(h, 128);
  const operation = h[176]!;
  const request = h.readBigUInt64LE(168);
  const session = h.readBigUInt64LE(184);
  if (client === 0n) throw new LayoutError("request: client must be != 0", 3);
  if (operation === 0 || (operation >= 64 && operation < 128))
    throw new LayoutError(`operation ${operation} is not a client operation`, 3);
  if (operation === OPERATION.register && (session !== 0n || request !== 0n))
    throw new LayoutError("register: session and request must be 0", 3);
  if (
    operation !== OPERATION.register &&
    operation !== OPERATION.nonReplicated &&
    (session === 0n || request === 0n)
  )
    throw new LayoutError("non-register: session and request must be > 0", 40);
  return {
    size,
    client,
    requestChecksum: readU128(h, 144),
    timestamp: h.readBigUInt64LE(160),
    request,
    operation,
    session,
    code: h.readUInt32LE(196),
    context: {
      incarnation: h.readBigUInt64LE(200),
      ownerGeneration: h.readBigUInt64LE(208),
      metadataOp: h.readBigUInt64LE(216),
    },
  };
}

/** The fields of a header that failed the checks, to address the answer to it. */
export function looseRequestHeader(h: Buffer): ParsedRequestHeader {
  return {
    size: h.readUInt32LE(48),
    client: readU128(h, 128),
    requestChecksum: readU128(h, 144),
    timestamp: h.readBigUInt64LE(160),
    request: h.readBigUInt64LE(168),
    operation: h[176] === OPERATION.register ? OPERATION.nonReplicated : h[176]!,
    session: h.readBigUInt64LE(184),
    code: h.readUInt32LE(196),
  };
}

export function encodeReplyHeader(
  req: Pick<ParsedRequestHeader, "client" | "requestChecksum" | "timestamp" | "request" | "operation">,
  bodyLength: number,
  status: number,
  op: bigint,
): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32LE(HEADER_SIZE + bodyLength, 48);
  h[60] = COMMAND.reply;
  writeU128(h, req.requestChecksum, 128);
  writeU128(h, req.client, 160);
  h.writeBigUInt64LE(op, 176);
  h.writeBigUInt64LE(op, 184);
  h.writeBigUInt64LE(req.timestamp, 192);
  h.writeBigUInt64LE(req.request, 200);
  h[208] = req.operation;
  h.writeUInt32LE(status >>> 0, 216);
  return h;
}

export interface ReplyHeaderFields {
  command: number;
  size: number;
  client: bigint;
  request: bigint;
  operation: number;
  status: number;
  /** Eviction only. */
  reason: number;
  serverVersion: number;
  serverVersionMin: number;
}

export function decodeReplyHeader(h: Buffer): ReplyHeaderFields {
  const command = h[60]!;
  if (command === COMMAND.eviction) {
    return {
      command,
      size: h.readUInt32LE(48),
      client: readU128(h, 128),
      request: 0n,
      operation: 0,
      status: 0,
      reason: h[255]!,
      serverVersion: h.readUInt32LE(144),
      serverVersionMin: h.readUInt32LE(148),
    };
  }
  return {
    command,
    size: h.readUInt32LE(48),
    client: readU128(h, 160),
    request: h.readBigUInt64LE(200),
    operation: h[208]!,
    status: h.readUInt32LE(216),
    reason: 0,
    serverVersion: 0,
    serverVersionMin: 0,
  };
}

export function encodeEviction(
  client: bigint,
  reason: number,
  window?: { max: number; min: number },
): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.writeUInt32LE(HEADER_SIZE, 48);
  h[60] = COMMAND.eviction;
  writeU128(h, client, 128);
  if (window) {
    h.writeUInt32LE(window.max, 144);
    h.writeUInt32LE(window.min, 148);
  }
  h[255] = reason;
  return h;
}

// ---- primitives ----

export function readIdentifier(r: Reader, field: string): Identifier {
  const kind = r.u8(`${field} kind`);
  const len = r.u8(`${field} length`);
  const value = r.bytes(len, field);
  if (kind === 1 && len === 4) return value.readUInt32LE(0);
  if (kind === 2 && len >= 1) return value.toString("utf8");
  throw new LayoutError(`${field}: identifier kind ${kind} with length ${len} is invalid`, 6);
}

function readConsumer(r: Reader): Consumer {
  const kind = r.u8("consumer kind");
  if (kind !== 1 && kind !== 2) throw new LayoutError(`consumer kind ${kind} is invalid`, 4);
  return { kind: kind === 1 ? "consumer" : "group", id: readIdentifier(r, "consumer") };
}

function writePartitioning(w: Writer, p: Partitioning): void {
  switch (p.kind) {
    case "balanced":
      w.u8(1).u8(0);
      return;
    case "partition":
      if (!Number.isInteger(p.id) || p.id < 0 || p.id > U32_MAX)
        throw new RangeError(`partition ${p.id} is not a u32`);
      w.u8(2).u8(4).u32(p.id);
      return;
    case "key":
      if (p.key.length < 1 || p.key.length > 255) throw new RangeError("messages key must be 1..255 bytes");
      w.u8(3).u8(p.key.length).bytes(p.key);
  }
}

function readContext(r: Reader): PartitionContext {
  return {
    incarnation: r.u64("incarnation"),
    ownerGeneration: r.u64("owner generation"),
    metadataOp: r.u64("metadata op"),
  };
}

function writeContext(w: Writer, c: PartitionContext): void {
  w.u64(c.incarnation).u64(c.ownerGeneration).u64(c.metadataOp);
}

// ---- login-register ----

export interface LoginRegister {
  protocolVersion: number;
  sdkName: string;
  sdkVersion: string;
  /** 0.12 only (absent in 0.11). */
  bindSecret?: Buffer | undefined;
  credentials: { username: string; password: string } | { token: string };
}

export function encodeLoginRegister(l: LoginRegister): Buffer {
  const w = new Writer(128);
  const name = nameBytes(l.sdkName, "sdk name");
  const version = nameBytes(l.sdkVersion, "sdk version");
  w.u32(l.protocolVersion).u8(name.length).bytes(name).u8(version.length).bytes(version);
  if (l.bindSecret) {
    if (l.bindSecret.length !== BIND_SECRET_BYTES) throw new RangeError("bind secret must be 32 bytes");
    w.bytes(l.bindSecret);
  }
  if ("token" in l.credentials) {
    const t = nameBytes(l.credentials.token, "token");
    w.u8(t.length).bytes(t);
  } else {
    const u = nameBytes(l.credentials.username, "username");
    const p = nameBytes(l.credentials.password, "password");
    w.u8(u.length).bytes(u).u8(p.length).bytes(p);
  }
  return w.u32(0).finish();
}

/** The version prefix alone (the server gates on it before reading the rest). */
export function decodeVersionPrefix(body: Buffer): {
  protocolVersion: number;
  sdkName: string;
  sdkVersion: string;
  rest: Reader;
} {
  const r = new Reader(body, "login-register");
  const protocolVersion = r.u32("protocol version");
  const sdkName = r.name("sdk name");
  const sdkVersion = r.name("sdk version");
  if (sdkName.length === 0 || sdkVersion.length === 0)
    throw new LayoutError("sdk name and version must not be empty", 3);
  return { protocolVersion, sdkName, sdkVersion, rest: r };
}

function readContextTail(r: Reader): void {
  const len = r.u32("context length");
  r.bytes(len, "context");
  r.end();
}

/** After the prefix: the bind secret (0.12), then user/password or a token (told apart by what parses). */
export function decodeLoginCredentials(r: Reader, d: VsrDialect): LoginRegister["credentials"] {
  if (d.bindSecret) r.bytes(BIND_SECRET_BYTES, "bind secret");
  const start = r.pos;
  try {
    const username = r.name("username");
    const password = r.name("password");
    if (username.length === 0 || password.length === 0) throw new LayoutError("empty name");
    readContextTail(r);
    return { username, password };
  } catch (e) {
    if (!(e instanceof LayoutError)) throw e;
    r.pos = start;
    const token = r.name("token");
    if (token.length === 0) throw new LayoutError("token is empty", 3);
    readContextTail(r);
    return { token };
  }
}

export interface LoginReply {
  userId: number;
  session: bigint;
  serverProtocolVersion: number;
  serverVersion: string;
}

export function encodeLoginReply(l: LoginReply): Buffer {
  const v = nameBytes(l.serverVersion, "server version");
  return new Writer(64)
    .u32(0)
    .u32(l.userId)
    .u64(l.session)
    .u32(l.serverProtocolVersion)
    .u8(v.length)
    .bytes(v)
    .finish();
}

/** The payload after the result section. */
export function decodeLoginReply(payload: Buffer): LoginReply {
  const r = new Reader(payload, "login-register reply");
  return {
    userId: r.u32("user id"),
    session: r.u64("session"),
    serverProtocolVersion: r.u32("server protocol version"),
    serverVersion: r.name("server version"),
  };
}

// ---- result section ----

/** Splits a result-framed body: `{code: 0, payload}` on success, the first entry's code otherwise. */
export function splitResult(body: Buffer): { code: number; payload: Buffer } {
  if (body.length < 4) throw new LayoutError(`result section of ${body.length} bytes is truncated`);
  const count = body.readUInt32LE(0);
  if (count === 0) return { code: 0, payload: body.subarray(4) };
  if (body.length < 4 + 8 * count) throw new LayoutError(`result section of ${count} entries is truncated`);
  return { code: body.readUInt32LE(8), payload: Buffer.alloc(0) };
}

export const resultOk = (payload: Buffer = Buffer.alloc(0)): Buffer =>
  Buffer.concat([Buffer.alloc(4), payload]);

export function resultRejection(code: number): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(1, 0);
  b.writeUInt32LE(code, 8);
  return b;
}

// ---- options blocks ----

const U64_MAX = (1n << 64n) - 1n;

/** Topic settings as an options block (keys the 0.12 catalog defines; numbers as Uint kinds). */
export function topicOptions(s: TopicSettings): Buffer {
  const m: UserHeaders = new Map();
  if (s.compression !== undefined && s.compression !== 0)
    m.set("compression_algorithm", { kind: "string", value: s.compression === 2 ? "gzip" : "none" });
  if (s.messageExpiry) m.set("message_expiry", { kind: "uint64", value: s.messageExpiry });
  if (s.maxTopicSize) m.set("max_topic_size", { kind: "uint64", value: s.maxTopicSize });
  if (s.replicationFactor) m.set("replication_factor", { kind: "uint32", value: s.replicationFactor });
  return encodeHeaders(m);
}

function optionNumber(v: HeaderValue | undefined): bigint | undefined {
  if (!v) return undefined;
  switch (v.kind) {
    case "uint8":
    case "uint16":
    case "uint32":
    case "int8":
    case "int16":
    case "int32":
      return BigInt(v.value);
    case "uint64":
    case "int64":
      return v.value;
    case "string":
      return /^\d+$/.test(v.value) ? BigInt(v.value) : undefined;
    default:
      return undefined;
  }
}

/** Topic settings back from the explicit and derived option blocks (explicit wins). */
export function settingsFromOptions(blocks: UserHeaders[]): {
  messageExpiry: bigint;
  compression: number;
  maxTopicSize: bigint;
  replicationFactor: number;
} {
  const get = (k: string): HeaderValue | undefined =>
    blocks.map((b) => b.get(k)).find((v) => v !== undefined);
  const compression = get("compression_algorithm");
  return {
    messageExpiry: optionNumber(get("message_expiry")) ?? U64_MAX,
    compression: compression?.kind === "string" && compression.value === "gzip" ? 2 : 1,
    maxTopicSize: optionNumber(get("max_topic_size")) ?? U64_MAX,
    replicationFactor: Number(optionNumber(get("replication_factor")) ?? 1n),
  };
}

export function decodeTopicOptions(block: Buffer): TopicSettings {
  const o = decodeHeaders(block);
  const keys = [
    "compression_algorithm",
    "message_expiry",
    "max_topic_size",
    "replication_factor",
    "segment_size",
    "durability",
    "consumer_offset_durability",
    "partition_resize_policy",
    "messages_required_to_save",
    "size_of_messages_required_to_save",
    "preallocate_segments",
  ];
  for (const k of o.keys())
    if (!keys.includes(k)) throw new LayoutError(`unsupported option key "${k}"`, 4041);
  const s = settingsFromOptions([o]);
  return {
    partitions: 0,
    compression: s.compression,
    messageExpiry: o.has("message_expiry") ? s.messageExpiry : 0n,
    maxTopicSize: o.has("max_topic_size") ? s.maxTopicSize : 0n,
    replicationFactor: s.replicationFactor,
  };
}

function writeBlock(w: Writer, block: Buffer): void {
  w.u32(block.length).bytes(block);
}

function readBlock(r: Reader, what: string): UserHeaders {
  return decodeHeaders(r.bytes(r.u32(`${what} length`), what));
}

// ---- streams and topics ----

export function encodeCreateStream(name: string): Buffer {
  const n = nameBytes(name, "stream name");
  return new Writer(64).u8(n.length).bytes(n).finish();
}

export function decodeCreateStream(body: Buffer): string {
  const r = new Reader(body, "create stream");
  const name = r.name("stream name");
  if (name.length === 0) throw new LayoutError("stream name is empty", 1013);
  if (r.remaining > 0) decodeHeaders(r.bytes(r.remaining, "options"));
  return name;
}

export function encodeCreateTopic(stream: Identifier, name: string, s: TopicSettings): Buffer {
  const w = new Writer(96);
  writeIdentifier(w, stream, "stream");
  if (!Number.isInteger(s.partitions) || s.partitions < 0 || s.partitions > U32_MAX)
    throw new RangeError(`partitions count ${s.partitions} is not a u32`);
  const n = nameBytes(name, "topic name");
  return w.u32(s.partitions).u8(n.length).bytes(n).bytes(topicOptions(s)).finish();
}

export function decodeCreateTopic(body: Buffer): {
  stream: Identifier;
  name: string;
  settings: TopicSettings;
} {
  const r = new Reader(body, "create topic");
  const stream = readIdentifier(r, "stream");
  const partitions = r.u32("partitions count");
  const name = r.name("topic name");
  if (name.length === 0) throw new LayoutError("topic name is empty", 2014);
  const settings = decodeTopicOptions(r.bytes(r.remaining, "options"));
  return { stream, name, settings: { ...settings, partitions } };
}

export function decodeIdentifiers(body: Buffer, fields: string[]): Identifier[] {
  const r = new Reader(body, fields.join("/"));
  const out = fields.map((f) => readIdentifier(r, f));
  r.end();
  return out;
}

/** A topic as the server states it: the TopicInfo plus what it keeps in option blocks. */
function writeTopicHeader(w: Writer, t: TopicInfo, d: VsrDialect): void {
  const n = nameBytes(t.name, "topic name");
  w.u32(t.id).u64(t.createdAt).u32(t.partitionsCount);
  if (d.topicFixedSettings) w.u64(t.messageExpiry).u8(t.compression).u64(t.maxTopicSize);
  w.u64(t.sizeBytes).u64(t.messagesCount).u8(n.length).bytes(n);
  const explicit: UserHeaders = new Map();
  const derived: UserHeaders = new Map([
    ["message_expiry", { kind: "uint64", value: t.messageExpiry }],
    ["max_topic_size", { kind: "uint64", value: t.maxTopicSize }],
    ["compression_algorithm", { kind: "string", value: t.compression === 2 ? "gzip" : "none" }],
    ["replication_factor", { kind: "uint32", value: t.replicationFactor }],
  ]);
  writeBlock(w, encodeHeaders(explicit));
  writeBlock(w, encodeHeaders(derived));
}

function readTopicHeader(r: Reader, d: VsrDialect): TopicInfo {
  const id = r.u32("topic id");
  const createdAt = r.u64("created at");
  const partitionsCount = r.u32("partitions count");
  const fixed = d.topicFixedSettings
    ? {
        messageExpiry: r.u64("message expiry"),
        compression: r.u8("compression"),
        maxTopicSize: r.u64("max size"),
      }
    : null;
  const sizeBytes = r.u64("size");
  const messagesCount = r.u64("messages count");
  const name = r.name("topic name");
  const explicit = readBlock(r, "explicit options");
  const derived = readBlock(r, "derived options");
  return {
    id,
    name,
    createdAt,
    partitionsCount,
    sizeBytes,
    messagesCount,
    ...settingsFromOptions([explicit, derived]),
    ...fixed,
    partitions: [],
  };
}

/**
 * Partition record: 40 bytes in protocol 0.11, 64 (with the context) in 0.12.0/0.12.1; 0.12.2 adds
 * the member and in-sync node lists (`u8` count then ids each). `withNodes` picks the 0.12 shape.
 */
function writePartition(w: Writer, p: PartitionInfo, withNodes: boolean, d: VsrDialect): void {
  w.u32(p.id)
    .u64(p.createdAt)
    .u32(p.segmentsCount)
    .u64(p.currentOffset)
    .u64(p.sizeBytes)
    .u64(p.messagesCount);
  if (!d.partitionContext) return;
  writeContext(w, p.context ?? { incarnation: 0n, ownerGeneration: 0n, metadataOp: 0n });
  if (withNodes) w.u8(1).u8(0).u8(1).u8(0);
}

function readPartition(r: Reader, withNodes: boolean, d: VsrDialect): PartitionInfo {
  const p: PartitionInfo = {
    id: r.u32("partition id"),
    createdAt: r.u64("created at"),
    segmentsCount: r.u32("segments count"),
    currentOffset: r.u64("current offset"),
    sizeBytes: r.u64("size"),
    messagesCount: r.u64("messages count"),
  };
  if (!d.partitionContext) return p;
  p.context = readContext(r);
  if (withNodes) {
    r.bytes(r.u8("members count"), "members");
    r.bytes(r.u8("in-sync count"), "in-sync members");
  }
  return p;
}

export function encodeTopicDetails(t: TopicInfo, withNodes: boolean, d: VsrDialect): Buffer {
  const w = new Writer(128 + 72 * t.partitions.length);
  writeTopicHeader(w, t, d);
  for (const p of t.partitions) writePartition(w, p, withNodes, d);
  return w.finish();
}

export function decodeTopicDetails(body: Buffer, d: VsrDialect): TopicInfo | null {
  if (body.length === 0) return null;
  const r = new Reader(body, "topic details");
  const t = readTopicHeader(r, d);
  const withNodes = r.remaining !== 64 * t.partitionsCount;
  for (let i = 0; i < t.partitionsCount; i++) t.partitions.push(readPartition(r, withNodes, d));
  r.end();
  return t;
}

export function encodeStream(s: StreamInfo, withTopics: boolean, d: VsrDialect): Buffer {
  const w = new Writer(128);
  const n = nameBytes(s.name, "stream name");
  w.u32(s.id).u64(s.createdAt).u32(s.topicsCount).u64(s.sizeBytes).u64(s.messagesCount).u8(n.length).bytes(n);
  writeBlock(w, Buffer.alloc(0));
  if (d.streamDerivedOptions) writeBlock(w, Buffer.alloc(0));
  if (withTopics) for (const t of s.topics) writeTopicHeader(w, t, d);
  return w.finish();
}

export function decodeStream(body: Buffer, d: VsrDialect): StreamInfo | null {
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
  readBlock(r, "explicit options");
  if (d.streamDerivedOptions) readBlock(r, "derived options");
  while (r.remaining > 0) s.topics.push(readTopicHeader(r, d));
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
  if (offset !== undefined) w.u64(offset).u8(0); // ack: NoAck
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
  let offset = 0n;
  if (withOffset) {
    offset = r.u64("offset");
    const ack = r.u8("ack");
    if (ack > 1) throw new LayoutError(`ack level ${ack} is invalid`, 4);
  }
  r.end();
  return { consumer, stream, topic, offset, ...(partition === undefined ? {} : { partition }) };
}

// ---- poll ----

/**
 * POLL_MESSAGES_DEFERRED (106): the poll body, then `[wait_us:u64][min_count:u32][max_bytes:u32]
 * [request_timeout_us:u64]`. The dev server answers it at once, as a poll.
 */
export function decodeDeferredPoll(body: Buffer): PollRequest {
  if (body.length < 24) throw new LayoutError("deferred poll is truncated", 3);
  const tail = body.subarray(body.length - 24);
  const minCount = tail.readUInt32LE(8);
  const p = decodePoll(body.subarray(0, body.length - 24));
  if (minCount === 0 || minCount > p.count) throw new LayoutError("invalid deferred poll minimum count", 3);
  return p;
}

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

// ---- the message batch (send body, poll reply) ----

export const BATCH_HEADER_SIZE = 256;
export const FRAME_HEADER_SIZE = 48;
export const MAX_PAYLOAD_BYTES = 64_000_000;
const MAX_TIMESTAMP_DELTA = 0xffffffffn;

interface BatchMeta {
  partitionId: bigint;
  baseOffset: bigint;
  baseTimestamp: bigint;
  originTimestamp: bigint;
  batchLength: bigint;
  messageCount: number;
  producer?: ProducerSection | undefined;
}

/** XXH3-64 of the six header fields, the producer section when present, and each frame's checksum. */
export function batchChecksum(m: BatchMeta, frameChecksums: Buffer): bigint {
  const fields = Buffer.alloc(44 + (m.producer ? 15 : 0));
  fields.writeBigUInt64LE(m.partitionId, 0);
  fields.writeBigUInt64LE(m.baseOffset, 8);
  fields.writeBigUInt64LE(m.baseTimestamp, 16);
  fields.writeBigUInt64LE(m.originTimestamp, 24);
  fields.writeBigUInt64LE(m.batchLength, 32);
  fields.writeUInt32LE(m.messageCount, 40);
  if (m.producer) {
    fields[44] = 1;
    fields.writeBigUInt64LE(m.producer.producerId, 45);
    fields.writeUInt16LE(m.producer.epoch, 53);
    fields.writeUInt32LE(m.producer.baseSequence, 55);
  }
  return xxh3_64(Buffer.concat([fields, frameChecksums]));
}

function writeBatchHeader(b: Buffer, at: number, m: BatchMeta, checksum: bigint): void {
  b.fill(0, at, at + BATCH_HEADER_SIZE);
  b.writeBigUInt64LE(m.partitionId, at);
  b.writeBigUInt64LE(m.baseOffset, at + 8);
  b.writeBigUInt64LE(m.baseTimestamp, at + 16);
  b.writeBigUInt64LE(m.originTimestamp, at + 24);
  b.writeBigUInt64LE(m.batchLength, at + 32);
  b.writeBigUInt64LE(checksum, at + 40);
  b.writeUInt32LE(m.messageCount, at + 48);
  if (m.producer) {
    b[at + 52] = 1;
    b.writeBigUInt64LE(m.producer.producerId, at + 56);
    b.writeUInt16LE(m.producer.epoch, at + 64);
    b.writeUInt32LE(m.producer.baseSequence, at + 68);
  }
}

function readBatchHeader(b: Buffer, at: number, d: VsrDialect): BatchMeta & { checksum: bigint } {
  if (b.length - at < BATCH_HEADER_SIZE) throw new LayoutError("batch header is truncated");
  for (let i = at + (d.producerSection ? 72 : 52); i < at + BATCH_HEADER_SIZE; i++) {
    if (b[i] !== 0) throw new LayoutError("batch header reserved bytes must be zero", 4039);
  }
  const flags = b[at + 52]!;
  let producer: ProducerSection | undefined;
  if (flags === 1) {
    producer = {
      producerId: b.readBigUInt64LE(at + 56),
      epoch: b.readUInt16LE(at + 64),
      baseSequence: b.readUInt32LE(at + 68),
    };
  } else if (flags !== 0 || b.subarray(at + 52, at + 72).some((x) => x !== 0)) {
    throw new LayoutError("batch header producer section is malformed", 4039);
  }
  return {
    partitionId: b.readBigUInt64LE(at),
    baseOffset: b.readBigUInt64LE(at + 8),
    baseTimestamp: b.readBigUInt64LE(at + 16),
    originTimestamp: b.readBigUInt64LE(at + 24),
    batchLength: b.readBigUInt64LE(at + 32),
    checksum: b.readBigUInt64LE(at + 40),
    messageCount: b.readUInt32LE(at + 48),
    producer,
  };
}

const nowMicros = (): bigint => BigInt(Date.now()) * 1000n;

/** The SEND_MESSAGES body: metadata section, then the batch (256-byte header + 48-byte frames). */
export function encodeSendBody(s: SendRequest, producer?: ProducerSection): Buffer {
  const count = s.messages.length;
  if (count === 0) throw new RangeError("a batch must hold at least one message");
  const meta = new Writer(64);
  writeIdentifier(meta, s.stream, "stream");
  writeIdentifier(meta, s.topic, "topic");
  writePartitioning(meta, s.partitioning);
  meta.u32(count);
  const metadata = meta.finish();
  const headers = s.messages.map((m) => encodeHeaders(m.headers));
  const now = nowMicros();
  let origin: bigint | null = null;
  let frames = 0;
  for (let i = 0; i < count; i++) {
    const m = s.messages[i]!;
    if (m.payload.length === 0) throw new RangeError(`message ${i}: payload is empty`);
    if (m.payload.length > MAX_PAYLOAD_BYTES)
      throw new RangeError(`message ${i}: payload of ${m.payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
    if (m.id !== undefined && (m.id < 0n || m.id >> 128n !== 0n))
      throw new RangeError(`message ${i}: id is not a u128`);
    const ts = m.originTimestamp ?? now;
    if (origin === null || ts < origin) origin = ts;
    frames += FRAME_HEADER_SIZE + m.payload.length + headers[i]!.length;
  }
  const batchLength = BATCH_HEADER_SIZE + frames;
  const total = 4 + metadata.length + batchLength;
  if (total + HEADER_SIZE > U32_MAX)
    throw new RangeError(`batch of ${total} bytes is too large for one frame`);
  const b = Buffer.allocUnsafe(total);
  b.writeUInt32LE(metadata.length, 0);
  metadata.copy(b, 4);
  const batchAt = 4 + metadata.length;
  const checksums = Buffer.allocUnsafe(8 * count);
  let at = batchAt + BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const m = s.messages[i]!;
    const h = headers[i]!;
    const delta = (m.originTimestamp ?? now) - origin!;
    if (delta > MAX_TIMESTAMP_DELTA)
      throw new RangeError(`message ${i}: origin timestamp is more than ~71 minutes after the batch's first`);
    const id = m.id ?? 0n;
    b.writeBigUInt64LE(BigInt.asUintN(64, id), at + 8);
    b.writeBigUInt64LE(id >> 64n, at + 16);
    b.writeUInt32LE(i, at + 24);
    b.writeUInt32LE(Number(delta), at + 28);
    b.writeUInt32LE(h.length, at + 32);
    b.writeUInt32LE(m.payload.length, at + 36);
    b.writeBigUInt64LE(0n, at + 40);
    b.set(m.payload, at + FRAME_HEADER_SIZE);
    h.copy(b, at + FRAME_HEADER_SIZE + m.payload.length);
    const end = at + FRAME_HEADER_SIZE + m.payload.length + h.length;
    const sum = xxh3_64(b.subarray(at + 8, end));
    b.writeBigUInt64LE(sum, at);
    checksums.writeBigUInt64LE(sum, 8 * i);
    at = end;
  }
  const meta2: BatchMeta = {
    partitionId: 0n,
    baseOffset: 0n,
    baseTimestamp: 0n,
    originTimestamp: origin!,
    batchLength: BigInt(batchLength),
    messageCount: count,
    producer,
  };
  writeBatchHeader(b, batchAt, meta2, batchChecksum(meta2, checksums));
  return b;
}

/** Server side: validates the batch (layout and both checksums) and returns views into `body`. */
export function decodeSendBody(
  body: Buffer,
  d: VsrDialect,
): Omit<SendRequest, "messages"> & {
  messages: IncomingMessage[];
  producer?: ProducerSection;
} {
  const r = new Reader(body, "send messages");
  const metaLen = r.u32("metadata length");
  const meta = new Reader(r.bytes(metaLen, "metadata"), "send metadata");
  const stream = readIdentifier(meta, "stream");
  const topic = readIdentifier(meta, "topic");
  const partitioning = readPartitioning(meta);
  const count = meta.u32("messages count");
  meta.end();
  const batch = r.bytes(r.remaining, "batch");
  const h = readBatchHeader(batch, 0, d);
  if (h.batchLength !== BigInt(batch.length))
    throw new LayoutError(
      `batch length ${h.batchLength} does not match the ${batch.length} bytes sent`,
      4036,
    );
  if (h.messageCount === 0 || h.messageCount !== count)
    throw new LayoutError(`message count ${h.messageCount} does not match ${count}`, 4009);
  const messages: IncomingMessage[] = [];
  const checksums = Buffer.allocUnsafe(8 * count);
  let at = BATCH_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (batch.length - at < FRAME_HEADER_SIZE)
      throw new LayoutError(`message ${i} is shorter than its header`, 4037);
    const sum = batch.readBigUInt64LE(at);
    const delta = batch.readUInt32LE(at + 28);
    const headersLen = batch.readUInt32LE(at + 32);
    const payloadLen = batch.readUInt32LE(at + 36);
    if (batch.readUInt32LE(at + 24) !== i)
      throw new LayoutError(`message ${i}: offset delta must be ${i}`, 4031);
    if (batch.readBigUInt64LE(at + 40) !== 0n)
      throw new LayoutError(`message ${i}: reserved bytes must be zero`, 4037);
    if (payloadLen === 0) throw new LayoutError(`message ${i}: empty payload`, 4024);
    if (payloadLen > MAX_PAYLOAD_BYTES) throw new LayoutError(`message ${i}: payload too big`, 4022);
    if (headersLen > MAX_USER_HEADERS_BYTES) throw new LayoutError(`message ${i}: headers too big`, 4017);
    const end = at + FRAME_HEADER_SIZE + payloadLen + headersLen;
    if (end > batch.length) throw new LayoutError(`message ${i} runs past the batch`, 4036);
    if (xxh3_64(batch.subarray(at + 8, end)) !== sum)
      throw new LayoutError(`message ${i}: checksum mismatch`, 4027);
    checksums.writeBigUInt64LE(sum, 8 * i);
    const p = at + FRAME_HEADER_SIZE;
    const headers = batch.subarray(p + payloadLen, end);
    if (headersLen > 0) decodeHeaders(headers);
    messages.push({
      id: batch.readBigUInt64LE(at + 8) | (batch.readBigUInt64LE(at + 16) << 64n),
      originTimestamp: h.originTimestamp + BigInt(delta),
      payload: batch.subarray(p, p + payloadLen),
      headers,
    });
    at = end;
  }
  if (at !== batch.length)
    throw new LayoutError(`messages take ${at} bytes, the batch has ${batch.length}`, 4036);
  if (batchChecksum(h, checksums) !== h.checksum) throw new LayoutError("batch checksum mismatch", 4039);
  return { stream, topic, partitioning, messages, ...(h.producer ? { producer: h.producer } : {}) };
}

/** The per-message checksum of a stored message: XXH3-64 of its frame from byte 8. */
export function frameChecksum(m: StoredMessage, offsetDelta: number, tsDelta: number): bigint {
  return xxh3_64(storedFrame(m, offsetDelta, tsDelta).subarray(8));
}

function storedFrame(m: StoredMessage, offsetDelta: number, tsDelta: number): Buffer {
  const b = Buffer.alloc(FRAME_HEADER_SIZE + m.payload.length + m.headers.length);
  b.writeBigUInt64LE(BigInt.asUintN(64, m.id), 8);
  b.writeBigUInt64LE(m.id >> 64n, 16);
  b.writeUInt32LE(offsetDelta, 24);
  b.writeUInt32LE(tsDelta, 28);
  b.writeUInt32LE(m.headers.length, 32);
  b.writeUInt32LE(m.payload.length, 36);
  m.payload.copy(b, FRAME_HEADER_SIZE);
  m.headers.copy(b, FRAME_HEADER_SIZE + m.payload.length);
  return b;
}

/**
 * Poll reply: `[partition_id][current_offset][count]` (0.12: then `[context:24]`), then one batch per run of
 * messages stored with one server timestamp (base_timestamp holds it; deltas give the rest).
 */
export function encodePollReply(
  partitionId: number,
  currentOffset: bigint,
  context: PartitionContext,
  messages: StoredMessage[],
  d: VsrDialect,
): Buffer[] {
  const w = new Writer(40).u32(partitionId).u64(currentOffset).u32(messages.length);
  if (d.partitionContext) writeContext(w, context);
  const out = [w.finish()];
  let i = 0;
  while (i < messages.length) {
    let j = i + 1;
    let origin = messages[i]!.originTimestamp;
    while (j < messages.length && messages[j]!.timestamp === messages[i]!.timestamp) j++;
    for (let k = i; k < j; k++)
      if (messages[k]!.originTimestamp < origin) origin = messages[k]!.originTimestamp;
    // A delta must fit a u32: split the run where it would not.
    let end = i;
    while (end < j && messages[end]!.originTimestamp - origin <= MAX_TIMESTAMP_DELTA) end++;
    if (end === i) end = i + 1;
    const run = messages.slice(i, end);
    const frames = run.map((m, k) => {
      const tsDelta = m.originTimestamp >= origin ? Number(m.originTimestamp - origin) : 0;
      const f = storedFrame(m, k, tsDelta);
      f.writeBigUInt64LE(xxh3_64(f.subarray(8)), 0);
      return f;
    });
    const checksums = Buffer.concat(frames.map((f) => f.subarray(0, 8)));
    const meta: BatchMeta = {
      partitionId: BigInt(partitionId),
      baseOffset: run[0]!.offset,
      baseTimestamp: run[0]!.timestamp,
      originTimestamp: origin,
      batchLength: BigInt(BATCH_HEADER_SIZE + frames.reduce((n, f) => n + f.length, 0)),
      messageCount: run.length,
    };
    const head = Buffer.alloc(BATCH_HEADER_SIZE);
    writeBatchHeader(head, 0, meta, batchChecksum(meta, checksums));
    out.push(head, ...frames);
    i = end;
  }
  return out;
}

export function decodePollReply(
  body: Buffer,
  d: VsrDialect,
): PolledBatch & { context: PartitionContext | undefined } {
  const r = new Reader(body, "poll reply");
  const partitionId = r.u32("partition id");
  const currentOffset = r.u64("current offset");
  const count = r.u32("messages count");
  const context = d.partitionContext ? readContext(r) : undefined;
  const messages = readPolledMessages(r, body, d, count);
  return { partitionId, currentOffset, messages, context };
}

/** A poll reply as the client needs it: the partition's context is passed over, not read. */
export function decodePolledBatch(body: Buffer, d: VsrDialect): PolledBatch {
  const r = new Reader(body, "poll reply");
  const partitionId = r.u32("partition id");
  const currentOffset = r.u64("current offset");
  const count = r.u32("messages count");
  if (d.partitionContext) r.skip(24, "partition context");
  const messages = readPolledMessages(r, body, d, count);
  return { partitionId, currentOffset, messages };
}

function readPolledMessages(r: Reader, body: Buffer, d: VsrDialect, count: number): PolledMessage[] {
  const messages: PolledMessage[] = [];
  while (r.remaining > 0) {
    const at = r.pos;
    const h = readBatchHeader(body, at, d);
    if (h.batchLength < BigInt(BATCH_HEADER_SIZE) || h.batchLength > BigInt(r.remaining))
      throw new LayoutError(`batch length ${h.batchLength} does not fit the ${r.remaining} bytes left`);
    const batch = new Reader(
      body.subarray(at + BATCH_HEADER_SIZE, at + Number(h.batchLength)),
      "polled batch",
    );
    for (let i = 0; i < h.messageCount; i++) {
      const checksum = batch.u64("checksum");
      const id = batch.u128("id");
      const offsetDelta = batch.u32("offset delta");
      const tsDelta = batch.u32("timestamp delta");
      const headersLen = batch.u32("headers length");
      const payloadLen = batch.u32("payload length");
      batch.u64("reserved");
      const payload = Buffer.from(batch.bytes(payloadLen, "payload"));
      const headers = decodeHeaders(batch.bytes(headersLen, "user headers"));
      messages.push({
        offset: h.baseOffset + BigInt(offsetDelta),
        id,
        timestamp: h.baseTimestamp,
        originTimestamp: h.originTimestamp + BigInt(tsDelta),
        checksum,
        payload,
        headers,
      });
    }
    batch.end();
    r.pos = at + Number(h.batchLength);
  }
  if (messages.length !== count)
    throw new LayoutError(`reply says ${count} messages, its batches hold ${messages.length}`);
  return messages;
}

// ---- send confirmation ----

export interface Confirmation {
  streamId: number;
  topicId: number;
  partitionId: number;
  baseOffset: bigint;
}

export function encodeSendReply(c: Confirmation[]): Buffer {
  const w = new Writer(4 + 20 * c.length).u32(c.length);
  for (const x of c) w.u32(x.streamId).u32(x.topicId).u32(x.partitionId).u64(x.baseOffset);
  return w.finish();
}

export function decodeSendReply(body: Buffer): { partitionId: number; baseOffset: bigint }[] {
  const r = new Reader(body, "send reply");
  const n = r.u32("confirmations count");
  const out: { partitionId: number; baseOffset: bigint }[] = [];
  for (let i = 0; i < n; i++) {
    r.u32("stream id");
    r.u32("topic id");
    out.push({ partitionId: r.u32("partition id"), baseOffset: r.u64("base offset") });
  }
  r.end();
  return out;
}

// ---- cluster metadata and partition routes (asked by the official 0.10 SDKs) ----

/** `[name_len:u32][name][nodes:u32]` then per node `[replica:u8][name_len:u32][name][ip_len:u32][ip][tcp:u16][quic:u16][http:u16][ws:u16][role:u8][status:u8]`. */
export function encodeClusterMetadata(name: string, host: string, port: number): Buffer {
  const n = Buffer.from(name, "utf8");
  const ip = Buffer.from(host, "utf8");
  const w = new Writer(64).u32(n.length).bytes(n).u32(1);
  w.u8(0).u32(n.length).bytes(n).u32(ip.length).bytes(ip);
  const ports = Buffer.alloc(8);
  ports.writeUInt16LE(port, 0);
  return w.bytes(ports).u8(0).u8(0).finish(); // role Leader, status Healthy
}

export function decodePartitionRouteRequest(body: Buffer): {
  stream: Identifier;
  topic: Identifier;
  partition: number;
} {
  const r = new Reader(body, "partition route");
  const stream = readIdentifier(r, "stream");
  const topic = readIdentifier(r, "topic");
  const partition = r.u32("partition id");
  r.end();
  return { stream, topic, partition };
}

/** 25 bytes: `[incarnation:u64][metadata_op:u64][view:u32][partitions_count:u32][primary_replica:u8]`. */
export function encodePartitionRoute(context: PartitionContext, partitionsCount: number): Buffer {
  return new Writer(25)
    .u64(context.incarnation)
    .u64(context.metadataOp)
    .u32(0)
    .u32(partitionsCount)
    .u8(0)
    .finish();
}
