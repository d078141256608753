// Iggy 0.10 (binary protocol 0.12): every request and reply rides a 256-byte VSR header; there is
// no outer length prefix (the header's `size` at offset 48 covers header + body).
//
// Source: the crate iggy_binary_protocol. No 0.12.x of it is on crates.io as of 2026-11-25 (the
// newest is 0.11.1-edge.8 of 2026-11-01, whose development protocol number is 0.12.2); the layouts
// here follow that crate, the version we announce is 0.12.0 (what Iggy's 0.10 docs name), and the
// dev server accepts any 0.12.x client. See ../../../../README section "Iggy wire generations".
//
// Client session: a random non-zero client id per connection, LOGIN_REGISTER (operation Register,
// request 0, session 0, random request identifier), then the reply's session epoch on every
// request and a fresh request number each (reads and pings too). Lockstep: one request in flight.
// An Eviction frame becomes an error (reason 14 names both protocol versions) and closes the
// connection. Status 57 resends the identical bytes after 50 ms.
import { randomBytes } from "node:crypto";
import { IggyInputError, IggyProtocolError, IggyServerError } from "../../errors.js";
import { LayoutError } from "../bytes.js";
import { FrameAssembler } from "../frames.js";
import type {
  Op,
  Request,
  RequestOf,
  Results,
  ServerRequest,
  ServerOp,
  ServerRequestOf,
  ServerResults,
  ServerWireGeneration,
  ServerWireSession,
  WireGeneration,
  WireReply,
  WireSession,
} from "../generation.js";
import * as L from "./layouts.js";
import { fingerprint, PRODUCER_UNKNOWN, ProducerState } from "./producer.js";

const { CODE, OPERATION, HEADER_SIZE } = L;

/** Status of a reply that was an Eviction frame (its header is the body). */
const EVICTED = -1;
const RESEND_DELAY_MS = 50;
const RESEND_ATTEMPTS = 5;

/** Eviction reason → the IggyError code the SDKs map it to. */
const EVICTION_CODE: Record<number, number> = { 1: 40, 9: 42, 10: 53, 11: 47, 13: 30, 14: 14003, 15: 3 };

export const SDK_VERSION = "0.10.0";

function randomU128(): bigint {
  for (;;) {
    const b = randomBytes(16);
    const v = b.readBigUInt64LE(0) | (b.readBigUInt64LE(8) << 64n);
    if (v !== 0n) return v;
  }
}

interface Reply010 extends WireReply {
  header: Buffer;
}

function operationOf(req: Request): { code: number; operation: number } {
  switch (req.op) {
    case "ping":
      return { code: CODE.ping, operation: OPERATION.nonReplicated };
    case "login":
      return {
        code: "token" in req.credentials ? CODE.loginRegisterPat : CODE.loginRegister,
        operation: OPERATION.register,
      };
    case "logout":
      return { code: CODE.logout, operation: OPERATION.logout };
    case "getStream":
      return { code: CODE.getStream, operation: OPERATION.nonReplicated };
    case "createStream":
      return { code: CODE.createStream, operation: OPERATION.createStream };
    case "deleteStream":
      return { code: CODE.deleteStream, operation: OPERATION.deleteStream };
    case "getTopic":
      return { code: CODE.getTopic, operation: OPERATION.nonReplicated };
    case "createTopic":
      return { code: CODE.createTopic, operation: OPERATION.createTopic };
    case "send":
      return { code: CODE.send, operation: OPERATION.send };
    case "poll":
      return { code: CODE.poll, operation: OPERATION.nonReplicated };
    case "storeOffset":
      return { code: CODE.storeOffset, operation: OPERATION.storeOffset };
    case "getOffset":
      return { code: CODE.getOffset, operation: OPERATION.nonReplicated };
  }
}

