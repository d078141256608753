// The command contract on the wire (DESIGN.md, "The outside contract"): a command
// `{id, device, point, value, expires_at?}` in JSON or MessagePack, told by the `codec` header, and
// its result `{id, status, error?, at}`. Reading a command never throws: what cannot be a command
// becomes a refusal with the reason, so one bad message never stops the consumer.
import { createHash } from "node:crypto";
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import { header, type OutgoingMessage, type PolledMessage } from "../iggy/index.js";
import type { WriteValue } from "../../protocols/adapter.js";

export type CommandCodec = "json" | "msgpack";
export const COMMAND_CODECS: readonly CommandCodec[] = ["json", "msgpack"];

export interface Command {
  id: string;
  device: string;
  point: string;
  value: WriteValue;
  /** ms since the epoch; absent: the command does not expire. */
  expiresAt?: number;
}

export type CommandStatus = "ok" | "rejected" | "failed" | "expired";

export interface CommandResult {
  id: string;
  status: CommandStatus;
  error?: string;
  /** When the result was reached, ms since the epoch (ISO 8601 on the wire). */
  at: number;
}

export type DecodedCommand =
  | { ok: true; command: Command; codec: CommandCodec }
  | { ok: false; id: string; reason: string; codec: CommandCodec };

const MAX_ID_LENGTH = 256;

function headerText(m: PolledMessage, key: string): string | undefined {
  const h = m.headers.get(key);
  if (!h) return undefined;
  return h.kind === "raw" ? Buffer.from(h.value).toString() : String(h.value);
}

/** The codec a message says it holds: its `codec` header; JSON when it has none. */
function codecOf(m: PolledMessage): CommandCodec | { unknown: string } {
  const c = headerText(m, "codec");
  if (c === undefined) return "json";
  return (COMMAND_CODECS as readonly string[]).includes(c) ? (c as CommandCodec) : { unknown: c };
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (v instanceof Uint8Array) return "bytes";
  return typeof v === "object"
    ? "an object"
    : `${typeof v} ${JSON.stringify(typeof v === "bigint" ? String(v) : v)}`;
}

/** The range of a JavaScript Date: a time beyond it cannot be shown (toISOString throws) or compared. */
const MAX_TIME_MS = 8.64e15;

/** The time a command gives in `expires_at`: ms since the epoch within a Date's range, or an ISO 8601 text. */
export function parseTime(v: unknown): number | null {
  if (typeof v === "number") return Math.abs(v) <= MAX_TIME_MS ? v : null;
  if (typeof v === "bigint") return v >= -MAX_TIME_MS && v <= MAX_TIME_MS ? Number(v) : null;
  if (typeof v === "string" && /^\d{4}-\d{2}-\d{2}T/.test(v)) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

/** A polled message as a command, or the reason it is not one. */
export function decodeCommand(m: PolledMessage): DecodedCommand {
  const codec = codecOf(m);
  if (typeof codec === "object") {
    return {
      ok: false,
      id: "",
      codec: "json",
      reason: `unknown codec '${codec.unknown}' in the message's codec header (expected json or msgpack)`,
    };
  }
  let doc: unknown;
  try {
    doc =
      codec === "json"
        ? JSON.parse(m.payload.toString("utf8"))
        : msgpackDecode(m.payload, { useBigInt64: true });
  } catch (e) {
    return {
      ok: false,
      id: "",
      codec,
      reason: `the payload is not ${codec === "json" ? "JSON" : "MessagePack"}: ${(e as Error).message}`,
    };
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return {
      ok: false,
      id: "",
      codec,
      reason: `a command is an object {id, device, point, value}, got ${describe(doc)}`,
    };
  }
  const o = doc as Record<string, unknown>;
  const id = typeof o.id === "string" ? o.id : "";
  const refuse = (reason: string): DecodedCommand => ({ ok: false, id, codec, reason });
  if (typeof o.id !== "string" || o.id.length === 0)
    return refuse(`the command's id must be a non-empty text, got ${describe(o.id)}`);
  if (o.id.length > MAX_ID_LENGTH)
    return refuse(`the command's id is longer than ${MAX_ID_LENGTH} characters`);
  for (const key of ["device", "point"] as const) {
    if (typeof o[key] !== "string" || (o[key] as string).length === 0)
      return refuse(`the command's ${key} must be a non-empty text, got ${describe(o[key])}`);
  }
  if (!("value" in o)) return refuse("the command has no value");
  const v = o.value;
  if (!(typeof v === "number" || typeof v === "bigint" || typeof v === "boolean" || typeof v === "string")) {
    return refuse(`the command's value must be a number, true/false or a text, got ${describe(v)}`);
  }
  if (typeof v === "number" && !Number.isFinite(v))
    return refuse(`the command's value ${v} is not a finite number`);
  const command: Command = { id: o.id, device: o.device as string, point: o.point as string, value: v };
  if (o.expires_at !== undefined && o.expires_at !== null) {
    const t = parseTime(o.expires_at);
    if (t === null) {
      return refuse(
        `expires_at must be ms since the epoch or an ISO 8601 time such as 2026-12-01T22:00:00Z, got ${describe(o.expires_at)}`,
      );
    }
    command.expiresAt = t;
  }
  return { ok: true, command, codec };
}

function encodeDoc(doc: Record<string, unknown>, codec: CommandCodec): Buffer {
  if (codec === "msgpack") return Buffer.from(msgpackEncode(doc, { useBigInt64: true }));
  return Buffer.from(
    JSON.stringify(doc, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v)),
    "utf8",
  );
}

