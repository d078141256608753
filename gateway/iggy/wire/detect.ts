// Telling which wire generation a server speaks (`protocol: auto`; the dev server's side of it is
// in ../dev-server/wire/detect.ts). One probe connection, bounded by a timeout, sends a VSR
// LOGIN_REGISTER that holds only the version prefix (the newest protocol we speak, 0.12.0) and no
// credentials. A VSR server gates on that prefix before it reads the rest of the body: if it
// refuses the version, its Eviction (reason 14) names the window it accepts, and we pick the
// newest of our VSR generations inside it (0.9 for a 0.11 server); any other Reply or Eviction
// means it accepted 0.12 (then the missing credentials end the probe without a login attempt). A
// 0.8 server reads the header's zero first bytes as `length 0` and answers InvalidCommand
// (`03 00 00 00 00 00 00 00`) or closes: any 8-byte answer whose first word is non-zero, or a
// close, means 0.8. If nothing comes before the timeout, a second connection sends a 0.8 PING
// (8 bytes) and expects the 8-byte OK.
import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { openSocket, type Endpoint } from "../connection.js";
import { IggyConnectionError, IggyServerError } from "../errors.js";
import { DIALECTS, gateAccepts, PROTOCOL_012, versionText } from "./v0_10/dialect.js";
import {
  encodeRequestHeader,
  HEADER_SIZE,
  OPERATION,
  CODE,
  COMMAND,
  decodeReplyHeader,
  SDK_NAME,
} from "./v0_10/layouts.js";
import { Writer } from "./bytes.js";

export type DetectedVersion = "0.8" | "0.9" | "0.10";

/** A VSR server refused every protocol we speak: its window, for the error. */
class Refused {
  constructor(
    readonly min: number,
    readonly max: number,
  ) {}
}

/** Writes `probe`, then feeds what arrives to `judge` until it decides, the peer closes, or time runs out. */
function exchange(
  socket: Socket,
  probe: Buffer,
  timeoutMs: number,
  judge: (got: Buffer, closed: boolean) => DetectedVersion | Refused | null | "unknown",
): Promise<DetectedVersion | Refused | null> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let done = false;
    const finish = (v: DetectedVersion | Refused | null): void => {
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

function randomClient(): bigint {
  const client = randomBytes(16);
  client[0]! |= 1;
  return client.readBigUInt64LE(0) | (client.readBigUInt64LE(8) << 64n);
}

/** A VSR PING (NonReplicated, session 0: allowed before login). */
export function ping010(): Buffer {
  return encodeRequestHeader({
    size: HEADER_SIZE,
    client: randomClient(),
    requestChecksum: 0n,
    request: 0n,
    operation: OPERATION.nonReplicated,
    session: 0n,
    code: CODE.ping,
  });
}

/** LOGIN_REGISTER with only the version prefix `[protocol:u32][sdk name][sdk version]`. */
export function versionProbe(protocolVersion = PROTOCOL_012.protocolVersion): Buffer {
  const name = Buffer.from(SDK_NAME);
  const version = Buffer.from("probe");
  const body = new Writer(32)
    .u32(protocolVersion)
    .u8(name.length)
    .bytes(name)
    .u8(version.length)
    .bytes(version)
    .finish();
  const header = encodeRequestHeader({
    size: HEADER_SIZE + body.length,
    client: randomClient(),
    requestChecksum: randomBytes(16).readBigUInt64LE(0) | 1n,
    request: 0n,
    operation: OPERATION.register,
    session: 0n,
    code: CODE.loginRegister,
  });
  return Buffer.concat([header, body]);
}

const PING_08 = Buffer.from([4, 0, 0, 0, 1, 0, 0, 0]);

/** The newest VSR generation of ours that a server accepting `min..max` lets in. */
function newestAccepted(min: number, max: number): DetectedVersion | Refused {
  const fits = DIALECTS.filter((d) => gateAccepts({ min, max }, d.protocolVersion));
  return fits.length > 0 ? fits[fits.length - 1]!.generation : new Refused(min, max);
}

function judgeVsr(got: Buffer, closed: boolean): DetectedVersion | Refused | null | "unknown" {
  if (
    got.length >= HEADER_SIZE &&
    (got[60] === COMMAND.reply || got[60] === COMMAND.eviction) &&
    got.readUInt32LE(48) >= HEADER_SIZE
  ) {
    const h = decodeReplyHeader(got.subarray(0, HEADER_SIZE));
    if (h.command === COMMAND.eviction && h.reason === 14 && h.serverVersion !== 0)
      return newestAccepted(h.serverVersionMin || h.serverVersion, h.serverVersion);
    return PROTOCOL_012.generation;
  }
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
  const first = await exchange(
    await openSocket(endpoint, connectTimeoutMs),
    versionProbe(),
    timeoutMs,
    judgeVsr,
  );
  if (first instanceof Refused) {
    const window =
      first.min !== first.max
        ? `${versionText(first.min)}..${versionText(first.max)}`
        : versionText(first.max);
    const ours = DIALECTS.map((d) => `${versionText(d.protocolVersion)} (Iggy ${d.generation})`).join(", ");
    throw new IggyServerError(
      14003,
      "login",
      `the server at ${endpoint.host}:${endpoint.port} accepts binary protocol ${window}; ` +
        `iggy-edge speaks ${ours} and the Iggy 0.8 framing`,
      "incompatible",
    );
  }
  if (first) return first;
  const second = await exchange(await openSocket(endpoint, connectTimeoutMs), PING_08, timeoutMs, judge08);
  if (second && !(second instanceof Refused)) return second;
  throw new IggyConnectionError(
    `${endpoint.host}:${endpoint.port} answered neither an Iggy VSR (0.9/0.10) probe nor an Iggy 0.8 ping within ${timeoutMs} ms; ` +
      "set iggy.protocol to 0.8, 0.9 or 0.10 explicitly",
  );
}
