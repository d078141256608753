// The server side of a wire generation, as the dev server uses it. The client never imports this
// folder; both sides share only the layouts (../../wire/*/layouts.ts) and the message types.
import type { Identifier } from "../../types.js";
import type {
  IncomingMessage,
  PartitionContext,
  ProducerSection,
  Request,
  RequestOf,
  Results,
  StoredMessage,
} from "../../wire/generation.js";

export type ServerRequest =
  | Exclude<Request, { op: "send" }>
  | (Omit<RequestOf<"send">, "messages"> & { messages: IncomingMessage[]; producer?: ProducerSection })
  // Server-only: what official 0.10 SDKs ask before partition requests (GET_CLUSTER_METADATA, GET_PARTITION_ROUTE).
  | { op: "clusterInfo" }
  | { op: "partitionRoute"; stream: Identifier; topic: Identifier; partition: number };

export type ServerOp = ServerRequest["op"];

export interface ServerResults extends Omit<Results, "poll"> {
  poll: { partitionId: number; currentOffset: bigint; messages: StoredMessage[]; context?: PartitionContext };
  clusterInfo: { name: string; host: string; port: number };
  partitionRoute: { context: PartitionContext; partitionsCount: number };
}

export type ServerRequestOf<K extends ServerOp> = Extract<ServerRequest, { op: K }>;

export interface ServerWireSession {
  /** Received bytes in, whole request frames out. Throws LayoutError when the stream cannot be followed. */
  push(chunk: Buffer): { code: number; body: Buffer }[];
  /** Throws LayoutError (carrying the status to answer) for an unknown code or a bad payload. */
  decodeRequest(code: number, body: Buffer): ServerRequest;
  encodeReply<K extends ServerOp>(request: ServerRequestOf<K>, result: ServerResults[K]): Buffer[];
  encodeError(code: number): Buffer;
  /** Whether the connection must be closed once the last answer is written (0.10 evictions). */
  closeAfterReply?(): boolean;
}

export interface ServerWireGeneration {
  readonly version: string;
  newSession(options: { maxRequestBytes: number }): ServerWireSession;
}
