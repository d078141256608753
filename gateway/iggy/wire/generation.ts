// The seam between the Iggy client and one wire generation. Everything that
// differs between Iggy 0.8 (legacy framing) and 0.10 (VSR framing) sits behind these interfaces:
// framing, per-connection session state, command codes and payload layouts.
//
// How 0.10 fits (wire/v0_10/): its WireSession keeps the client id, session epoch and request
// counter; encode() stamps the 256-byte header; "login" becomes LOGIN_REGISTER with the protocol
// version; an Eviction frame comes out of push() as a reply whose decode() throws, and
// mustCloseAfter() says to reconnect; retry() resends on status 57; send confirmations fill
// SendConfirmation.partitions. State that must outlive a connection (the idempotent producer's
// ids and sequences) comes from newClientState(). `explicitPartitions` makes the client resolve
// partitions and partition contexts (incarnations) from the topic before partition requests.
// The dev server's side of each generation lives in ../dev-server/wire/ and shares only the
// layouts (encode/decode functions) and the message types below. Types in ../types.ts stay the
// same (PartitionInfo gained an optional `context`).
import type {
  Consumer,
  ConsumerOffsetInfo,
  Credentials,
  Identifier,
  OutgoingMessage,
  Partitioning,
  PolledBatch,
  PollingStrategy,
  StreamInfo,
  TopicInfo,
  TopicSettings,
} from "../types.js";
import type { IggyServerError } from "../errors.js";
import type { IggyReason } from "./reasons.js";

/** Which incarnation of a partition a 0.10 partition request addresses (request header 200..224). */
export interface PartitionContext {
  incarnation: bigint;
  ownerGeneration: bigint;
  metadataOp: bigint;
}

/** An idempotent producer's section of a 0.10 batch header. */
export interface ProducerSection {
  producerId: bigint;
  epoch: number;
  baseSequence: number;
}

export type Request =
  | { op: "ping" }
  | { op: "login"; credentials: Credentials; clientVersion?: string }
  | { op: "logout" }
  | { op: "getStream"; stream: Identifier }
  | { op: "createStream"; name: string }
  | { op: "deleteStream"; stream: Identifier }
  | { op: "getTopic"; stream: Identifier; topic: Identifier }
  | { op: "createTopic"; stream: Identifier; name: string; settings: TopicSettings }
  | {
      op: "send";
      stream: Identifier;
      topic: Identifier;
      partitioning: Partitioning;
      messages: OutgoingMessage[];
      /** 0.10: filled by the client from the topic's partition records. */
      context?: PartitionContext;
    }
  | {
      op: "poll";
      consumer: Consumer;
      stream: Identifier;
      topic: Identifier;
      partition?: number;
      strategy: PollingStrategy;
      count: number;
      autoCommit: boolean;
      context?: PartitionContext;
    }
  | {
      op: "storeOffset";
      consumer: Consumer;
      stream: Identifier;
      topic: Identifier;
      partition?: number;
      offset: bigint;
      context?: PartitionContext;
    }
  | {
      op: "getOffset";
      consumer: Consumer;
      stream: Identifier;
      topic: Identifier;
      partition?: number;
      context?: PartitionContext;
    };

/** What the server confirmed for a send. 0.8 confirms without offsets; 0.10 returns base offsets. */
export interface SendConfirmation {
  partitions: { partitionId: number; baseOffset: bigint; streamId?: number; topicId?: number }[];
}

export interface Results {
  ping: void;
  /** `session`: the 0.10 session epoch a server minted (unique per server; producer ids derive from it). */
  login: { userId: number; session?: bigint };
  logout: void;
  getStream: StreamInfo | null;
  createStream: StreamInfo;
  deleteStream: void;
  getTopic: TopicInfo | null;
  createTopic: TopicInfo;
  send: SendConfirmation;
  poll: PolledBatch;
  storeOffset: void;
  getOffset: ConsumerOffsetInfo | null;
}

export type Op = Request["op"];
export type RequestOf<K extends Op> = Extract<Request, { op: K }>;

/** A whole reply as framed by the generation; `status` 0 is success. */
export interface WireReply {
  status: number;
  body: Buffer;
}

/** One connection's view of a generation: framing state and session (0.10 keeps ids here). */
export interface WireSession {
  /** The bytes of a request, in write order. Throws IggyInputError for what the wire cannot carry. */
  encode(request: Request): Buffer[];
  /** Received bytes in, whole replies out. Throws IggyProtocolError on bad framing or size. */
  push(chunk: Buffer): WireReply[];
  /** Bytes held of an incomplete reply, and its expected size if known (for truncation messages). */
  pendingReply(): { have: number; expecting: number | null };
  /** The result of a request from its reply: IggyServerError for a status, IggyProtocolError for a bad body. */
  decode<K extends Op>(request: RequestOf<K>, reply: WireReply): Results[K];
  /** Whether the connection must be dropped after this request failed with this server code. */
  mustCloseAfter(request: Request, code: number): boolean;
  /**
   * After `decode` threw this server error: the bytes to write again on the same connection and
   * when, or null to fail the request. 0.10 resends the identical request (same id) on status 57,
   * and starts a new producer epoch when a partition forgot the producer (94).
   */
  retry?(
    request: Request,
    error: IggyServerError,
    attempt: number,
  ): { delayMs: number; frames: Buffer[] } | null;
}

export interface WireGeneration {
  /** "0.8", later "0.10". */
  readonly version: string;
  /** `state` comes from newClientState() and lives as long as the client (0.10: producer sequences). */
  newSession(options: { maxReplyBytes: number; state?: unknown }): WireSession;
  /** State one client keeps across its connections and reconnects. */
  newClientState?(): unknown;
  /**
   * 0.10: the server routes only explicit partitions and wants each partition request stamped
   * with the partition's context, so the client resolves both from the topic before sending.
   */
  readonly explicitPartitions?: boolean;
  /**
   * What a status code means for a request of `op`: the reason an IggyServerError carries. A send
   * the server may have stored in part or whole before failing is "uncertain", which the client
   * reports as "unknown", not "rejected".
   */
  reasonOf(code: number, op: Op): IggyReason;
}

// ---- Messages as a server holds them: the layouts encode and decode these for the dev server. ----

/** A message as a server receives it: headers stay as their wire block. */
export interface IncomingMessage {
  id: bigint;
  originTimestamp: bigint;
  payload: Buffer;
  headers: Buffer;
}

/** A message as a server keeps it. `checksum` is filled by the generation on first read. */
export interface StoredMessage extends IncomingMessage {
  offset: bigint;
  timestamp: bigint;
  checksum?: bigint;
}
