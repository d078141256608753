// The dev server's data directory: `meta.json` (streams, topics, consumer offsets; replaced
// atomically) and one append-only log per partition. A torn last record (a crash mid-write) is
// cut off at load; anything else that does not parse stops the load with the file and offset.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import type { StoredMessage } from "../wire/generation.js";

export interface PartitionMeta {
  id: number;
  createdAt: string;
  /** consumer key → stored offset */
  offsets: Record<string, string>;
}

export interface TopicMeta {
  id: number;
  name: string;
  createdAt: string;
  messageExpiry: string;
  compression: number;
  maxTopicSize: string;
  replicationFactor: number;
  partitions: PartitionMeta[];
}

export interface StreamMeta {
  id: number;
  name: string;
  createdAt: string;
  topics: TopicMeta[];
}

export interface Meta {
  version: 1;
  streams: StreamMeta[];
}

// Record: len u32 (of what follows) · offset u64 · id u128 · timestamp u64 · origin u64 ·
// payload_len u32 · headers_len u32 · payload · headers
const RECORD_FIXED = 8 + 16 + 8 + 8 + 4 + 4;

export class DataDir {
  private readonly fds = new Map<string, number>();

  constructor(readonly path: string) {
    mkdirSync(join(path, "partitions"), { recursive: true });
  }

  loadMeta(): Meta | null {
    const file = join(this.path, "meta.json");
    if (!existsSync(file)) return null;
    const meta = JSON.parse(readFileSync(file, "utf8")) as Meta;
    if (meta.version !== 1 || !Array.isArray(meta.streams))
      throw new Error(`${file}: not a dev-iggy meta file`);
    return meta;
  }

  saveMeta(meta: Meta): void {
    const file = join(this.path, "meta.json");
    writeFileSync(`${file}.tmp`, JSON.stringify(meta));
    renameSync(`${file}.tmp`, file);
  }

  private logFile(key: string): string {
    return join(this.path, "partitions", `${key}.log`);
  }

  loadPartition(key: string): StoredMessage[] {
    const file = this.logFile(key);
    if (!existsSync(file)) return [];
    const data = readFileSync(file);
    const out: StoredMessage[] = [];
    let at = 0;
    while (at + 4 <= data.length) {
      const len = data.readUInt32LE(at);
      if (len < RECORD_FIXED || at + 4 + len > data.length) break;
      const r = at + 4;
      const payloadLen = data.readUInt32LE(r + 40);
      const headersLen = data.readUInt32LE(r + 44);
      if (RECORD_FIXED + payloadLen + headersLen !== len) {
        throw new Error(`${file}: record at byte ${at} has inconsistent lengths`);
      }
      const offset = data.readBigUInt64LE(r);
      if (offset !== BigInt(out.length))
        throw new Error(`${file}: record at byte ${at} has offset ${offset}, expected ${out.length}`);
      const p = r + RECORD_FIXED;
      out.push({
        offset,
        id: data.readBigUInt64LE(r + 8) | (data.readBigUInt64LE(r + 16) << 64n),
        timestamp: data.readBigUInt64LE(r + 24),
        originTimestamp: data.readBigUInt64LE(r + 32),
        payload: data.subarray(p, p + payloadLen),
        headers: data.subarray(p + payloadLen, p + payloadLen + headersLen),
      });
      at += 4 + len;
    }
    if (at !== data.length) truncateSync(file, at);
    return out;
  }

  /** Appends a batch in one write. */
  append(key: string, messages: StoredMessage[], fsync: boolean): void {
    let size = 0;
    for (const m of messages) size += 4 + RECORD_FIXED + m.payload.length + m.headers.length;
    const b = Buffer.allocUnsafe(size);
    let at = 0;
    for (const m of messages) {
      b.writeUInt32LE(RECORD_FIXED + m.payload.length + m.headers.length, at);
      b.writeBigUInt64LE(m.offset, at + 4);
      b.writeBigUInt64LE(BigInt.asUintN(64, m.id), at + 12);
      b.writeBigUInt64LE(m.id >> 64n, at + 20);
      b.writeBigUInt64LE(m.timestamp, at + 28);
      b.writeBigUInt64LE(m.originTimestamp, at + 36);
      b.writeUInt32LE(m.payload.length, at + 44);
      b.writeUInt32LE(m.headers.length, at + 48);
      m.payload.copy(b, at + 52);
      m.headers.copy(b, at + 52 + m.payload.length);
      at += 4 + RECORD_FIXED + m.payload.length + m.headers.length;
    }
    let fd = this.fds.get(key);
    if (fd === undefined) {
      fd = openSync(this.logFile(key), "a");
      this.fds.set(key, fd);
    }
    let written = 0;
    while (written < b.length) written += writeSync(fd, b, written);
    if (fsync) fsyncSync(fd);
  }

  removePartition(key: string): void {
    const fd = this.fds.get(key);
    if (fd !== undefined) closeSync(fd);
    this.fds.delete(key);
    rmSync(this.logFile(key), { force: true });
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