export class ClientSession010 implements WireSession {
  private readonly frames: FrameAssembler;
  private readonly clientId = randomU128();
  private readonly bindSecret = randomBytes(L.BIND_SECRET_BYTES);
  private session = 0n;
  private nextRequest = 1n;
  private last: { request: bigint; frames: Buffer[] } | null = null;
  private lastSend: {
    partitionKey: string;
    section: import("../generation.js").ProducerSection;
    count: number;
  } | null = null;
  private evicted = false;
  serverVersion = "";
  serverProtocolVersion = 0;

  constructor(
    maxReplyBytes: number,
    private readonly producers: ProducerState,
  ) {
    this.frames = new FrameAssembler(
      HEADER_SIZE,
      (h) => {
        const size = h.readUInt32LE(48);
        if (size < HEADER_SIZE) throw new LayoutError(`frame size ${size} is below the 256-byte header`);
        return size - HEADER_SIZE;
      },
      maxReplyBytes,
    );
  }

  encode(request: Request): Buffer[] {
    try {
      return this.encodeRequest(request);
    } catch (e) {
      if (e instanceof RangeError) throw new IggyInputError(e.message);
      throw e;
    }
  }

  private body(req: Request): Buffer {
    switch (req.op) {
      case "ping":
      case "logout":
        return Buffer.alloc(0);
      case "login":
        return L.encodeLoginRegister({
          protocolVersion: L.PROTOCOL_VERSION,
          sdkName: L.SDK_NAME,
          sdkVersion: req.clientVersion || SDK_VERSION,
          bindSecret: this.bindSecret,
          credentials: req.credentials,
        });
      case "getStream":
      case "deleteStream":
        return L.encodeIdentifiers([req.stream, "stream"]);
      case "createStream":
        return L.encodeCreateStream(req.name);
      case "getTopic":
        return L.encodeIdentifiers([req.stream, "stream"], [req.topic, "topic"]);
      case "createTopic":
        return L.encodeCreateTopic(req.stream, req.name, req.settings);
      case "send": {
        this.lastSend = null;
        if (this.producers.enabled && req.partitioning.kind === "partition" && this.session !== 0n) {
          const { section, partitionKey } = this.producers.section(
            req.stream,
            req.topic,
            req.partitioning.id,
            this.session,
            fingerprint(req.messages),
          );
          this.lastSend = { partitionKey, section, count: req.messages.length };
          return L.encodeSendBody(req, section);
        }
        return L.encodeSendBody(req);
      }
      case "poll":
        return L.encodePoll(req);
      case "storeOffset":
        return L.encodeOffsetRequest(req.consumer, req.stream, req.topic, req.partition, req.offset);
      case "getOffset":
        return L.encodeOffsetRequest(req.consumer, req.stream, req.topic, req.partition);
    }
  }

  private encodeRequest(req: Request): Buffer[] {
    const { code, operation } = operationOf(req);
    const body = this.body(req);
    if (HEADER_SIZE + body.length > 0xffffffff) throw new RangeError("request too large for one frame");
    let request: bigint;
    let session: bigint;
    if (operation === OPERATION.register) {
      request = 0n;
      session = 0n;
    } else if (this.session === 0n) {
      if (operation !== OPERATION.nonReplicated) throw new IggyInputError(`${req.op} needs a login first`);
      request = 0n;
      session = 0n;
    } else {
      request = this.nextRequest++;
      session = this.session;
    }
    const metadataOrSession =
      operation === OPERATION.register ||
      operation === OPERATION.logout ||
      (operation >= 128 && operation < 160);
    const header = L.encodeRequestHeader({
      size: HEADER_SIZE + body.length,
      client: this.clientId,
      requestChecksum: metadataOrSession ? randomU128() : 0n,
      request,
      operation,
      session,
      code,
      ...("context" in req && req.context ? { context: req.context } : {}),
    });
    const frames = body.length > 0 ? [header, body] : [header];
    this.last = { request, frames };
    return frames;
  }

