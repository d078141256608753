// The gateway's Iggy client: one connection, strictly one request at a time, reconnect with
// jittered exponential backoff and re-login, and a precise outcome for every send.
//
// Why not pipeline: 0.8 replies carry no request id, and a 0.8 server answers some failed SENDs
// before reading all of their bytes, so what follows on the wire is misread. With several requests
// in flight, one such failure would turn every request behind it into an unknown outcome. 0.10's
// SDKs are lockstep too. On loopback a 1 MiB batch spends far longer in transfer than the one
// round trip that lockstep costs, so throughput does not need it.
import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { Connection, type Endpoint } from "./connection.js";
import {
  IggyClosedError,
  IggyConnectionError,
  IggyError,
  IggyInputError,
  IggyServerError,
} from "./errors.js";
import type {
  Consumer,
  ConsumerOffsetInfo,
  Credentials,
  Identifier,
  OutgoingMessage,
  Partitioning,
  PolledBatch,
  PolledMessage,
  PollingStrategy,
  StreamInfo,
  TopicInfo,
  TopicSettings,
} from "./types.js";
import type { Op, RequestOf, Results, SendConfirmation, WireGeneration } from "./wire/generation.js";
import { wireFor, type WireVersion } from "./wire/registry.js";

export interface IggyClientOptions {
  /** host:port (IPv6 as [::1]:8090). */
  address: string;
  credentials: Credentials;
  /** TLS: `ca` is a PEM file (omit to use the system's CAs), `serverName` the expected certificate name. */
  tls?: { ca?: string; serverName?: string };
  /** Wire generation; only "0.8" exists so far. */
  protocol?: WireVersion;
  /** Time limit of one request, and of waiting for a connection before it is sent. Default 10 s. */
  requestTimeoutMs?: number;
  /** Time limit of one TCP/TLS connect. Default 5 s. */
  connectTimeoutMs?: number;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Largest reply accepted; a bigger length in a reply header is a protocol error. Default 128 MiB. */
  maxReplyBytes?: number;
  logger?: Logger;
}

/**
 * What happened to a send:
 * - confirmed: the server stored it;
 * - rejected: the server refused it with a status code (nothing stored);
 * - unknown also for the few status codes that mean the server failed inside (see uncertainSendCodes);
 * - unknown: the request was written but no reply came (stored or not; check before resending);
 * - not_sent: no byte of it left this process (safe to resend as is).
 */
export type SendOutcome =
  | { status: "confirmed"; confirmation: SendConfirmation }
  | { status: "rejected"; error: IggyServerError }
  | { status: "unknown"; error: IggyError }
  | { status: "not_sent"; error: IggyError };

export interface PollOptions {
  consumer?: Consumer;
  partition?: number;
  strategy: PollingStrategy;
  count: number;
  autoCommit?: boolean;
}

export interface SendOptions {
  partitioning: Partitioning;
}

/** Codes after which logging in again cannot help. */
const AUTH_FAILURES = new Set([42, 43, 44, 47, 53, 54]);

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new IggyInputError(`address "${address}" is not host:port`);
  return { host: m[1]!, port };
}

export class IggyClient extends EventEmitter<{ connected: []; disconnected: [IggyError] }> {
  private readonly wire: WireGeneration;
  private readonly endpoint: Endpoint;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxReplyBytes: number;
  private readonly log: Logger | undefined;
  private conn: Connection | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private failures = 0;
  private nextAttemptAt = 0;
  private lastConnectError: IggyError | null = null;
  private closed = false;
  private readonly wakeups = new Set<() => void>();

  constructor(private readonly options: IggyClientOptions) {
    super();
    this.wire = wireFor(options.protocol ?? "0.8");
    const { host, port } = parseAddress(options.address);
    this.endpoint = {
      host,
      port,
      ...(options.tls
        ? {
            tls: {
              ...(options.tls.ca ? { ca: readFileSync(options.tls.ca) } : {}),
              ...(options.tls.serverName ? { serverName: options.tls.serverName } : {}),
            },
          }
        : {}),
    };
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.initialDelayMs = options.reconnect?.initialDelayMs ?? 100;
    this.maxDelayMs = options.reconnect?.maxDelayMs ?? 10_000;
    this.maxReplyBytes = options.maxReplyBytes ?? 128 * 1024 * 1024;
    this.log = options.logger;
  }

