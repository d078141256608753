// What the dev server does with a decoded request: streams, topics, partitions, offsets and
// consumer offsets, with the semantics of Iggy 0.8. Wire-agnostic; errors are Iggy status codes.
import { randomBytes } from "node:crypto";
import { partitionForKey } from "../partitioning.js";
import type { Consumer, Identifier, PartitionInfo, StreamInfo, TopicInfo } from "../types.js";
import type { PartitionContext, ProducerSection, StoredMessage } from "../wire/generation.js";
import { Deduplicator, type DedupSettings } from "./dedup.js";
import type { DataDir, Meta } from "./store.js";
import type { ServerRequest, ServerResults } from "./wire/types.js";

/** A request failed with this Iggy status code. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    detail: string,
  ) {
    super(detail);
  }
}

const U64_MAX = (1n << 64n) - 1n;
/** Iggy's default segment size: the smallest custom max_topic_size it accepts. */
const SEGMENT_SIZE = 1024n * 1024n * 1024n;
const MAX_PARTITIONS = 1000;

interface Partition {
  id: number;
  /** Name of its log in the data directory. */
  key: string;
  createdAt: bigint;
  messages: StoredMessage[];
  sizeBytes: bigint;
  offsets: Map<string, bigint>;
  dedup: Deduplicator | null;
  /** 0.10 idempotent producers: producer id → last epoch and the batches it wrote lately. */
  producers: Map<bigint, ProducerRecord>;
}

interface ProducerRecord {
  epoch: number;
  next: number;
  /** base sequence → [message count, base offset] of the last few batches (duplicates answer these). */
  recent: Map<number, [number, bigint]>;
}

/** Batches per producer whose duplicates are recognised (Kafka keeps five). */
const PRODUCER_WINDOW = 5;
const SEQUENCE_MAX = 0x7fffffff;

interface Topic {
  id: number;
  name: string;
  createdAt: bigint;
  messageExpiry: bigint;
  compression: number;
  maxTopicSize: bigint;
  replicationFactor: number;
  partitions: Partition[];
  nextBalanced: number;
}

interface Stream {
  id: number;
  name: string;
  createdAt: bigint;
  topics: Topic[];
}

export interface User {
  id: number;
  username: string;
  password: string;
}

export interface EngineOptions {
  users: User[];
  /** personal access token → user id */
  tokens: Map<string, number>;
  dedup: DedupSettings;
  dataDir?: DataDir;
  fsync?: boolean;
}

const micros = (): bigint => BigInt(Date.now()) * 1000n;

function byId<T extends { id: number; name: string }>(items: T[], id: Identifier): T | undefined {
  return typeof id === "number" ? items.find((x) => x.id === id) : items.find((x) => x.name === id);
}

/** Lowest id not in use (Iggy's slab reuses freed ids). */
function freeId(items: { id: number }[]): number {
  const used = new Set(items.map((x) => x.id));
  let id = 0;
  while (used.has(id)) id++;
  return id;
}

function consumerKey(c: Consumer): string {
  return `${c.kind === "consumer" ? "c" : "g"}:${typeof c.id === "number" ? `#${c.id}` : c.id}`;
}

function randomUuidV4(): bigint {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b.readBigUInt64LE(0) | (b.readBigUInt64LE(8) << 64n);
}

/** Per connection: who is logged in. */
export interface Session {
  userId: number | null;
}

export class Engine {
  private streams: Stream[] = [];
  /** Where clients reach this server (GET_CLUSTER_METADATA names it). */
  endpoint = { host: "127.0.0.1", port: 8090 };
  /** 0.10 session epochs: unique per server (producer ids derive from them), increasing across restarts. */
  private lastSession = 0n;

  constructor(private readonly options: EngineOptions) {
    const dir = options.dataDir;
    if (dir) this.load(dir);
  }

  handle<K extends ServerRequest["op"]>(
    session: Session,
    request: ServerRequest & { op: K },
  ): ServerResults[K] {
    return this.dispatch(session, request) as ServerResults[K];
  }