  push(chunk: Buffer): WireReply[] {
    let frames;
    try {
      frames = this.frames.push(chunk);
    } catch (e) {
      if (e instanceof LayoutError) throw new IggyProtocolError(`reply from server: ${e.message}`);
      throw e;
    }
    return frames.map((f): Reply010 => {
      const command = f.header[60];
      if (command === L.COMMAND.eviction) return { status: EVICTED, body: f.header, header: f.header };
      if (command !== L.COMMAND.reply)
        throw new IggyProtocolError(
          `reply from server: frame command ${command} is neither Reply (8) nor Eviction (13)`,
        );
      return { status: f.header.readUInt32LE(216), body: f.body, header: f.header };
    });
  }

  pendingReply(): { have: number; expecting: number | null } {
    return { have: this.frames.pending, expecting: this.frames.expecting };
  }

  private evictionError(request: Request, h: Buffer): IggyServerError {
    this.evicted = true;
    const e = L.decodeReplyHeader(h);
    const name = L.EVICTION_REASONS[e.reason] ?? `reason ${e.reason}`;
    const code = EVICTION_CODE[e.reason] ?? 3;
    let detail = `the server evicted the connection (${name})`;
    if (e.reason === 14) {
      const window =
        e.serverVersionMin && e.serverVersionMin !== e.serverVersion
          ? `${L.versionText(e.serverVersionMin)}..${L.versionText(e.serverVersion)}`
          : L.versionText(e.serverVersion);
      detail =
        `the server refused our binary protocol ${L.versionText(L.PROTOCOL_VERSION)} (Iggy 0.10); ` +
        `it accepts protocol ${window}. Set iggy.protocol to match the server, or auto`;
    }
    return new IggyServerError(code, request.op, detail);
  }

  decode<K extends Op>(request: RequestOf<K>, wire: WireReply): Results[K] {
    const reply = wire as Reply010;
    if (reply.status === EVICTED) throw this.evictionError(request, reply.header);
    const h = L.decodeReplyHeader(reply.header);
    if (this.last && (h.request !== this.last.request || h.client !== this.clientId)) {
      throw new IggyProtocolError(
        `reply to ${request.op} answers request ${h.request} of client ${h.client.toString(16)}, not request ${this.last.request}`,
      );
    }
    if (reply.status !== 0) {
      this.sendFailed(reply.status);
      throw new IggyServerError(reply.status, request.op);
    }
    try {
      return this.decodeBody(request, reply.body, h.operation) as Results[K];
    } catch (e) {
      if (e instanceof LayoutError) throw new IggyProtocolError(`reply to ${request.op}: ${e.message}`);
      throw e;
    }
  }

  private sendFailed(code: number): void {
    if (!this.lastSend) return;
    // 57 (not committed yet) and 85 (too old to tell) leave the outcome unknown: keep the section.
    if (code !== 57 && code !== 85) this.producers.failed(this.lastSend.partitionKey, this.lastSend.section);
  }

  private decodeBody(req: Request, body: Buffer, replyOperation: number): Results[Op] {
    const { operation } = operationOf(req);
    let payload = body;
    if (L.isResultFramed(operation) || (operation === OPERATION.register && body.length > 0)) {
      const r = L.splitResult(body);
      if (r.code !== 0) {
        this.sendFailed(r.code);
        throw new IggyServerError(r.code, req.op);
      }
      payload = r.payload;
    }
    void replyOperation;
    switch (req.op) {
      case "ping":
      case "logout":
      case "deleteStream":
      case "storeOffset":
        return undefined;
      case "login": {
        if (body.length === 0)
          throw new IggyServerError(42, "login", "the server refused the login (empty reply)");
        const l = L.decodeLoginReply(payload);
        this.session = l.session;
        this.nextRequest = 1n;
        this.serverVersion = l.serverVersion;
        this.serverProtocolVersion = l.serverProtocolVersion;
        return { userId: l.userId, session: l.session };
      }
      case "getStream":
        return L.decodeStream(payload);
      case "createStream": {
        const s = L.decodeStream(payload);
        if (!s) throw new LayoutError("create stream reply is empty");
        return s;
      }
      case "getTopic":
        return L.decodeTopicDetails(payload);
      case "createTopic": {
        const t = L.decodeTopicDetails(payload);
        if (!t) throw new LayoutError("create topic reply is empty");
        return t;
      }
      case "send": {
        const partitions = L.decodeSendReply(payload);
        if (this.lastSend)
          this.producers.confirmed(this.lastSend.partitionKey, this.lastSend.section, this.lastSend.count);
        return { partitions };
      }
      case "poll": {
        const { context: _context, ...batch } = L.decodePollReply(payload);
        return batch;
      }
      case "getOffset":
        return L.decodeOffsetInfo(payload);
    }
  }

