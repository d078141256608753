// Iggy 0.10 (binary protocol 0.12) and Iggy 0.9 (binary protocol 0.11): every request and reply
// rides a 256-byte VSR header; there is no outer length prefix (the header's `size` at offset 48
// covers header + body). One module serves both; ./dialect.ts holds every difference.
//
// Sources: the crate iggy_binary_protocol. 0.10: no 0.12.x of it is on crates.io as of 2026-11-25
// (the newest is 0.11.1-edge.8 of 2026-11-01, whose development protocol number is 0.12.2); the
// layouts follow that crate, the version we announce is 0.12.0 (what Iggy's 0.10 docs name), and
// the dev server accepts any 0.12.x client. 0.9: the released crate 0.11.0 (protocol 0.11.0, the
// number we announce; its servers accept any 0.11.x). See ../../README.md.
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
  WireGeneration,
  WireReply,
  WireSession,
} from "../generation.js";
import { reasonTable, type IggyReason } from "../reasons.js";
import { PROTOCOL_011, PROTOCOL_012, type VsrDialect } from "./dialect.js";
import * as L from "./layouts.js";
import { fingerprint, PRODUCER_UNKNOWN, ProducerState } from "./producer.js";

const { CODE, OPERATION, HEADER_SIZE } = L;

/** Status of a reply that was an Eviction frame (its header is the body). */
const EVICTED = -1;
const RESEND_DELAY_MS = 50;
const RESEND_ATTEMPTS = 5;

/** Eviction reason → the IggyError code the SDKs map it to. */
const EVICTION_CODE: Record<number, number> = { 1: 40, 9: 42, 10: 53, 11: 47, 13: 30, 14: 14003, 15: 3 };

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

type Operation = { readonly code: number; readonly operation: number };

const op = (code: number, operation: number): Operation => Object.freeze({ code, operation });

/** Each op's command code and VSR operation (login's code depends on the credentials). */
const OPERATIONS: Record<Exclude<Op, "login">, Operation> = {
  ping: op(CODE.ping, OPERATION.nonReplicated),
  logout: op(CODE.logout, OPERATION.logout),
  getStream: op(CODE.getStream, OPERATION.nonReplicated),
  createStream: op(CODE.createStream, OPERATION.createStream),
  deleteStream: op(CODE.deleteStream, OPERATION.deleteStream),
  getTopic: op(CODE.getTopic, OPERATION.nonReplicated),
  createTopic: op(CODE.createTopic, OPERATION.createTopic),
  send: op(CODE.send, OPERATION.send),
  poll: op(CODE.poll, OPERATION.nonReplicated),
  storeOffset: op(CODE.storeOffset, OPERATION.storeOffset),
  getOffset: op(CODE.getOffset, OPERATION.nonReplicated),
};
const LOGIN = op(CODE.loginRegister, OPERATION.register);
const LOGIN_PAT = op(CODE.loginRegisterPat, OPERATION.register);

function operationOf(req: Request): Operation {
  if (req.op === "login") return "token" in req.credentials ? LOGIN_PAT : LOGIN;
  return OPERATIONS[req.op];
}

/** 16 random bytes, not all zero: a client id as it stands in a header (u128, little-endian). */
function randomClientId(): Buffer {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b;
  }
}

/** A request number at 168..176 of a request header, written without BigInts. */
function writeRequestNumber(h: Buffer, n: number): void {
  h.writeUInt32LE(n >>> 0, 168);
  h.writeUInt32LE(Math.floor(n / 2 ** 32), 172);
}