  private dispatch(session: Session, r: ServerRequest): ServerResults[ServerRequest["op"]] {
    if (r.op === "ping") return undefined;
    if (r.op === "login") {
      const userId = this.login(session, r.credentials);
      const now = BigInt(Date.now());
      this.lastSession = now > this.lastSession ? now : this.lastSession + 1n;
      return { userId, session: this.lastSession };
    }
    if (session.userId === null) throw new StatusError(40, "not logged in");
    switch (r.op) {
      case "clusterInfo":
        return { name: "dev-iggy", ...this.endpoint };
      case "partitionRoute": {
        const t = this.topicOf(r.stream, r.topic);
        const p = t.partitions.find((x) => x.id === r.partition);
        if (!p) throw new StatusError(3007, `partition ${r.partition} not found`);
        return { context: contextOf(p), partitionsCount: t.partitions.length };
      }
      case "logout":
        session.userId = null;
        return undefined;
      case "getStream": {
        const s = byId(this.streams, r.stream);
        return s ? this.streamInfo(s) : null;
      }
      case "createStream":
        return this.createStream(r.name);
      case "deleteStream": {
        const s = byId(this.streams, r.stream);
        if (!s) throw new StatusError(1009, "stream not found");
        this.streams = this.streams.filter((x) => x !== s);
        this.saveMeta();
        for (const t of s.topics) for (const p of t.partitions) this.options.dataDir?.removePartition(p.key);
        return undefined;
      }
      case "getTopic": {
        const s = byId(this.streams, r.stream);
        const t = s && byId(s.topics, r.topic);
        return t ? this.topicInfo(t, true) : null;
      }
      case "createTopic":
        return this.createTopic(r);
      case "send":
        return this.send(r);
      case "poll":
        return this.poll(r);
      case "storeOffset": {
        const p = this.partition(r.stream, r.topic, r.partition ?? 0, r.consumer);
        checkContext(p, r.context);
        const current = p.messages.length - 1;
        if (current < 0 || r.offset > BigInt(current)) {
          throw new StatusError(4100, `offset ${r.offset} is beyond the partition's current offset`);
        }
        p.offsets.set(consumerKey(r.consumer), r.offset);
        this.saveMeta();
        return undefined;
      }
      case "getOffset": {
        const s = byId(this.streams, r.stream);
        const t = s && byId(s.topics, r.topic);
        const p = t?.partitions.find((x) => x.id === (r.partition ?? 0));
        if (p) checkContext(p, r.context);
        const stored = p?.offsets.get(consumerKey(r.consumer));
        if (!p || stored === undefined) return null;
        return { partitionId: p.id, currentOffset: currentOffset(p), storedOffset: stored };
      }
    }
  }

  private login(session: Session, c: { username: string; password: string } | { token: string }): number {
    if ("token" in c) {
      const userId = this.options.tokens.get(c.token);
      if (userId === undefined) throw new StatusError(53, "unknown personal access token");
      session.userId = userId;
      return userId;
    }
    const ulen = Buffer.byteLength(c.username);
    const plen = Buffer.byteLength(c.password);
    if (ulen < 3 || ulen > 50) throw new StatusError(43, "username must be 3..50 bytes");
    if (plen < 3 || plen > 100) throw new StatusError(44, "password must be 3..100 bytes");
    const user = this.options.users.find((u) => u.username === c.username && u.password === c.password);
    if (!user) throw new StatusError(42, "wrong username or password");
    session.userId = user.id;
    return user.id;
  }

  private createStream(name: string): StreamInfo {
    if (this.streams.some((s) => s.name === name)) throw new StatusError(1012, `stream "${name}" exists`);
    const s: Stream = { id: freeId(this.streams), name, createdAt: micros(), topics: [] };
    this.streams.push(s);
    this.saveMeta();
    return this.streamInfo(s);
  }