  mustCloseAfter(): boolean {
    return this.evicted;
  }

  retry(
    request: Request,
    error: IggyServerError,
    attempt: number,
  ): { delayMs: number; frames: Buffer[] } | null {
    if (this.evicted || attempt > RESEND_ATTEMPTS) return null;
    // Not committed yet: the identical request (same id) again, on this connection.
    if (error.code === 57 && this.last)
      return { delayMs: RESEND_DELAY_MS * attempt, frames: this.last.frames };
    // The partition forgot the producer: the batch (nothing of it written) starts a new epoch at 0.
    if (error.code === PRODUCER_UNKNOWN && request.op === "send" && attempt === 1)
      return { delayMs: 0, frames: this.encode(request) };
    return null;
  }
}

export interface ClientState010 {
  producers: ProducerState;
}

export const wire010: WireGeneration = {
  version: "0.10",
  // Error, TransientNotCommitted after its resends, RequestTooOld: stored or not, nobody can tell.
  uncertainSendCodes: new Set([1, 57, 85, 14006]),
  explicitPartitions: true,
  newClientState: (): ClientState010 => ({ producers: new ProducerState() }),
  newSession: ({ maxReplyBytes, state }) =>
    new ClientSession010(
      maxReplyBytes,
      (state as ClientState010 | undefined)?.producers ?? new ProducerState(),
    ),
};

// ---- server side ----

/** The dev server's protocol version and the window it accepts (minor-scoped, as Iggy's 0.x gate). */
export const SERVER_PROTOCOL_VERSION = L.packVersion(0, 12, 2);
export const SERVER_PROTOCOL_MIN = L.packVersion(0, 12, 0);
const NODE_LISTS_FROM = L.packVersion(0, 12, 2);

function accepts(client: number): boolean {
  return client >= SERVER_PROTOCOL_MIN && client >>> 10 <= SERVER_PROTOCOL_VERSION >>> 10;
}

/** Register-time failure codes → eviction reasons. */
const LOGIN_EVICTION: Record<number, number> = {
  42: 9,
  43: 9,
  44: 9,
  53: 10,
  54: 10,
  47: 11,
  14003: 14,
  3: 15,
};

const CODE_OF_OPERATION: Record<number, number> = {
  [OPERATION.register]: CODE.loginRegister,
  [OPERATION.logout]: CODE.logout,
  [OPERATION.createStream]: CODE.createStream,
  [OPERATION.deleteStream]: CODE.deleteStream,
  [OPERATION.createTopic]: CODE.createTopic,
  [OPERATION.send]: CODE.send,
  [OPERATION.storeOffset]: CODE.storeOffset,
};

export class ServerSession010 implements ServerWireSession {
  private readonly frames: FrameAssembler;
  private readonly queue: L.ParsedRequestHeader[] = [];
  private clientVersion = 0;
  private session = 0n;
  private commit = 0n;
  private close = false;

  constructor(maxRequestBytes: number) {
    this.frames = new FrameAssembler(
      HEADER_SIZE,
      (h) => {
        const size = h.readUInt32LE(48);
        if (h[60] !== L.COMMAND.request) throw new LayoutError(`command ${h[60]} is not Request (5)`, 3);
        if (size < HEADER_SIZE) throw new LayoutError(`frame size ${size} is below the header`, 3);
        return size - HEADER_SIZE;
      },
      maxRequestBytes,
    );
  }

