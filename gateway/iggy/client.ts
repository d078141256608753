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
  IggyTimeoutError,
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
import { partitionForKey } from "./partitioning.js";
import { detectGeneration } from "./wire/detect.js";
import type {
  Op,
  PartitionContext,
  RequestOf,
  Results,
  SendConfirmation,
  WireGeneration,
} from "./wire/generation.js";
import { wireFor, type WireVersion } from "./wire/registry.js";

export interface IggyClientOptions {
  /** host:port (IPv6 as [::1]:8090). */
  address: string;
  credentials: Credentials;
  /** TLS: `ca` is a PEM file (omit to use the system's CAs), `serverName` the expected certificate name. */
  tls?: { ca?: string; serverName?: string };
  /**
   * Wire generation: "0.8" (the default), "0.9", "0.10", or "auto": probe the server once before
   * the first login (bounded by `probeTimeoutMs`), log what it speaks, and keep that for reconnects.
   */
  protocol?: WireVersion | "auto";
  /** Time limit of each detection probe with protocol "auto". Default 2 s. */
  probeTimeoutMs?: number;
  /** 0.10: send explicit-partition batches as an idempotent producer. Default true. */
  idempotentProducer?: boolean;
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
 * - rejected: the server refused it with a status code (nothing stored); its `reason` says why;
 * - unknown: the request was written but no reply came (stored or not; check before resending),
 *   or the server failed inside (reason "uncertain");
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

/** Whether logging in again after this refusal cannot help. */
const loginRefused = (e: IggyServerError): boolean =>
  e.reason === "unauthorized" || e.reason === "incompatible";

/** A poll's consumer when the caller names none. */
const ANY_CONSUMER: Consumer = Object.freeze({ kind: "consumer", id: 0 });

/** A context that only the topic's partition records (a request to the server) can give. */
const LOOK_UP = Symbol("look up");

function sameStrategy(a: PollingStrategy, b: PollingStrategy): boolean {
  return a.kind === b.kind && (!("value" in a) || a.value === (b as { value: bigint }).value);
}

export function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new IggyInputError(`address "${address}" is not host:port`);
  return { host: m[1]!, port };
}

/**
 * Tasks one at a time, in the order they came: with none under way a task starts at once, else
 * when the one before it settles. No promise chain per task: an idle router's poll makes none.
 */
class RequestQueue {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  run<T>(task: () => Promise<T>): Promise<T> {
    if (this.busy) {
      return new Promise<T>((resolve, reject) => {
        this.waiting.push(() => this.start(task).then(resolve, reject));
      });
    }
    this.busy = true;
    return this.start(task);
  }

  private start<T>(task: () => Promise<T>): Promise<T> {
    let run: Promise<T>;
    try {
      run = task();
    } catch (e) {
      run = Promise.reject(e as Error);
    }
    run.then(this.startNext, this.startNext);
    return run;
  }

  private readonly startNext = (): void => {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  };
}

/** A connect attempt that the caller's time limit, not the connect time limit, cut short. */
class OutOfTimeError extends IggyTimeoutError {}

interface TopicRoute {
  partitionsCount: number;
  contexts: Map<number, PartitionContext>;
  nextBalanced: number;
}

export class IggyClient extends EventEmitter<{ connected: []; disconnected: [IggyError] }> {
  /** null until "auto" has found the server's generation. */
  private wire: WireGeneration | null;
  private wireState: unknown;
  /** Topic routes by stream, then topic (a number and a name of the same text stay apart). */
  private readonly routes = new Map<Identifier, Map<Identifier, TopicRoute>>();
  /**
   * The last poll request made: an identical poll (an idle router's every 50 ms) reuses it, and the
   * wire session reuses its bytes.
   */
  private lastPoll: RequestOf<"poll"> | null = null;
  private readonly endpoint: Endpoint;
  private readonly requestTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxReplyBytes: number;
  private readonly log: Logger | undefined;
  private conn: Connection | null = null;
  private readonly queue = new RequestQueue();
  private failures = 0;
  private nextAttemptAt = 0;
  private lastConnectError: IggyError | null = null;
  private closed = false;
  /** close() has begun: a connection ending now ends on purpose. */
  private closing = false;
  private readonly wakeups = new Set<() => void>();

