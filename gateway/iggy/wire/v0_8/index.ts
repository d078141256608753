// Iggy 0.8 (legacy framing): request `length u32 · code u32 · payload` with length = 4 + payload;
// reply `status u32 · length u32 · payload`. No correlation id: one request at a time.
import { IggyInputError, IggyProtocolError, IggyServerError } from "../../errors.js";
import { xxh3_64 } from "../../hash/xxh3.js";
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
  StoredMessage,
  WireGeneration,
  WireReply,
  WireSession,
} from "../generation.js";
import * as L from "./layouts.js";

const { COMMAND } = L;

function frame(code: number, payload: Buffer): Buffer[] {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(payload.length + 4, 0);
  head.writeUInt32LE(code, 4);
  return [head, payload];
}

function encodeRequest(req: Request): Buffer[] {
  switch (req.op) {
    case "ping":
      return frame(COMMAND.ping, Buffer.alloc(0));
    case "login":
      return "token" in req.credentials
        ? frame(COMMAND.loginToken, L.encodeToken(req.credentials.token))
        : frame(
            COMMAND.login,
            L.encodeLogin(req.credentials.username, req.credentials.password, req.clientVersion),
          );
    case "logout":
      return frame(COMMAND.logout, Buffer.alloc(0));
    case "getStream":
      return frame(COMMAND.getStream, L.encodeIdentifiers([req.stream, "stream"]));
    case "createStream":
      return frame(COMMAND.createStream, L.encodeName(req.name, "stream name"));
    case "deleteStream":
      return frame(COMMAND.deleteStream, L.encodeIdentifiers([req.stream, "stream"]));
    case "getTopic":
      return frame(COMMAND.getTopic, L.encodeIdentifiers([req.stream, "stream"], [req.topic, "topic"]));
    case "createTopic":
      return frame(COMMAND.createTopic, L.encodeCreateTopic(req.stream, req.name, req.settings));
    case "send":
      return [L.encodeSendFrame(req)];
    case "poll":
      return frame(COMMAND.poll, L.encodePoll(req));
    case "storeOffset":
      return frame(
        COMMAND.storeOffset,
        L.encodeOffsetRequest(req.consumer, req.stream, req.topic, req.partition, req.offset),
      );
    case "getOffset":
      return frame(
        COMMAND.getOffset,
        L.encodeOffsetRequest(req.consumer, req.stream, req.topic, req.partition),
      );
  }
}

function decodeResult(req: Request, body: Buffer): Results[Op] {
  switch (req.op) {
    case "ping":
    case "logout":
    case "deleteStream":
    case "storeOffset":
      return undefined;
    case "login":
      return { userId: L.decodeUserId(body) };
    case "getStream":
      return L.decodeStream(body);
    case "createStream": {
      const s = L.decodeStream(body);
      if (!s) throw new LayoutError("create stream reply is empty");
      return s;
    }
    case "getTopic":
      return L.decodeTopicDetails(body);
    case "createTopic": {
      const t = L.decodeTopicDetails(body);
      if (!t) throw new LayoutError("create topic reply is empty");
      return t;
    }
    case "send":
      return { partitions: [] };
    case "poll":
      return L.decodePollReply(body);
    case "getOffset":
      return L.decodeOffsetInfo(body);
  }
}

class ClientSession implements WireSession {
  private readonly frames: FrameAssembler;

  constructor(maxReplyBytes: number) {
    this.frames = new FrameAssembler(8, (h) => h.readUInt32LE(4), maxReplyBytes);
  }

  encode(request: Request): Buffer[] {
    try {
      return encodeRequest(request);
    } catch (e) {
      if (e instanceof RangeError) throw new IggyInputError(e.message);
      throw e;
    }
  }

  push(chunk: Buffer): WireReply[] {
    try {
      return this.frames.push(chunk).map((f) => ({ status: f.header.readUInt32LE(0), body: f.body }));
    } catch (e) {
      if (e instanceof LayoutError) throw new IggyProtocolError(`reply from server: ${e.message}`);
      throw e;
    }
  }

  pendingReply(): { have: number; expecting: number | null } {
    return { have: this.frames.pending, expecting: this.frames.expecting };
  }

  decode<K extends Op>(request: RequestOf<K>, reply: WireReply): Results[K] {
    if (reply.status !== 0) throw new IggyServerError(reply.status, request.op);
    try {
      return decodeResult(request, reply.body) as Results[K];
    } catch (e) {
      if (e instanceof LayoutError) throw new IggyProtocolError(`reply to ${request.op}: ${e.message}`);
      throw e;
    }
  }

  // A 0.8 server may answer a failed SEND before reading all of it; what is left would be
  // read as the next frame. Only a fresh connection is safe after that.
  mustCloseAfter(request: Request): boolean {
    return request.op === "send";
  }
}

