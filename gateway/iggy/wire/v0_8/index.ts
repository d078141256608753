// Iggy 0.8 (legacy framing): request `length u32 · code u32 · payload` with length = 4 + payload;
// reply `status u32 · length u32 · payload`. No correlation id: one request at a time.
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
import { reasonTable } from "../reasons.js";
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
    case "poll": {
      // One buffer, written whole: the same bytes serve the next identical poll.
      const body = L.encodePoll(req);
      return [Buffer.concat(frame(COMMAND.poll, body), 8 + body.length)];
    }
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
  /**
   * The last poll request and its bytes: the client hands an idle router's identical polls the same
   * request object, and 0.8 requests carry no number, so the bytes are the same too.
   */
  private lastPoll: { request: Request; frames: Buffer[] } | null = null;

  constructor(maxReplyBytes: number) {
    this.frames = new FrameAssembler(8, (h) => h.readUInt32LE(4), maxReplyBytes);
  }

  encode(request: Request): Buffer[] {
    if (this.lastPoll?.request === request) return this.lastPoll.frames;
    try {
      const frames = encodeRequest(request);
      if (request.op === "poll") this.lastPoll = { request, frames };
      return frames;
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
    if (reply.status !== 0)
      throw new IggyServerError(reply.status, request.op, undefined, reasonOf08(reply.status, request.op));
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

/**
 * 0.8's reading of status codes: the shared table (../reasons.ts) and its own uncertain sends:
 * Error, Disconnected, file append/write/sync failures, ShardCommunicationError (what a real 0.8.0
 * server answered before its shard died on an all-duplicates batch), TaskTimeout.
 */
export const reasonOf08 = reasonTable([], [1, 8, 10005, 10006, 10009, 11001, 12001]);

export const wire08: WireGeneration = {
  version: "0.8",
  reasonOf: reasonOf08,
  newSession: ({ maxReplyBytes }) => new ClientSession(maxReplyBytes),
};
