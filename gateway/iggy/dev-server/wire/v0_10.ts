// The dev server's side of the VSR generations, Iggy 0.10 (binary protocol 0.12) and Iggy 0.9
// (protocol 0.11): 256-byte request headers in, replies and evictions out. Layouts are shared with
// the client (wire/v0_10/layouts.ts). Which of the two a connection speaks is decided at its
// login by the protocol version the client announces; before that (a ping) both are the same.
import { LayoutError } from "../../wire/bytes.js";
import { FrameAssembler } from "../../wire/frames.js";
import { gateAccepts, PROTOCOL_011, PROTOCOL_012, type VsrDialect } from "../../wire/v0_10/dialect.js";
import * as L from "../../wire/v0_10/layouts.js";
import type {
  ServerOp,
  ServerRequest,
  ServerRequestOf,
  ServerResults,
  ServerWireGeneration,
  ServerWireSession,
} from "./types.js";

const { CODE, OPERATION, HEADER_SIZE } = L;

/** One VSR line as the dev server serves it: its protocol version and the window it accepts. */
export interface ServedLine {
  dialect: VsrDialect;
  /** The server's protocol version (the top of the window). */
  max: number;
  /** The oldest client version accepted (Iggy's 0.x gate is minor-scoped). */
  min: number;
  serverVersion: string;
}

/** What a released 0.9.0 server announces: protocol 0.11.0, accepting 0.11.x. */
export const LINE_011: ServedLine = {
  dialect: PROTOCOL_011,
  max: L.packVersion(0, 11, 0),
  min: L.packVersion(0, 11, 0),
  serverVersion: "dev-iggy 0.9",
};
export const LINE_012: ServedLine = {
  dialect: PROTOCOL_012,
  max: L.packVersion(0, 12, 2),
  min: L.packVersion(0, 12, 0),
  serverVersion: "dev-iggy 0.10",
};
export const SERVER_PROTOCOL_VERSION = LINE_012.max;
export const SERVER_PROTOCOL_MIN = LINE_012.min;
const NODE_LISTS_FROM = L.packVersion(0, 12, 2);

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
  /** The line this connection speaks: the newest served until a login names one. */
  private line: ServedLine;
  private readonly queue: L.ParsedRequestHeader[] = [];
  private clientVersion = 0;
  private session = 0n;
  private commit = 0n;
  private close = false;

  constructor(
    maxRequestBytes: number,
    private readonly lines: readonly ServedLine[] = [LINE_012],
  ) {
    this.line = lines[lines.length - 1]!;
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
    // 0.11 has no partition contexts: its partition requests are not checked against one.
    const context = this.line.dialect.partitionContext
      ? (h?.context ?? { incarnation: 0n, ownerGeneration: 0n, metadataOp: 0n })
      : undefined;
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
        const line = this.lines.find((l) => gateAccepts(l, prefix.protocolVersion));
        if (!line)
          throw new LayoutError(`protocol ${L.versionText(prefix.protocolVersion)} is not accepted`, 14003);
        this.line = line;
        let credentials;
        try {
          credentials = L.decodeLoginCredentials(prefix.rest, line.dialect);
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
        return { op: "send", ...L.decodeSendBody(body, this.line.dialect), context };
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
            serverProtocolVersion: this.line.max,
            serverVersion: this.line.serverVersion,
          }),
        ]);
      }
      case "getStream": {
        const s = any as ServerResults["getStream"];
        return this.reply(s ? [L.encodeStream(s, true, this.line.dialect)] : []);
      }
      case "createStream":
        return this.reply([
          L.resultOk(L.encodeStream(any as ServerResults["createStream"], false, this.line.dialect)),
        ]);
      case "getTopic": {
        const t = any as ServerResults["getTopic"];
        return this.reply(t ? [L.encodeTopicDetails(t, this.withNodes(), this.line.dialect)] : []);
      }
      case "createTopic":
        return this.reply([
          L.resultOk(
            L.encodeTopicDetails(any as ServerResults["createTopic"], this.withNodes(), this.line.dialect),
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
            this.line.dialect,
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
      return L.encodeEviction(h.client, reason, reason === 14 ? this.window() : undefined);
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

  private withNodes(): boolean {
    return this.line.dialect.partitionContext && this.clientVersion >= NODE_LISTS_FROM;
  }

  /** What an eviction for an incompatible protocol names: from the oldest accepted to the newest. */
  private window(): { max: number; min: number } {
    return {
      min: Math.min(...this.lines.map((l) => l.min)),
      max: Math.max(...this.lines.map((l) => l.max)),
    };
  }
}

export const serverWire010: ServerWireGeneration = {
  version: "0.10",
  newSession: ({ maxRequestBytes }) => new ServerSession010(maxRequestBytes, [LINE_012]),
};

export const serverWire09: ServerWireGeneration = {
  version: "0.9",
  newSession: ({ maxRequestBytes }) => new ServerSession010(maxRequestBytes, [LINE_011]),
};

/** Both VSR lines on one connection type: the login's protocol version picks. */
export const serverWireVsr: ServerWireGeneration = {
  version: "0.9+0.10",
  newSession: ({ maxRequestBytes }) => new ServerSession010(maxRequestBytes, [LINE_011, LINE_012]),
};
