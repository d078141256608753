// Layouts that are byte for byte the same in Iggy's 0.8 and 0.10 wire generations: identifiers,
// consumers, optional partitions, polling strategies, partitioning, consumer offsets and the poll
// request. Each generation's layouts.ts re-exports what it uses from here.
import { LayoutError, nameBytes, Reader, Writer } from "./bytes.js";
import type {
  Consumer,
  ConsumerOffsetInfo,
  Identifier,
  OutgoingMessage,
  Partitioning,
  PollingStrategy,
} from "../types.js";

export const U32_MAX = 0xffffffff;

export function writeIdentifier(w: Writer, id: Identifier, field: string): void {
  if (typeof id === "number") {
    if (!Number.isInteger(id) || id < 0 || id > U32_MAX)
      throw new RangeError(`${field} id ${id} is not a u32`);
    w.u8(1).u8(4).u32(id);
  } else {
    const b = nameBytes(id, `${field} name`);
    w.u8(2).u8(b.length).bytes(b);
  }
}

export function writeConsumer(w: Writer, c: Consumer): void {
  w.u8(c.kind === "consumer" ? 1 : 2);
  writeIdentifier(w, c.id, "consumer");
}

export function writeOptPartition(w: Writer, p: number | undefined): void {
  if (p === undefined) w.u8(0).u32(0);
  else {
    if (!Number.isInteger(p) || p < 0 || p > U32_MAX) throw new RangeError(`partition ${p} is not a u32`);
    w.u8(1).u32(p);
  }
}

export function readOptPartition(r: Reader): number | undefined {
  const flag = r.u8("partition flag");
  const value = r.u32("partition id");
  return flag === 1 ? value : undefined;
}

export const STRATEGY_KIND = { offset: 1, timestamp: 2, first: 3, last: 4, next: 5 } as const;

export function writeStrategy(w: Writer, s: PollingStrategy): void {
  w.u8(STRATEGY_KIND[s.kind]).u64(s.kind === "offset" || s.kind === "timestamp" ? s.value : 0n);
}

export function readStrategy(r: Reader): PollingStrategy {
  const kind = r.u8("strategy kind");
  const value = r.u64("strategy value");
  switch (kind) {
    case 1:
      return { kind: "offset", value };
    case 2:
      return { kind: "timestamp", value };
    case 3:
      return { kind: "first" };
    case 4:
      return { kind: "last" };
    case 5:
      return { kind: "next" };
    default:
      throw new LayoutError(`polling strategy kind ${kind} is invalid`, 4);
  }
}

export function readPartitioning(r: Reader): Partitioning {
  const kind = r.u8("partitioning kind");
  const len = r.u8("partitioning length");
  const value = r.bytes(len, "partitioning value");
  if (kind === 1 && len === 0) return { kind: "balanced" };
  if (kind === 2 && len === 4) return { kind: "partition", id: value.readUInt32LE(0) };
  if (kind === 3 && len >= 1) return { kind: "key", key: Buffer.from(value) };
  throw new LayoutError(`partitioning kind ${kind} with length ${len} is invalid`, 3);
}

export function encodeIdentifiers(...ids: [Identifier, string][]): Buffer {
  const w = new Writer(64);
  for (const [id, field] of ids) writeIdentifier(w, id, field);
  return w.finish();
}

export function encodeOffsetInfo(o: ConsumerOffsetInfo | null): Buffer {
  if (!o) return Buffer.alloc(0);
  return new Writer(20).u32(o.partitionId).u64(o.currentOffset).u64(o.storedOffset).finish();
}

export function decodeOffsetInfo(body: Buffer): ConsumerOffsetInfo | null {
  if (body.length === 0) return null;
  const r = new Reader(body, "consumer offset reply");
  const out = {
    partitionId: r.u32("partition id"),
    currentOffset: r.u64("current"),
    storedOffset: r.u64("stored"),
  };
  r.end();
  return out;
}

export interface PollRequest {
  consumer: Consumer;
  stream: Identifier;
  topic: Identifier;
  partition?: number;
  strategy: PollingStrategy;
  count: number;
  autoCommit: boolean;
}

export function encodePoll(p: PollRequest): Buffer {
  const w = new Writer(64);
  writeConsumer(w, p.consumer);
  writeIdentifier(w, p.stream, "stream");
  writeIdentifier(w, p.topic, "topic");
  writeOptPartition(w, p.partition);
  writeStrategy(w, p.strategy);
  if (!Number.isInteger(p.count) || p.count < 0 || p.count > U32_MAX)
    throw new RangeError(`count ${p.count} is not a u32`);
  return w
    .u32(p.count)
    .u8(p.autoCommit ? 1 : 0)
    .finish();
}

export interface SendRequest {
  stream: Identifier;
  topic: Identifier;
  partitioning: Partitioning;
  messages: OutgoingMessage[];
}