  constructor(private readonly options: IggyClientOptions) {
    super();
    const protocol = options.protocol ?? "0.8";
    this.wire = protocol === "auto" ? null : wireFor(protocol);
    this.wireState = this.newWireState();
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

  /** "0.8", "0.9" or "0.10"; "auto" until the first connect has found out. */
  get protocolVersion(): string {
    return this.wire?.version ?? "auto";
  }

  private newWireState(): unknown {
    const state = this.wire?.newClientState?.();
    if (
      state &&
      typeof state === "object" &&
      "producers" in state &&
      this.options.idempotentProducer === false
    ) {
      (state as { producers: { enabled: boolean } }).producers.enabled = false;
    }
    return state;
  }

  /** Connects and logs in, retrying with backoff for up to `timeoutMs`; wrong credentials fail at once. */
  async connect(timeoutMs = this.requestTimeoutMs): Promise<void> {
    await this.serialized(() => this.ensureConnection(Date.now() + timeoutMs));
  }

  /** Logs out when connected and closes; every later call fails with IggyClosedError. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closing = true;
    const conn = this.conn;
    if (conn && !conn.closed) {
      await this.serialized(() => conn.request({ op: "logout" }, 1_000)).catch(() => undefined);
    }
    this.closed = true;
    for (const wake of this.wakeups) wake();
    if (this.conn) this.drop(this.conn, new IggyClosedError("the Iggy client is closed"));
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
    this.routes.clear();
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
      if (e instanceof IggyServerError && e.reason === "exists") {
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
      if (e instanceof IggyServerError && e.reason === "exists") {
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
      let partitioning = options.partitioning;
      let context: PartitionContext | undefined;
      if (await this.needsRoutes()) {
        if (messages.length === 0) throw new IggyInputError("a batch must hold at least one message");
        ({ partitioning, context } = await this.route(stream, topic, partitioning));
      }
      let confirmation: SendConfirmation;
      try {
        confirmation = await this.call({ op: "send", stream, topic, partitioning, messages, context });
      } catch (e) {
        // The partition was recreated or the topic changed under us: nothing was stored; read the
        // topic again and send once more.
        if (!(context && e instanceof IggyServerError && e.reason === "missing_target")) throw e;
        this.routes.get(stream)?.delete(topic);
        ({ partitioning, context } = await this.route(stream, topic, options.partitioning));
        confirmation = await this.call({ op: "send", stream, topic, partitioning, messages, context });
      }
      return { status: "confirmed", confirmation };
    } catch (e) {
      if (e instanceof IggyInputError || e instanceof IggyClosedError || !(e instanceof IggyError)) throw e;
      if (e instanceof IggyServerError) {
        return e.reason === "uncertain" ? { status: "unknown", error: e } : { status: "rejected", error: e };
      }
      return e.requestWritten ? { status: "unknown", error: e } : { status: "not_sent", error: e };
    }
  }

  poll(stream: Identifier, topic: Identifier, options: PollOptions): Promise<PolledBatch> {
    const context = this.knownContext(stream, topic, options.partition);
    if (context === LOOK_UP) {
      return this.contextFor(stream, topic, options.partition).then((c) =>
        this.call(this.pollRequest(stream, topic, options, c)),
      );
    }
    return this.call(this.pollRequest(stream, topic, options, context));
  }

  /** The poll request of these arguments: the last one again when they are the same. */
  private pollRequest(
    stream: Identifier,
    topic: Identifier,
    o: PollOptions,
    context: PartitionContext | undefined,
  ): RequestOf<"poll"> {
    const consumer = o.consumer ?? ANY_CONSUMER;
    const autoCommit = o.autoCommit ?? false;
    const last = this.lastPoll;
    if (
      last !== null &&
      last.stream === stream &&
      last.topic === topic &&
      last.consumer.kind === consumer.kind &&
      last.consumer.id === consumer.id &&
      last.partition === o.partition &&
      sameStrategy(last.strategy, o.strategy) &&
      last.count === o.count &&
      last.autoCommit === autoCommit &&
      last.context === context
    )
      return last;
    // Copies of the caller's objects: a caller may change its own after the call.
    const request: RequestOf<"poll"> = {
      op: "poll",
      consumer: { kind: consumer.kind, id: consumer.id },
      stream,
      topic,
      partition: o.partition,
      strategy:
        "value" in o.strategy
          ? { kind: o.strategy.kind, value: o.strategy.value }
          : { kind: o.strategy.kind },
      count: o.count,
      autoCommit,
      context,
    };
    this.lastPoll = request;
    return request;
  }

  /**
   * The last `count` messages of a partition, oldest first, headers decoded; stores no offset.
   * Apache Iggy 0.8 restarted after a SIGKILL was seen refusing a poll of the last N (N above 5) with
   * InvalidOffset while polls by offset worked, for as long as it ran (the Iggy-away drill): then the
   * same messages are read by offset, back from the partition's current offset.
   */
  async pollTail(
    stream: Identifier,
    topic: Identifier,
    partition: number,
    count: number,
  ): Promise<PolledMessage[]> {
    try {
      return (await this.poll(stream, topic, { partition, strategy: { kind: "last" }, count })).messages;
    } catch (e) {
      if (!(e instanceof IggyServerError && e.codeName === "InvalidOffset")) throw e;
      this.log?.warn(
        { partition, count },
        "iggy refused a poll of the partition's last messages (InvalidOffset); reading them by offset instead",
      );
    }
    const { currentOffset } = await this.poll(stream, topic, {
      partition,
      strategy: { kind: "first" },
      count: 1,
    });
    const from = currentOffset >= BigInt(count) ? currentOffset - BigInt(count) + 1n : 0n;
    return (await this.poll(stream, topic, { partition, strategy: { kind: "offset", value: from }, count }))
      .messages;
  }

  async storeConsumerOffset(
    stream: Identifier,
    topic: Identifier,
    consumer: Consumer,
    partition: number | undefined,
    offset: bigint,
  ): Promise<void> {
    const context = await this.contextFor(stream, topic, partition);
    return this.call({ op: "storeOffset", consumer, stream, topic, offset, partition, context });
  }

  async getConsumerOffset(
    stream: Identifier,
    topic: Identifier,
    consumer: Consumer,
    partition?: number,
  ): Promise<ConsumerOffsetInfo | null> {
    const context = await this.contextFor(stream, topic, partition);
    return this.call({ op: "getOffset", consumer, stream, topic, partition, context });
  }

  // ---- 0.10 partition routing ----

  /** Whether this generation wants explicit partitions and partition contexts (connects to find out). */
  private async needsRoutes(): Promise<boolean> {
    if (!this.wire) await this.connect();
    return this.wire?.explicitPartitions === true;
  }

  private async topicRoute(stream: Identifier, topic: Identifier): Promise<TopicRoute> {
    const known = this.routes.get(stream)?.get(topic);
    if (known) return known;
    const t = await this.getTopic(stream, topic);
    if (!t) throw new IggyServerError(2010, "send");
    const route: TopicRoute = {
      partitionsCount: t.partitionsCount,
      contexts: new Map(t.partitions.filter((p) => p.context).map((p) => [p.id, p.context!])),
      nextBalanced: 0,
    };
    let topics = this.routes.get(stream);
    if (topics === undefined) this.routes.set(stream, (topics = new Map()));
    topics.set(topic, route);
    return route;
  }

  /** The explicit partition (the client resolves balanced and key partitioning) and its context. */
  private async route(
    stream: Identifier,
    topic: Identifier,
    partitioning: Partitioning,
  ): Promise<{ partitioning: Partitioning; context: PartitionContext | undefined }> {
    const r = await this.topicRoute(stream, topic);
    let id: number;
    if (partitioning.kind === "partition") id = partitioning.id;
    else if (r.partitionsCount === 0) throw new IggyServerError(3008, "send");
    else if (partitioning.kind === "key") id = partitionForKey(partitioning.key, r.partitionsCount);
    else id = r.nextBalanced++ % r.partitionsCount;
    return { partitioning: { kind: "partition", id }, context: r.contexts.get(id) };
  }

  /**
   * The partition's context without a request: none when the generation wants none, the one of a
   * known route, or LOOK_UP when the generation or the route is not known yet.
   */
  private knownContext(
    stream: Identifier,
    topic: Identifier,
    partition: number | undefined,
  ): PartitionContext | undefined | typeof LOOK_UP {
    if (this.wire === null) return LOOK_UP;
    if (this.wire.explicitPartitions !== true) return undefined;
    const route = this.routes.get(stream)?.get(topic);
    return route === undefined ? LOOK_UP : route.contexts.get(partition ?? 0);
  }

  private async contextFor(
    stream: Identifier,
    topic: Identifier,
    partition: number | undefined,
  ): Promise<PartitionContext | undefined> {
    const known = this.knownContext(stream, topic, partition);
    if (known !== LOOK_UP) return known;
    if (!(await this.needsRoutes())) return undefined;
    try {
      return (await this.topicRoute(stream, topic)).contexts.get(partition ?? 0);
    } catch (e) {
      // A missing topic is the command's own error to report.
      if (e instanceof IggyServerError && e.reason === "missing_target") return undefined;
      throw e;
    }
  }

  // ---- machinery ----

  /** Runs `task` after every earlier one: the connection carries one request at a time. */
  private serialized<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task);
  }

  private call<K extends Op>(request: RequestOf<K>): Promise<Results[K]> {
    return this.serialized(() => {
      const live = this.liveConnection();
      if (live !== null) return this.requestOn(live, request);
      return this.ensureConnection(Date.now() + this.requestTimeoutMs).then((c) =>
        this.requestOn(c, request),
      );
    });
  }

  private requestOn<K extends Op>(conn: Connection, request: RequestOf<K>): Promise<Results[K]> {
    return conn.request(request, this.requestTimeoutMs).catch((e: unknown) => this.failed(conn, request, e));
  }

  /** What a failed request leaves behind (the routes, the connection); the error goes on to the caller. */
  private failed(conn: Connection, request: RequestOf<Op>, e: unknown): never {
    if (e instanceof IggyServerError) {
      if (e.reason === "missing_target") this.routes.clear();
      if (conn.mustCloseAfter(request, e.code)) this.drop(conn, e);
    } else if (!(e instanceof IggyInputError)) {
      this.drop(conn, e instanceof IggyError ? e : new IggyConnectionError(String(e)));
    }
    throw e;
  }

  private drop(conn: Connection, reason: IggyError): void {
    if (this.conn !== conn) return;
    this.conn = null;
    conn.close();
    if (this.closing) this.log?.info({ address: this.options.address }, "iggy connection closed");
    else this.log?.warn({ err: reason.message }, "iggy connection dropped");
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

  /** The open connection of a client not closed, or null: what a request can go out on at once. */
  private liveConnection(): Connection | null {
    const conn = this.conn;
    return !this.closed && conn !== null && !conn.closed ? conn : null;
  }

  /** The live connection, or a new one (connect + login) made before `deadline`. */
  private async ensureConnection(deadline: number): Promise<Connection> {
    for (;;) {
      if (this.closed)
        throw Object.assign(new IggyClosedError("the Iggy client is closed"), { requestWritten: false });
      const live = this.liveConnection();
      if (live !== null) return live;
      if (this.conn) this.drop(this.conn, new IggyConnectionError("connection lost"));
      if (this.nextAttemptAt > Date.now()) {
        if (this.nextAttemptAt > deadline) throw this.notConnected();
        await this.sleepUntil(this.nextAttemptAt);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw this.notConnected();
      try {
        const conn = await this.openAndLogin(left);
        this.failures = 0;
        this.nextAttemptAt = 0;
        this.lastConnectError = null;
        this.conn = conn;
        conn.onClosed((e) => this.drop(conn, e));
        this.log?.info({ address: this.options.address, protocol: this.protocolVersion }, "iggy connected");
        this.emit("connected");
        return conn;
      } catch (e) {
        const err = e instanceof IggyError ? e : new IggyConnectionError(String(e));
        if (err instanceof IggyServerError && loginRefused(err)) {
          err.requestWritten = false;
          throw err;
        }
        this.failures++;
        // Running out of the caller's time says nothing about the server: the error that ends the
        // wait keeps the cause of the attempt before.
        if (!(err instanceof OutOfTimeError && this.lastConnectError)) this.lastConnectError = err;
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

  /** Connects (and detects the generation) within `leftMs` or the connect limit, whichever is less; logs in. */
  private async openAndLogin(leftMs: number): Promise<Connection> {
    const timeout = Math.min(this.connectTimeoutMs, leftMs);
    const outOfTime = (e: unknown): never => {
      throw e instanceof IggyTimeoutError && timeout < this.connectTimeoutMs
        ? new OutOfTimeError(e.message)
        : e;
    };
    if (!this.wire) {
      const found = await detectGeneration(
        this.endpoint,
        this.options.probeTimeoutMs ?? 2_000,
        timeout,
      ).catch(outOfTime);
      this.wire = wireFor(found);
      this.wireState = this.newWireState();
      this.log?.info(
        { address: this.options.address, protocol: found },
        `iggy server speaks protocol ${found} (detected)`,
      );
    }
    const conn = await Connection.open(
      this.endpoint,
      this.wire.newSession({ maxReplyBytes: this.maxReplyBytes, state: this.wireState }),
      timeout,
    ).catch(outOfTime);
    try {
      await conn.request({ op: "login", credentials: this.options.credentials }, this.requestTimeoutMs);
      return conn;
    } catch (e) {
      conn.close();
      throw e;
    }
  }
}
