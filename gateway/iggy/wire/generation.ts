// The seam between the Iggy client (and dev server) and one wire generation. Everything that
// differs between Iggy 0.8 (legacy framing) and 0.10 (VSR framing) sits behind these interfaces:
// framing, per-connection session state, command codes and payload layouts.
//
// How 0.10 fits: its WireSession keeps the client id, session and request counter; encode()
// stamps the 256-byte header; "login" becomes LOGIN_REGISTER with the protocol version and the
// reply's session is kept; an Eviction frame comes out of push() as a reply whose status decode()
// turns into an error, and mustCloseAfter() says to reconnect; send confirmations fill
// SendConfirmation.partitions. Types in ../types.ts stay the same.
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
    }
  | {
      op: "storeOffset";
      consumer: Consumer;
      stream: Identifier;
      topic: Identifier;
      partition?: number;
      offset: bigint;
    }
  | { op: "getOffset"; consumer: Consumer; stream: Identifier; topic: Identifier; partition?: number };

/** What the server confirmed for a send. 0.8 confirms without offsets; 0.10 returns base offsets. */
export interface SendConfirmation {
  partitions: { partitionId: number; baseOffset: bigint }[];
}

export interface Results {
  ping: void;
  login: { userId: number };
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
}

export interface WireGeneration {
  /** "0.8", later "0.10". */
  readonly version: string;
  newSession(options: { maxReplyBytes: number }): WireSession;
  /**
   * Status codes with which a server may fail a SEND after having stored some or all of it
   * (internal faults): the client reports such a send as "unknown", not "rejected".
   */
  readonly uncertainSendCodes: ReadonlySet<number>;
}

// ---- The server side of a generation, used by the dev server. ----

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

export type ServerRequest =
  Exclude<Request, { op: "send" }> | (Omit<RequestOf<"send">, "messages"> & { messages: IncomingMessage[] });

export interface ServerResults extends Omit<Results, "poll"> {
  poll: { partitionId: number; currentOffset: bigint; messages: StoredMessage[] };
}

export type ServerRequestOf<K extends Op> = Extract<ServerRequest, { op: K }>;

export interface ServerWireSession {
  /** Received bytes in, whole request frames out. Throws LayoutError when the stream cannot be followed. */
  push(chunk: Buffer): { code: number; body: Buffer }[];
  /** Throws LayoutError (carrying the status to answer) for an unknown code or a bad payload. */
  decodeRequest(code: number, body: Buffer): ServerRequest;
  encodeReply<K extends Op>(request: ServerRequestOf<K>, result: ServerResults[K]): Buffer[];
  encodeError(code: number): Buffer;
}

export interface ServerWireGeneration {
  readonly version: string;
  newSession(options: { maxRequestBytes: number }): ServerWireSession;
}