  push(chunk: Buffer): { code: number; body: Buffer }[] {
    return this.frames.push(chunk).map((f) => {
      let h: L.ParsedRequestHeader;
      try {
        h = L.decodeRequestHeader(f.header);
      } catch (e) {
        // Answer this frame (with whatever ids it has) and go on: the framing itself is intact.
        this.queue.push(L.looseRequestHeader(f.header));
        const code = e instanceof LayoutError ? e.code : 3;
        return { code: -code, body: f.body };
      }
      this.queue.push(h);
      const code = h.operation === OPERATION.nonReplicated ? h.code : (CODE_OF_OPERATION[h.operation] ?? 0);
      return { code, body: f.body };
    });
  }

  private current(): L.ParsedRequestHeader | undefined {
    return this.queue[0];
  }

  decodeRequest(code: number, body: Buffer): ServerRequest {
    if (code < 0) throw new LayoutError("request header is invalid", -code);
    const h = this.current();
    if (
      h &&
      h.operation !== OPERATION.register &&
      h.operation !== OPERATION.nonReplicated &&
      h.session !== this.session
    )
      throw new LayoutError("the request's session is not this connection's", 40);
    const context = h?.context ?? { incarnation: 0n, ownerGeneration: 0n, metadataOp: 0n };
    switch (code) {
      case CODE.ping:
        return { op: "ping" };
      case CODE.loginRegister:
      case CODE.loginRegisterPat: {
        let prefix;
        try {
          prefix = L.decodeVersionPrefix(body);
        } catch {
          throw new LayoutError("login body has no version prefix", 3);
        }
        this.clientVersion = prefix.protocolVersion;
        if (!accepts(prefix.protocolVersion))
          throw new LayoutError(`protocol ${L.versionText(prefix.protocolVersion)} is not accepted`, 14003);
        let credentials;
        try {
          credentials = L.decodeLoginCredentials(prefix.rest);
        } catch {
          throw new LayoutError("login body is malformed", 3);
        }
        return { op: "login", credentials, clientVersion: `${prefix.sdkName} ${prefix.sdkVersion}` };
      }
      case CODE.logout:
        return { op: "logout" };
      case CODE.getClusterMetadata:
        return { op: "clusterInfo" };
      case CODE.getPartitionRoute:
        return { op: "partitionRoute", ...L.decodePartitionRouteRequest(body) };
      case CODE.getStream: {
        const [stream] = L.decodeIdentifiers(body, ["stream"]);
        return { op: "getStream", stream: stream! };
      }
      case CODE.createStream:
        return { op: "createStream", name: L.decodeCreateStream(body) };
      case CODE.deleteStream: {
        const [stream] = L.decodeIdentifiers(body, ["stream"]);
        return { op: "deleteStream", stream: stream! };
      }
      case CODE.getTopic: {
        const [stream, topic] = L.decodeIdentifiers(body, ["stream", "topic"]);
        return { op: "getTopic", stream: stream!, topic: topic! };
      }
      case CODE.createTopic:
        return { op: "createTopic", ...L.decodeCreateTopic(body) };
      case CODE.send:
        return { op: "send", ...L.decodeSendBody(body), context };
      case CODE.poll:
        return { op: "poll", ...L.decodePoll(body), context };
      case CODE.pollDeferred:
        return { op: "poll", ...L.decodeDeferredPoll(body), context };
      case CODE.storeOffset:
        return { op: "storeOffset", ...L.decodeOffsetRequest(body, true), context };
      case CODE.getOffset: {
        const { offset: _unused, ...rest } = L.decodeOffsetRequest(body, false);
        return { op: "getOffset", ...rest, context };
      }
      default:
        throw new LayoutError(`unknown command code ${code}`, 3);
    }
  }