export class ClientSession010 implements WireSession {
  private readonly frames: FrameAssembler;
  private readonly clientIdBytes = randomClientId();
  private readonly clientId =
    this.clientIdBytes.readBigUInt64LE(0) | (this.clientIdBytes.readBigUInt64LE(8) << 64n);
  /** The client id as four u32s, to match a reply's header without BigInts. */
  private readonly clientIdWords = [0, 4, 8, 12].map((at) => this.clientIdBytes.readUInt32LE(at));
  private readonly bindSecret = randomBytes(L.BIND_SECRET_BYTES);
  private session = 0n;
  /** Request numbers count from 1 in each session; a number, as they never get near 2^53. */
  private nextRequest = 1;
  /** The request last encoded (-1: none yet) and its bytes, which status 57 resends as they are. */
  private lastRequest = -1;
  private lastFrames: Buffer[] = [];
  /**
   * The bytes of the last poll request, for the next poll with the same request object (the client
   * hands an idle router's identical polls the same one): only the request number changes. They are
   * rewritten in place, which is safe because the next request is encoded only once the reply to
   * the last one came, so the server has read it whole, or on a new connection with a new session.
   */
  private pollBytes: { request: Request; session: bigint; frames: Buffer[] } | null = null;
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
    private readonly dialect: VsrDialect = PROTOCOL_012,
    private readonly reasonOf: (code: number, op: Op) => IggyReason = reasonOf010,
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
          protocolVersion: this.dialect.protocolVersion,
          sdkName: L.SDK_NAME,
          sdkVersion: req.clientVersion || `${this.dialect.generation}.0`,
          bindSecret: this.dialect.bindSecret ? this.bindSecret : undefined,
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
        if (
          this.dialect.producerSection &&
          this.producers.enabled &&
          req.partitioning.kind === "partition" &&
          this.session !== 0n
        ) {
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
    const cached = this.pollBytes;
    if (cached !== null && cached.request === req && cached.session === this.session && this.session !== 0n) {
      const request = this.nextRequest++;
      writeRequestNumber(cached.frames[0]!, request);
      this.lastRequest = request;
      this.lastFrames = cached.frames;
      return cached.frames;
    }
    const { code, operation } = operationOf(req);
    const body = this.body(req);
    if (HEADER_SIZE + body.length > 0xffffffff) throw new RangeError("request too large for one frame");
    let request: number;
    let session: bigint;
    if (operation === OPERATION.register) {
      request = 0;
      session = 0n;
    } else if (this.session === 0n) {
      if (operation !== OPERATION.nonReplicated) throw new IggyInputError(`${req.op} needs a login first`);
      request = 0;
      session = 0n;
    } else {
      request = this.nextRequest++;
      session = this.session;
    }
    const metadataOrSession =
      operation === OPERATION.register ||
      operation === OPERATION.logout ||
      (operation >= 128 && operation < 160);
    const context = "context" in req && this.dialect.partitionContext ? req.context : undefined;
    const header = L.encodeRequestHeader({
      size: HEADER_SIZE + body.length,
      client: this.clientId,
      requestChecksum: metadataOrSession ? randomU128() : 0n,
      request: BigInt(request),
      operation,
      session,
      code,
      context,
    });
    let frames: Buffer[];
    if (req.op === "poll") {
      // One buffer, written whole: the same bytes serve the next identical poll.
      frames = [Buffer.concat([header, body])];
      this.pollBytes = { request: req, session, frames };
    } else frames = body.length > 0 ? [header, body] : [header];
    this.lastRequest = request;
    this.lastFrames = frames;
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
        `the server refused our binary protocol ${L.versionText(this.dialect.protocolVersion)} (Iggy ${this.dialect.generation}); ` +
        `it accepts protocol ${window}. Set iggy.protocol to match the server, or auto`;
    }
    return new IggyServerError(code, request.op, detail, this.reasonOf(code, request.op));
  }

  decode<K extends Op>(request: RequestOf<K>, wire: WireReply): Results[K] {
    const reply = wire as Reply010;
    if (reply.status === EVICTED) throw this.evictionError(request, reply.header);
    if (this.lastRequest >= 0 && !this.answersLast(reply.header)) {
      const h = L.decodeReplyHeader(reply.header);
      throw new IggyProtocolError(
        `reply to ${request.op} answers request ${h.request} of client ${h.client.toString(16)}, not request ${this.lastRequest}`,
      );
    }
    if (reply.status !== 0) {
      this.sendFailed(reply.status);
      throw new IggyServerError(reply.status, request.op, undefined, this.reasonOf(reply.status, request.op));
    }
    try {
      return this.decodeBody(request, reply.body) as Results[K];
    } catch (e) {
      if (e instanceof LayoutError) throw new IggyProtocolError(`reply to ${request.op}: ${e.message}`);
      throw e;
    }
  }

  /** Whether a reply header names this client and the request last sent (read without BigInts). */
  private answersLast(h: Buffer): boolean {
    if (h.readUInt32LE(200) !== this.lastRequest >>> 0) return false;
    if (h.readUInt32LE(204) !== Math.floor(this.lastRequest / 2 ** 32)) return false;
    for (let i = 0; i < 4; i++) if (h.readUInt32LE(160 + 4 * i) !== this.clientIdWords[i]) return false;
    return true;
  }

  private sendFailed(code: number): void {
    if (!this.lastSend) return;
    // 57 (not committed yet) and 85 (too old to tell) leave the outcome unknown: keep the section.
    if (code !== 57 && code !== 85) this.producers.failed(this.lastSend.partitionKey, this.lastSend.section);
  }

  private decodeBody(req: Request, body: Buffer): Results[Op] {
    const { operation } = operationOf(req);
    let payload = body;
    if (L.isResultFramed(operation) || (operation === OPERATION.register && body.length > 0)) {
      const r = L.splitResult(body);
      if (r.code !== 0) {
        this.sendFailed(r.code);
        throw new IggyServerError(r.code, req.op, undefined, this.reasonOf(r.code, req.op));
      }
      payload = r.payload;
    }
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
        this.nextRequest = 1;
        this.pollBytes = null;
        this.serverVersion = l.serverVersion;
        this.serverProtocolVersion = l.serverProtocolVersion;
        return { userId: l.userId, session: l.session };
      }
      case "getStream":
        return L.decodeStream(payload, this.dialect);
      case "createStream": {
        const s = L.decodeStream(payload, this.dialect);
        if (!s) throw new LayoutError("create stream reply is empty");
        return s;
      }
      case "getTopic":
        return L.decodeTopicDetails(payload, this.dialect);
      case "createTopic": {
        const t = L.decodeTopicDetails(payload, this.dialect);
        if (!t) throw new LayoutError("create topic reply is empty");
        return t;
      }
      case "send": {
        const partitions = L.decodeSendReply(payload);
        if (this.lastSend)
          this.producers.confirmed(this.lastSend.partitionKey, this.lastSend.section, this.lastSend.count);
        return { partitions };
      }
      case "poll":
        return L.decodePolledBatch(payload, this.dialect);
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
    if (error.code === 57 && this.lastRequest >= 0)
      return { delayMs: RESEND_DELAY_MS * attempt, frames: this.lastFrames };
    // The partition forgot the producer: the batch (nothing of it written) starts a new epoch at 0.
    if (
      error.code === PRODUCER_UNKNOWN &&
      this.dialect.producerSection &&
      request.op === "send" &&
      attempt === 1
    )
      return { delayMs: 0, frames: this.encode(request) };
    return null;
  }
}