/** The Iggy message that carries a command (what `iggy-edge command` sends). */
export function commandMessage(command: Command, codec: CommandCodec = "json"): OutgoingMessage {
  const doc: Record<string, unknown> = {
    id: command.id,
    device: command.device,
    point: command.point,
    value: command.value,
  };
  if (command.expiresAt !== undefined) doc.expires_at = new Date(command.expiresAt).toISOString();
  return {
    id: messageId("command", command.id),
    payload: encodeDoc(doc, codec),
    headers: new Map([["codec", header.string(codec)]]),
  };
}

/** A 128-bit message id derived from a command id, so a result sent again carries the same id. */
function messageId(kind: string, id: string): bigint {
  const h = createHash("sha256").update(`${kind}\0${id}`).digest();
  const v = (h.readBigUInt64BE(0) << 64n) | h.readBigUInt64BE(8);
  return v === 0n ? 1n : v;
}

/** The Iggy message that carries a result, in the codec its command came in. */
export function resultMessage(
  result: CommandResult,
  gatewayId: string,
  codec: CommandCodec,
): OutgoingMessage {
  const doc: Record<string, unknown> = { id: result.id, status: result.status };
  if (result.error !== undefined) doc.error = result.error;
  doc.at = new Date(result.at).toISOString();
  return {
    id: messageId(`result:${gatewayId}`, result.id),
    payload: encodeDoc(doc, codec),
    headers: new Map([
      ["codec", header.string(codec)],
      ["gateway", header.string(gatewayId)],
    ]),
  };
}

/** A result read back from the results topic (for `iggy-edge command --wait`), or null if it is none. */
export function decodeResult(m: PolledMessage): CommandResult | null {
  const codec = codecOf(m);
  if (typeof codec === "object") return null;
  try {
    const o = (
      codec === "json" ? JSON.parse(m.payload.toString("utf8")) : msgpackDecode(m.payload)
    ) as Record<string, unknown>;
    if (typeof o?.id !== "string" || typeof o.status !== "string") return null;
    const r: CommandResult = {
      id: o.id,
      status: o.status as CommandStatus,
      at: parseTime(o.at) ?? 0,
    };
    if (typeof o.error === "string") r.error = o.error;
    return r;
  } catch {
    return null;
  }
}