export const wire08: WireGeneration = {
  version: "0.8",
  // Error, Disconnected, file append/write/sync failures, ShardCommunicationError (what a real
  // 0.8.0 server answered before its shard died on an all-duplicates batch), TaskTimeout.
  uncertainSendCodes: new Set([1, 8, 10005, 10006, 10009, 11001, 12001]),
  newSession: ({ maxReplyBytes }) => new ClientSession(maxReplyBytes),
};

// ---- server side ----

function decodeServerRequest(code: number, body: Buffer): ServerRequest {
  if (code !== COMMAND.send && body.length > L.MAX_CONTROL_PAYLOAD) {
    throw new LayoutError(`payload of ${body.length} bytes exceeds the command limit`, 3);
  }
  switch (code) {
    case COMMAND.ping:
      return { op: "ping" };
    case COMMAND.login:
      return { op: "login", credentials: L.decodeLogin(body) };
    case COMMAND.loginToken:
      return { op: "login", credentials: { token: L.decodeToken(body) } };
    case COMMAND.logout:
      return { op: "logout" };
    case COMMAND.getStream: {
      const [stream] = L.decodeIdentifiers(body, ["stream"]);
      return { op: "getStream", stream: stream! };
    }
    case COMMAND.createStream:
      return { op: "createStream", name: L.decodeName(body, "stream name") };
    case COMMAND.deleteStream: {
      const [stream] = L.decodeIdentifiers(body, ["stream"]);
      return { op: "deleteStream", stream: stream! };
    }
    case COMMAND.getTopic: {
      const [stream, topic] = L.decodeIdentifiers(body, ["stream", "topic"]);
      return { op: "getTopic", stream: stream!, topic: topic! };
    }
    case COMMAND.createTopic:
      return { op: "createTopic", ...L.decodeCreateTopic(body) };
    case COMMAND.send:
      return { op: "send", ...L.decodeSend(body) };
    case COMMAND.poll:
      return { op: "poll", ...L.decodePoll(body) };
    case COMMAND.storeOffset:
      return { op: "storeOffset", ...L.decodeOffsetRequest(body, true) };
    case COMMAND.getOffset: {
      const { offset: _unused, ...rest } = L.decodeOffsetRequest(body, false);
      return { op: "getOffset", ...rest };
    }
    default:
      throw new LayoutError(`unknown command code ${code}`, 3);
  }
}

/** XXH3-64 over the stored frame from byte 8, computed once per message. */
function checksumOf(m: StoredMessage): bigint {
  if (m.checksum === undefined) m.checksum = xxh3_64(L.storedFrame(m, 0n).subarray(8));
  return m.checksum;
}

function replyFrame(parts: Buffer[]): Buffer[] {
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(
    parts.reduce((n, p) => n + p.length, 0),
    4,
  );
  return [head, ...parts];
}

class ServerSession implements ServerWireSession {
  private readonly frames: FrameAssembler;

  constructor(maxRequestBytes: number) {
    this.frames = new FrameAssembler(
      8,
      (h) => {
        const length = h.readUInt32LE(0);
        if (length < 4) throw new LayoutError(`request length ${length} is below 4`, 3);
        return length - 4;
      },
      maxRequestBytes,
    );
  }

  push(chunk: Buffer): { code: number; body: Buffer }[] {
    return this.frames.push(chunk).map((f) => ({ code: f.header.readUInt32LE(4), body: f.body }));
  }

  decodeRequest(code: number, body: Buffer): ServerRequest {
    return decodeServerRequest(code, body);
  }

  encodeReply<K extends ServerOp>(request: ServerRequestOf<K>, result: ServerResults[K]): Buffer[] {
    const r = request as ServerRequest;
    const any = result as ServerResults[ServerOp];
    switch (r.op) {
      case "ping":
      case "logout":
      case "deleteStream":
      case "storeOffset":
      case "send":
        return replyFrame([]);
      case "login":
        return replyFrame([L.encodeUserId((any as ServerResults["login"]).userId)]);
      case "getStream": {
        const s = any as ServerResults["getStream"];
        return replyFrame(s ? [L.encodeStream(s, true)] : []);
      }
      case "createStream":
        return replyFrame([L.encodeStream(any as ServerResults["createStream"], false)]);
      case "getTopic": {
        const t = any as ServerResults["getTopic"];
        return replyFrame(t ? [L.encodeTopicDetails(t)] : []);
      }
      case "createTopic":
        return replyFrame([L.encodeTopicDetails(any as ServerResults["createTopic"])]);
      case "poll": {
        const p = any as ServerResults["poll"];
        return replyFrame(L.encodePollReply(p.partitionId, p.currentOffset, p.messages, checksumOf));
      }
      case "getOffset":
        return replyFrame([L.encodeOffsetInfo(any as ServerResults["getOffset"])]);
      case "clusterInfo":
      case "partitionRoute":
        throw new LayoutError(`${r.op} is not a 0.8 command`, 3);
    }
  }

  encodeError(code: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(code, 0);
    return b;
  }
}

export const serverWire08: ServerWireGeneration = {
  version: "0.8",
  newSession: ({ maxRequestBytes }) => new ServerSession(maxRequestBytes),
};