  private createTopic(r: ServerRequest & { op: "createTopic" }): TopicInfo {
    const s = byId(this.streams, r.stream);
    if (!s) throw new StatusError(1009, "stream not found");
    const { settings } = r;
    if (settings.partitions > MAX_PARTITIONS) throw new StatusError(2015, "too many partitions");
    if (settings.compression !== 1 && settings.compression !== 2)
      throw new StatusError(3, "compression must be 1 or 2");
    const maxSize = settings.maxTopicSize ?? 0n;
    if (maxSize !== 0n && maxSize !== U64_MAX && maxSize < SEGMENT_SIZE) {
      throw new StatusError(1019, "max topic size is below the segment size");
    }
    if (s.topics.some((t) => t.name === r.name)) throw new StatusError(2013, `topic "${r.name}" exists`);
    const createdAt = micros();
    const t: Topic = {
      id: freeId(s.topics),
      name: r.name,
      createdAt,
      messageExpiry: !settings.messageExpiry ? U64_MAX : settings.messageExpiry,
      compression: settings.compression,
      maxTopicSize: maxSize === 0n ? U64_MAX : maxSize,
      replicationFactor: settings.replicationFactor || 1,
      partitions: [],
      nextBalanced: 0,
    };
    for (let i = 0; i < settings.partitions; i++) {
      t.partitions.push(this.newPartition(`${s.id}-${t.id}-${i}`, i, createdAt, []));
    }
    s.topics.push(t);
    this.saveMeta();
    return this.topicInfo(t, true);
  }

  private newPartition(key: string, id: number, createdAt: bigint, messages: StoredMessage[]): Partition {
    let sizeBytes = 0n;
    for (const m of messages) sizeBytes += BigInt(64 + m.payload.length + m.headers.length);
    return {
      id,
      key,
      createdAt,
      messages,
      sizeBytes,
      offsets: new Map(),
      dedup: this.options.dedup.enabled ? new Deduplicator(this.options.dedup) : null,
      producers: new Map(),
    };
  }

  private topicOf(stream: Identifier, topic: Identifier): Topic {
    const s = byId(this.streams, stream);
    if (!s) throw new StatusError(1009, "stream not found");
    const t = byId(s.topics, topic);
    if (!t) throw new StatusError(2010, "topic not found");
    return t;
  }

  private partition(stream: Identifier, topic: Identifier, id: number, consumer?: Consumer): Partition {
    const t = this.topicOf(stream, topic);
    if (consumer?.kind === "group")
      throw new StatusError(5000, "consumer groups are not implemented by dev-iggy");
    const p = t.partitions.find((x) => x.id === id);
    if (!p) throw new StatusError(3007, `partition ${id} not found`);
    return p;
  }

  private send(r: ServerRequest & { op: "send" }): ServerResults["send"] {
    const t = this.topicOf(r.stream, r.topic);
    // A real 0.8 server answers TopicIdNotFound for a topic without partitions.
    if (t.partitions.length === 0) throw new StatusError(2010, "topic has no partitions");
    let pid: number;
    switch (r.partitioning.kind) {
      case "balanced":
        pid = t.nextBalanced++ % t.partitions.length;
        break;
      case "partition":
        pid = r.partitioning.id;
        break;
      case "key":
        pid = partitionForKey(r.partitioning.key, t.partitions.length);
        break;
    }
    const p = t.partitions.find((x) => x.id === pid);
    if (!p) throw new StatusError(3007, `partition ${pid} not found`);
    checkContext(p, r.context);
    const confirm = (baseOffset: bigint): ServerResults["send"] => ({
      partitions: [{ partitionId: p.id, baseOffset, streamId: this.streamOf(t).id, topicId: t.id }],
    });
    let producer: ProducerRecord | undefined;
    if (r.producer) {
      const known = this.admitProducer(p, r.producer, r.messages.length);
      if (typeof known === "bigint") return confirm(known);
      producer = known;
    }
    const now = Date.now();
    const timestamp = BigInt(now) * 1000n;
    const appended: StoredMessage[] = [];
    for (const m of r.messages) {
      let id = m.id;
      if (id === 0n) id = randomUuidV4();
      else if (p.dedup?.isDuplicate(id, now)) continue;
      appended.push({
        id,
        originTimestamp: m.originTimestamp,
        payload: m.payload,
        headers: m.headers,
        offset: BigInt(p.messages.length + appended.length),
        timestamp,
      });
    }
    const baseOffset = BigInt(p.messages.length);
    if (appended.length > 0) {
      this.options.dataDir?.append(p.key, appended, this.options.fsync ?? false);
      for (const m of appended) {
        p.messages.push(m);
        p.sizeBytes += BigInt(64 + m.payload.length + m.headers.length);
      }
    }
    if (producer && r.producer) {
      const count = r.messages.length;
      producer.next = (r.producer.baseSequence + count) % (SEQUENCE_MAX + 1);
      producer.recent.set(r.producer.baseSequence, [count, baseOffset]);
      if (producer.recent.size > PRODUCER_WINDOW)
        producer.recent.delete(producer.recent.keys().next().value!);
    }
    return confirm(baseOffset);
  }