  get connected(): boolean {
    return this.conn !== null && !this.conn.closed;
  }

  get protocolVersion(): string {
    return this.wire.version;
  }

  /** Connects and logs in, retrying with backoff for up to `timeoutMs`; wrong credentials fail at once. */
  async connect(timeoutMs = this.requestTimeoutMs): Promise<void> {
    await this.serialized(() => this.ensureConnection(Date.now() + timeoutMs));
  }

  /** Logs out when connected and closes; every later call fails with IggyClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    const conn = this.conn;
    if (conn && !conn.closed) {
      await this.serialized(() => conn.request({ op: "logout" }, 1_000)).catch(() => undefined);
    }
    this.closed = true;
    for (const wake of this.wakeups) wake();
    this.conn?.close();
    this.conn = null;
  }

  ping(): Promise<void> {
    return this.call({ op: "ping" });
  }

  getStream(stream: Identifier): Promise<StreamInfo | null> {
    return this.call({ op: "getStream", stream });
  }

  createStream(name: string): Promise<StreamInfo> {
    return this.call({ op: "createStream", name });
  }

  deleteStream(stream: Identifier): Promise<void> {
    return this.call({ op: "deleteStream", stream });
  }

  getTopic(stream: Identifier, topic: Identifier): Promise<TopicInfo | null> {
    return this.call({ op: "getTopic", stream, topic });
  }

  createTopic(stream: Identifier, name: string, settings: TopicSettings): Promise<TopicInfo> {
    return this.call({ op: "createTopic", stream, name, settings });
  }

  /** Gets the stream, creating it when missing (a concurrent creator is tolerated). */
  async ensureStream(name: string): Promise<StreamInfo> {
    const found = await this.getStream(name);
    if (found) return found;
    try {
      return await this.createStream(name);
    } catch (e) {
      if (e instanceof IggyServerError && e.code === 1012) {
        const again = await this.getStream(name);
        if (again) return again;
      }
      throw e;
    }
  }

  /** Gets the topic, creating it with `settings` when missing. An existing topic is returned as is. */
  async ensureTopic(stream: Identifier, name: string, settings: TopicSettings): Promise<TopicInfo> {
    const found = await this.getTopic(stream, name);
    if (found) return found;
    try {
      return await this.createTopic(stream, name, settings);
    } catch (e) {
      if (e instanceof IggyServerError && e.code === 2013) {
        const again = await this.getTopic(stream, name);
        if (again) return again;
      }
      throw e;
    }
  }

  /**
   * Sends one batch. Never reports "confirmed" without the server's OK; see SendOutcome.
   * Throws IggyInputError (before sending anything) for a batch the protocol cannot carry,
   * and IggyClosedError after close().
   */
  async send(
    stream: Identifier,
    topic: Identifier,
    messages: OutgoingMessage[],
    options: SendOptions,
  ): Promise<SendOutcome> {
    try {
      const confirmation = await this.call({
        op: "send",
        stream,
        topic,
        partitioning: options.partitioning,
        messages,
      });
      return { status: "confirmed", confirmation };
    } catch (e) {
      if (e instanceof IggyInputError || e instanceof IggyClosedError || !(e instanceof IggyError)) throw e;
      if (e instanceof IggyServerError) {
        return this.wire.uncertainSendCodes.has(e.code)
          ? { status: "unknown", error: e }
          : { status: "rejected", error: e };
      }
      return e.requestWritten ? { status: "unknown", error: e } : { status: "not_sent", error: e };
    }
  }

  poll(stream: Identifier, topic: Identifier, options: PollOptions): Promise<PolledBatch> {
    return this.call({
      op: "poll",
      consumer: options.consumer ?? { kind: "consumer", id: 0 },
      stream,
      topic,
      ...(options.partition === undefined ? {} : { partition: options.partition }),
      strategy: options.strategy,
      count: options.count,
      autoCommit: options.autoCommit ?? false,
    });
  }

  /** The last `count` messages of a partition, oldest first, headers decoded; stores no offset. */
  async pollTail(
    stream: Identifier,
    topic: Identifier,
    partition: number,
    count: number,
  ): Promise<PolledMessage[]> {
    const batch = await this.poll(stream, topic, { partition, strategy: { kind: "last" }, count });
    return batch.messages;
  }