export interface ClientState010 {
  producers: ProducerState;
}

/**
 * 0.10's reading of status codes: the shared table (../reasons.ts), plus HistoryUnavailable and
 * PartitionHistoryChanged (the partition was recreated: look it up again), StaleClient (evicted:
 * log in again) and TransientNotCommitted; a send that ends in Error, TransientNotCommitted after
 * its resends, RequestTooOld or 14006 may be stored or not: nobody can tell.
 */
export const reasonOf010 = reasonTable(
  [
    ["missing_target", [87, 3014]],
    ["transient", [30, 57]],
  ],
  [1, 57, 85, 14006],
);

/**
 * 0.9's reading: the shared table, plus StaleClient and TransientNotCommitted as transient; a send
 * that ends in Error or TransientNotCommitted after its resends is uncertain. Protocol 0.11 has
 * none of 0.12's history, producer and uncertainty codes (85, 87-95, 3014, 14004-14010).
 */
export const reasonOf09 = reasonTable([["transient", [30, 57]]], [1, 57]);

function vsrWire(dialect: VsrDialect, reasonOf: (code: number, op: Op) => IggyReason): WireGeneration {
  return {
    version: dialect.generation,
    reasonOf,
    // 0.12 routes only explicit partitions and stamps partition contexts; a 0.11 server routes
    // balanced and key partitioning itself (Iggy's 0.9.0 Rust SDK sends them as they are).
    explicitPartitions: dialect.partitionContext,
    newClientState: (): ClientState010 => ({ producers: new ProducerState() }),
    newSession: ({ maxReplyBytes, state }) =>
      new ClientSession010(
        maxReplyBytes,
        (state as ClientState010 | undefined)?.producers ?? new ProducerState(),
        dialect,
        reasonOf,
      ),
  };
}

export const wire010 = vsrWire(PROTOCOL_012, reasonOf010);
/** Iggy 0.9.0 (binary protocol 0.11): no bind secret, partition contexts or idempotent producer. */
export const wire09 = vsrWire(PROTOCOL_011, reasonOf09);