  /**
   * The producer rules of a 0.10 partition: a known batch is a duplicate (answer its receipt, write
   * nothing); an older epoch is fenced (93); a new producer or epoch must start at sequence 0 (94);
   * a gap or a reorder is refused (92). Returns the base offset of a duplicate, or the record to
   * advance after writing.
   */
  private admitProducer(p: Partition, s: ProducerSection, count: number): ProducerRecord | bigint {
    const known = p.producers.get(s.producerId);
    if (known && s.epoch < known.epoch) throw new StatusError(93, "a newer epoch of the producer wrote here");
    if (!known || s.epoch > known.epoch) {
      if (s.baseSequence !== 0)
        throw new StatusError(94, "unknown producer or epoch must start at sequence 0");
      const fresh: ProducerRecord = { epoch: s.epoch, next: 0, recent: new Map() };
      p.producers.set(s.producerId, fresh);
      return fresh;
    }
    const dup = known.recent.get(s.baseSequence);
    if (dup && dup[0] === count) return dup[1];
    if (s.baseSequence !== known.next)
      throw new StatusError(92, `sequence ${s.baseSequence} does not follow ${known.next}`);
    return known;
  }

  private streamOf(t: Topic): Stream {
    return this.streams.find((s) => s.topics.includes(t))!;
  }

  private poll(r: ServerRequest & { op: "poll" }): ServerResults["poll"] {
    const p = this.partition(r.stream, r.topic, r.partition ?? 0, r.consumer);
    checkContext(p, r.context);
    const current = currentOffset(p);
    const empty = {
      partitionId: p.id,
      currentOffset: current,
      messages: [] as StoredMessage[],
      context: contextOf(p),
    };
    const n = p.messages.length;
    if (r.count === 0 || n === 0) return empty;
    let start: number;
    switch (r.strategy.kind) {
      case "offset":
        if (r.strategy.value >= BigInt(n)) return empty;
        start = Number(r.strategy.value);
        break;
      case "timestamp": {
        const v = r.strategy.value;
        start = p.messages.findIndex((m) => m.timestamp >= v);
        if (start < 0) return empty;
        break;
      }
      case "first":
        start = 0;
        break;
      case "last":
        start = n - Math.min(r.count, n);
        break;
      case "next": {
        const stored = p.offsets.get(consumerKey(r.consumer));
        start = stored === undefined ? 0 : Number(stored) + 1;
        if (start >= n) return empty;
        break;
      }
    }
    const messages = p.messages.slice(start, start + r.count);
    if (r.autoCommit && messages.length > 0) {
      p.offsets.set(consumerKey(r.consumer), messages[messages.length - 1]!.offset);
      this.saveMeta();
    }
    return { ...empty, messages };
  }

  private partitionInfo(p: Partition): PartitionInfo {
    return {
      id: p.id,
      createdAt: p.createdAt,
      segmentsCount: 1,
      currentOffset: currentOffset(p),
      sizeBytes: p.sizeBytes,
      messagesCount: BigInt(p.messages.length),
      context: contextOf(p),
    };
  }