  private reply(body: Buffer[], status = 0): Buffer[] {
    const h = this.queue.shift();
    const length = body.reduce((n, b) => n + b.length, 0);
    if (!h) return [L.encodeEviction(0n, 5)];
    const op = ++this.commit;
    return [L.encodeReplyHeader(h, length, status, op), ...body];
  }

  encodeReply<K extends ServerOp>(request: ServerRequestOf<K>, result: ServerResults[K]): Buffer[] {
    const r = request as ServerRequest;
    const any = result as ServerResults[ServerOp];
    switch (r.op) {
      case "ping":
      case "logout":
        return this.reply([]);
      case "deleteStream":
      case "storeOffset":
        return this.reply([L.resultOk()]);
      case "login": {
        const l = any as ServerResults["login"];
        this.session = l.session ?? 1n;
        return this.reply([
          L.encodeLoginReply({
            userId: l.userId,
            session: this.session,
            serverProtocolVersion: SERVER_PROTOCOL_VERSION,
            serverVersion: "dev-iggy 0.10",
          }),
        ]);
      }
      case "getStream": {
        const s = any as ServerResults["getStream"];
        return this.reply(s ? [L.encodeStream(s, true)] : []);
      }
      case "createStream":
        return this.reply([L.resultOk(L.encodeStream(any as ServerResults["createStream"], false))]);
      case "getTopic": {
        const t = any as ServerResults["getTopic"];
        return this.reply(t ? [L.encodeTopicDetails(t, this.clientVersion >= NODE_LISTS_FROM)] : []);
      }
      case "createTopic":
        return this.reply([
          L.resultOk(
            L.encodeTopicDetails(any as ServerResults["createTopic"], this.clientVersion >= NODE_LISTS_FROM),
          ),
        ]);
      case "send": {
        const c = any as ServerResults["send"];
        return this.reply([
          L.encodeSendReply(
            c.partitions.map((p) => ({
              streamId: p.streamId ?? 0,
              topicId: p.topicId ?? 0,
              partitionId: p.partitionId,
              baseOffset: p.baseOffset,
            })),
          ),
        ]);
      }
      case "poll": {
        const p = any as ServerResults["poll"];
        return this.reply(
          L.encodePollReply(
            p.partitionId,
            p.currentOffset,
            p.context ?? { incarnation: 0n, ownerGeneration: 0n, metadataOp: 0n },
            p.messages,
          ),
        );
      }
      case "getOffset":
        return this.reply([L.encodeOffsetInfo(any as ServerResults["getOffset"])]);
      case "clusterInfo": {
        const c = any as ServerResults["clusterInfo"];
        return this.reply([L.encodeClusterMetadata(c.name, c.host, c.port)]);
      }
      case "partitionRoute": {
        const p = any as ServerResults["partitionRoute"];
        return this.reply([L.encodePartitionRoute(p.context, p.partitionsCount)]);
      }
    }
  }

  encodeError(code: number): Buffer {
    const h = this.current();
    if (!h) {
      this.close = true;
      return L.encodeEviction(0n, 5);
    }
    if (h.operation === OPERATION.register) {
      this.queue.shift();
      this.close = true;
      const reason = LOGIN_EVICTION[code] ?? 12;
      return L.encodeEviction(
        h.client,
        reason,
        reason === 14 ? { max: SERVER_PROTOCOL_VERSION, min: SERVER_PROTOCOL_MIN } : undefined,
      );
    }
    // Committed-plane rejections of result-framed operations ride the result section.
    const parts =
      L.isResultFramed(h.operation) && code !== 40 && code !== 41 && code !== 3
        ? this.reply([L.resultRejection(code)])
        : this.reply([], code);
    return Buffer.concat(parts);
  }

  closeAfterReply(): boolean {
    return this.close;
  }
}

export const serverWire010: ServerWireGeneration = {
  version: "0.10",
  newSession: ({ maxRequestBytes }) => new ServerSession010(maxRequestBytes),
};
