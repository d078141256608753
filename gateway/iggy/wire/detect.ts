// Telling which wire generation a server speaks (`protocol: auto`; the dev server's side of it is
// in ../dev-server/wire/detect.ts). One probe connection, bounded by a timeout, sends a 0.10
// PING (256-byte header, NonReplicated, session 0: allowed before login). A 0.10 server answers
// with a 256-byte Reply (command 8) or Eviction (13). A 0.8 server reads the header's zero first
// bytes as `length 0` and answers InvalidCommand (`03 00 00 00 00 00 00 00`) or closes: any
// 8-byte answer whose first word is non-zero, or a close, means 0.8. If nothing comes before the
// timeout, a second connection sends a 0.8 PING (8 bytes) and expects the 8-byte OK.
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { openSocket, type Endpoint } from "../connection.js";
import { IggyConnectionError } from "../errors.js";
import { encodeRequestHeader, HEADER_SIZE, OPERATION, CODE } from "./v0_10/layouts.js";

export type DetectedVersion = "0.8" | "0.10";

/** Writes `probe`, then feeds what arrives to `judge` until it decides, the peer closes, or time runs out. */
function exchange(
  socket: Socket,
  probe: Buffer,
  timeoutMs: number,
  judge: (got: Buffer, closed: boolean) => DetectedVersion | null | "unknown",
): Promise<DetectedVersion | null> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (v: DetectedVersion | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.on("data", (c: Buffer) => {
      got = Buffer.concat([got, c]);
      const v = judge(got, false);
      if (v === "unknown") finish(null);
      else if (v) finish(v);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      const v = judge(got, true);
      finish(v === "unknown" ? null : v);
    });
    socket.write(probe);
  });
}

export function ping010(): Buffer {
  const client = randomBytes(16);
  client[0]! |= 1;
  return encodeRequestHeader({
    size: HEADER_SIZE,
    client: client.readBigUInt64LE(0) | (client.readBigUInt64LE(8) << 64n),
    requestChecksum: 0n,
    request: 0n,
    operation: OPERATION.nonReplicated,
    session: 0n,
    code: CODE.ping,
  });
}

const PING_08 = Buffer.from([4, 0, 0, 0, 1, 0, 0, 0]);

function judge010(got: Buffer, closed: boolean): DetectedVersion | null | "unknown" {
  if (got.length >= HEADER_SIZE && (got[60] === 8 || got[60] === 13) && got.readUInt32LE(48) >= HEADER_SIZE)
    return "0.10";
  // A 0.10 reply's first word is its (unsealed, zero) checksum; a 0.8 error status is not zero.
  if (got.length >= 8 && got.readUInt32LE(0) !== 0) return "0.8";
  if (closed) return got.length > 0 && got.length < HEADER_SIZE ? "0.8" : "unknown";
  return null;
}

function judge08(got: Buffer, closed: boolean): DetectedVersion | null | "unknown" {
  if (got.length >= 8) return got.readUInt32LE(0) === 0 && got.readUInt32LE(4) === 0 ? "0.8" : "unknown";
  return closed ? "unknown" : null;
}

/**
 * Which generation the server at `endpoint` speaks. Never waits longer than about
 * 2 × `timeoutMs` (plus connects); throws when the server answers neither probe.
 */
export async function detectGeneration(
  endpoint: Endpoint,
  timeoutMs: number,
  connectTimeoutMs: number,
): Promise<DetectedVersion> {
  const first = await exchange(await openSocket(endpoint, connectTimeoutMs), ping010(), timeoutMs, judge010);
  if (first) return first;
  const second = await exchange(await openSocket(endpoint, connectTimeoutMs), PING_08, timeoutMs, judge08);
  if (second) return second;
  throw new IggyConnectionError(
    `${endpoint.host}:${endpoint.port} answered neither an Iggy 0.10 nor an Iggy 0.8 ping within ${timeoutMs} ms; ` +
      "set iggy.protocol to 0.8 or 0.10 explicitly",
  );
}
