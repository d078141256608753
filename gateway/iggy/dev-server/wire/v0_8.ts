// The dev server's side of Iggy 0.8 (legacy framing): requests `length u32 · code u32 · payload`,
// replies `status u32 · length u32 · payload`. Layouts are shared with the client (wire/v0_8/layouts.ts).
import { xxh3_64 } from "../../hash/xxh3.js";
import { LayoutError } from "../../wire/bytes.js";
import { FrameAssembler } from "../../wire/frames.js";
import type { StoredMessage } from "../../wire/generation.js";
import * as L from "../../wire/v0_8/layouts.js";
import type {
  ServerOp,
  ServerRequest,
  ServerRequestOf,
  ServerResults,
  ServerWireGeneration,
  ServerWireSession,
} from "./types.js";

const { COMMAND } = L;

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
