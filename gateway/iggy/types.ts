// The Iggy data model as the gateway sees it, the same whatever wire generation carries it.

/** A stream, topic or consumer: a number is a numeric id (0-based, server-assigned), a string a name. */
export type Identifier = number | string;

export type HeaderValue =
  | { kind: "raw"; value: Uint8Array }
  | { kind: "string"; value: string }
  | { kind: "bool"; value: boolean }
  | { kind: "int8" | "int16" | "int32" | "uint8" | "uint16" | "uint32"; value: number }
  | { kind: "float32" | "float64"; value: number }
  | { kind: "int64" | "uint64" | "int128" | "uint128"; value: bigint };

/** User headers: string keys (Iggy key kind String) to typed values, in insertion order. */
export type UserHeaders = Map<string, HeaderValue>;

export const header = {
  string: (value: string): HeaderValue => ({ kind: "string", value }),
  raw: (value: Uint8Array): HeaderValue => ({ kind: "raw", value }),
  bool: (value: boolean): HeaderValue => ({ kind: "bool", value }),
  uint32: (value: number): HeaderValue => ({ kind: "uint32", value }),
  uint64: (value: bigint): HeaderValue => ({ kind: "uint64", value }),
  int64: (value: bigint): HeaderValue => ({ kind: "int64", value }),
  float64: (value: number): HeaderValue => ({ kind: "float64", value }),
};

export interface OutgoingMessage {
  /** 128-bit id; 0 or absent lets the server pick a random one (and then it is never deduplicated). */
  id?: bigint;
  payload: Uint8Array;
  headers?: UserHeaders;
  /** Producer clock in microseconds since the epoch; defaults to now. */
  originTimestamp?: bigint;
}

export interface PolledMessage {
  offset: bigint;
  id: bigint;
  /** Server append time, µs since the epoch. */
  timestamp: bigint;
  originTimestamp: bigint;
  checksum: bigint;
  payload: Buffer;
  headers: UserHeaders;
}

export type Partitioning =
  { kind: "balanced" } | { kind: "partition"; id: number } | { kind: "key"; key: Uint8Array };

export type PollingStrategy =
  | { kind: "offset"; value: bigint }
  | { kind: "timestamp"; value: bigint }
  | { kind: "first" }
  | { kind: "last" }
  | { kind: "next" };

export interface Consumer {
  kind: "consumer" | "group";
  id: Identifier;
}

export interface PartitionInfo {
  id: number;
  createdAt: bigint;
  segmentsCount: number;
  currentOffset: bigint;
  sizeBytes: bigint;
  messagesCount: bigint;
  /** 0.10: the partition's incarnation, owner generation and metadata op (stamped on partition requests). */
  context?: { incarnation: bigint; ownerGeneration: bigint; metadataOp: bigint };
}

export interface TopicInfo {
  id: number;
  name: string;
  createdAt: bigint;
  partitionsCount: number;
  messageExpiry: bigint;
  compression: number;
  maxTopicSize: bigint;
  replicationFactor: number;
  sizeBytes: bigint;
  messagesCount: bigint;
  partitions: PartitionInfo[];
}

export interface StreamInfo {
  id: number;
  name: string;
  createdAt: bigint;
  topicsCount: number;
  sizeBytes: bigint;
  messagesCount: bigint;
  /** Topic headers (partitions empty); present when the stream was read with GET_STREAM. */
  topics: TopicInfo[];
}

export interface TopicSettings {
  partitions: number;
  /** 1 none, 2 gzip. */
  compression?: number;
  /** µs; 0 = server default. */
  messageExpiry?: bigint;
  /** bytes; 0 = server default. */
  maxTopicSize?: bigint;
  replicationFactor?: number;
}

export interface PolledBatch {
  partitionId: number;
  /** The partition's highest offset (0 when it is empty). */
  currentOffset: bigint;
  messages: PolledMessage[];
}

export interface ConsumerOffsetInfo {
  partitionId: number;
  currentOffset: bigint;
  storedOffset: bigint;
}

export type Credentials = { username: string; password: string } | { token: string };
