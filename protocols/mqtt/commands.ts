// A command value to the bytes a device expects on its command topic: the inverse of the point's
// decode and scaling; the MQTT 5 properties a command carries, and what its answer says.
import { encode as msgpackEncode } from "@msgpack/msgpack";
import type { WriteValue } from "../adapter.js";
import type { CommandProperties } from "./broker.js";
import type { MqttPointConfig } from "./routes.js";

export class CommandError extends Error {}

/** A command with a response topic got no answer in time: the device may or may not have acted on it. */
export class NoAnswerError extends Error {
  override name = "NoAnswerError";
  constructor(
    readonly responseTopic: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer on ${responseTopic} within ${timeoutMs} ms`);
  }
}

export function checkRange(point: MqttPointConfig, value: WriteValue): void {
  const w = point.write;
  if (w === undefined) throw new CommandError(`point ${point.name} is not writable`);
  if (w === true || (w.min === undefined && w.max === undefined)) return;
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw new CommandError(`point ${point.name} takes a number from ${w.min ?? "-inf"} to ${w.max ?? "inf"}`);
  }
  const n = Number(value);
  if ((w.min !== undefined && n < w.min) || (w.max !== undefined && n > w.max)) {
    throw new CommandError(
      `${n} is outside the write range of ${point.name} (${w.min ?? "-inf"} to ${w.max ?? "inf"})`,
    );
  }
}

export function encodeCommand(point: MqttPointConfig, value: WriteValue): Buffer {
  let v: WriteValue = value;
  if (typeof v === "number" && (point.scale !== 1 || point.offset !== 0))
    v = (v - point.offset) / point.scale;
  const d = point.decode;
  if (d === "msgpack" || (typeof d === "object" && "msgpack" in d)) {
    return Buffer.from(msgpackEncode(v, { useBigInt64: true }));
  }
  if (typeof d === "object" && "json" in d) {
    return Buffer.from(typeof v === "bigint" ? v.toString() : JSON.stringify(v), "utf8");
  }
  if (d === "boolean" && typeof v !== "boolean" && typeof v !== "string") v = Number(v) !== 0;
  return Buffer.from(String(v), "utf8");
}

/** The MQTT 5 properties every command of the point carries (the response topic is added per request). */
export function commandProperties(point: MqttPointConfig): CommandProperties | undefined {
  return point.command_expiry_s === undefined ? undefined : { messageExpiryInterval: point.command_expiry_s };
}

/**
 * A device's answer to a command: undefined when it took the command, else why not, from the
 * answer's user property `error`.
 */
export function answerError(answer: {
  properties?: { userProperties?: Record<string, string | string[]> | undefined } | undefined;
}): string | undefined {
  const e = answer.properties?.userProperties?.error;
  if (e === undefined) return undefined;
  const text = Array.isArray(e) ? e.join("; ") : e;
  return text === "" ? "(no reason given)" : text;
}