  storeConsumerOffset(
    stream: Identifier,
    topic: Identifier,
    consumer: Consumer,
    partition: number | undefined,
    offset: bigint,
  ): Promise<void> {
    return this.call({
      op: "storeOffset",
      consumer,
      stream,
      topic,
      offset,
      ...(partition === undefined ? {} : { partition }),
    });
  }

  getConsumerOffset(
    stream: Identifier,
    topic: Identifier,
    consumer: Consumer,
    partition?: number,
  ): Promise<ConsumerOffsetInfo | null> {
    return this.call({
      op: "getOffset",
      consumer,
      stream,
      topic,
      ...(partition === undefined ? {} : { partition }),
    });
  }

  // ---- machinery ----

  /** Runs `task` after every earlier one: the connection carries one request at a time. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private call<K extends Op>(request: RequestOf<K>): Promise<Results[K]> {
    return this.serialized(async () => {
      const conn = await this.ensureConnection(Date.now() + this.requestTimeoutMs);
      try {
        return await conn.request(request, this.requestTimeoutMs);
      } catch (e) {
        if (e instanceof IggyServerError) {
          if (conn.mustCloseAfter(request, e.code)) this.drop(conn, e);
        } else if (!(e instanceof IggyInputError)) {
          this.drop(conn, e instanceof IggyError ? e : new IggyConnectionError(String(e)));
        }
        throw e;
      }
    });
  }

  private drop(conn: Connection, reason: IggyError): void {
    if (this.conn !== conn) return;
    this.conn = null;
    conn.close();
    this.log?.warn({ err: reason.message }, "iggy connection dropped");
    this.emit("disconnected", reason);
  }

  private backoffDelay(): number {
    const base = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** Math.min(this.failures - 1, 30));
    return base / 2 + Math.random() * (base / 2);
  }

  private sleepUntil(at: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeups.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, at - Date.now()));
      this.wakeups.add(done);
    });
  }

  /** The live connection, or a new one (connect + login) made before `deadline`. */
  private async ensureConnection(deadline: number): Promise<Connection> {
    for (;;) {
      if (this.closed)
        throw Object.assign(new IggyClosedError("the Iggy client is closed"), { requestWritten: false });
      if (this.conn && !this.conn.closed) return this.conn;
      if (this.conn) this.drop(this.conn, new IggyConnectionError("connection lost"));
      if (this.nextAttemptAt > Date.now()) {
        if (this.nextAttemptAt > deadline) throw this.notConnected();
        await this.sleepUntil(this.nextAttemptAt);
        continue;
      }
      try {
        const conn = await this.openAndLogin(deadline);
        this.failures = 0;
        this.nextAttemptAt = 0;
        this.lastConnectError = null;
        this.conn = conn;
        conn.onClosed((e) => this.drop(conn, e));
        this.log?.info({ address: this.options.address, protocol: this.wire.version }, "iggy connected");
        this.emit("connected");
        return conn;
      } catch (e) {
        const err = e instanceof IggyError ? e : new IggyConnectionError(String(e));
        if (err instanceof IggyServerError && AUTH_FAILURES.has(err.code)) {
          err.requestWritten = false;
          throw err;
        }
        this.failures++;
        this.lastConnectError = err;
        this.nextAttemptAt = Date.now() + this.backoffDelay();
        this.log?.warn({ err: err.message, failures: this.failures }, "iggy connect failed");
        if (Date.now() >= deadline) throw this.notConnected();
      }
    }
  }

  private notConnected(): IggyConnectionError {
    const e = new IggyConnectionError(
      `not connected to ${this.options.address}` +
        (this.lastConnectError ? `: ${this.lastConnectError.message}` : ""),
    );
    e.requestWritten = false;
    return e;
  }

  private async openAndLogin(deadline: number): Promise<Connection> {
    const timeout = Math.max(1, Math.min(this.connectTimeoutMs, deadline - Date.now()));
    const conn = await Connection.open(
      this.endpoint,
      this.wire.newSession({ maxReplyBytes: this.maxReplyBytes }),
      timeout,
    );
    try {
      await conn.request({ op: "login", credentials: this.options.credentials }, this.requestTimeoutMs);
      return conn;
    } catch (e) {
      conn.close();
      throw e;
    }
  }
}