  private topicInfo(t: Topic, withPartitions: boolean): TopicInfo {
    const parts = t.partitions.map((p) => this.partitionInfo(p));
    return {
      id: t.id,
      name: t.name,
      createdAt: t.createdAt,
      partitionsCount: t.partitions.length,
      messageExpiry: t.messageExpiry,
      compression: t.compression,
      maxTopicSize: t.maxTopicSize,
      replicationFactor: t.replicationFactor,
      sizeBytes: parts.reduce((a, p) => a + p.sizeBytes, 0n),
      messagesCount: parts.reduce((a, p) => a + p.messagesCount, 0n),
      partitions: withPartitions ? parts : [],
    };
  }

  private streamInfo(s: Stream): StreamInfo {
    const topics = s.topics.map((t) => this.topicInfo(t, false));
    return {
      id: s.id,
      name: s.name,
      createdAt: s.createdAt,
      topicsCount: topics.length,
      sizeBytes: topics.reduce((a, t) => a + t.sizeBytes, 0n),
      messagesCount: topics.reduce((a, t) => a + t.messagesCount, 0n),
      topics,
    };
  }

  // ---- persistence ----

  private saveMeta(): void {
    const dir = this.options.dataDir;
    if (!dir) return;
    const meta: Meta = {
      version: 1,
      streams: this.streams.map((s) => ({
        id: s.id,
        name: s.name,
        createdAt: String(s.createdAt),
        topics: s.topics.map((t) => ({
          id: t.id,
          name: t.name,
          createdAt: String(t.createdAt),
          messageExpiry: String(t.messageExpiry),
          compression: t.compression,
          maxTopicSize: String(t.maxTopicSize),
          replicationFactor: t.replicationFactor,
          partitions: t.partitions.map((p) => ({
            id: p.id,
            createdAt: String(p.createdAt),
            offsets: Object.fromEntries([...p.offsets].map(([k, v]) => [k, String(v)])),
          })),
        })),
      })),
    };
    dir.saveMeta(meta);
  }

  private load(dir: DataDir): void {
    const meta = dir.loadMeta();
    if (!meta) return;
    this.streams = meta.streams.map((sm) => {
      const s: Stream = { id: sm.id, name: sm.name, createdAt: BigInt(sm.createdAt), topics: [] };
      s.topics = sm.topics.map((tm) => {
        const t: Topic = {
          id: tm.id,
          name: tm.name,
          createdAt: BigInt(tm.createdAt),
          messageExpiry: BigInt(tm.messageExpiry),
          compression: tm.compression,
          maxTopicSize: BigInt(tm.maxTopicSize),
          replicationFactor: tm.replicationFactor,
          partitions: [],
          nextBalanced: 0,
        };
        t.partitions = tm.partitions.map((pm) => {
          const key = `${s.id}-${t.id}-${pm.id}`;
          const p = this.newPartition(key, pm.id, BigInt(pm.createdAt), dir.loadPartition(key));
          for (const [k, v] of Object.entries(pm.offsets)) p.offsets.set(k, BigInt(v));
          return p;
        });
        return t;
      });
      return s;
    });
  }
}

/** A partition's incarnation: its creation time (µs), which a recreated partition does not share. */
function contextOf(p: Partition): PartitionContext {
  return { incarnation: p.createdAt, ownerGeneration: 0n, metadataOp: 0n };
}

/** 0.10 partition requests name the incarnation they mean; another one (zero too) is refused. */
function checkContext(p: Partition, context: PartitionContext | undefined): void {
  if (context === undefined) return;
  if (context.incarnation !== p.createdAt)
    throw new StatusError(87, `partition ${p.id}: incarnation ${context.incarnation} is not the current one`);
  if (context.ownerGeneration !== 0n)
    throw new StatusError(5009, "a plain consumer names no owner generation");
}

function currentOffset(p: Partition): bigint {
  return p.messages.length === 0 ? 0n : BigInt(p.messages.length - 1);
}
