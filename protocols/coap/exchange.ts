// One request to a CoAP device and its answer, with the coap package's Agent: confirmable (the
// package retransmits on its own schedule) and bounded by a deadline of ours; response codes with
// their RFC 7252 names; a write value to the bytes the device expects.
import type { Agent, IncomingMessage, OutgoingMessage } from "coap";
import type { WriteValue } from "../adapter.js";
import { FORMAT_NUMBER } from "./payload.js";
import type { CoapPointConfig } from "./schema.js";

const CODE_NAMES: Record<string, string> = {
  "2.01": "Created",
  "2.02": "Deleted",
  "2.03": "Valid",
  "2.04": "Changed",
  "2.05": "Content",
  "2.31": "Continue",
  "4.00": "Bad Request",
  "4.01": "Unauthorized",
  "4.02": "Bad Option",
  "4.03": "Forbidden",
  "4.04": "Not Found",
  "4.05": "Method Not Allowed",
  "4.06": "Not Acceptable",
  "4.08": "Request Entity Incomplete",
  "4.12": "Precondition Failed",
  "4.13": "Request Entity Too Large",
  "4.15": "Unsupported Content-Format",
  "4.29": "Too Many Requests",
  "5.00": "Internal Server Error",
  "5.01": "Not Implemented",
  "5.02": "Bad Gateway",
  "5.03": "Service Unavailable",
  "5.04": "Gateway Timeout",
  "5.05": "Proxying Not Supported",
};

/** `4.04 Not Found`. */
export function codeName(code: string): string {
  const name = CODE_NAMES[code];
  return name === undefined ? code : `${code} ${name}`;
}

export class NoAnswerError extends Error {
  override name = "NoAnswerError";
}

export interface Target {
  host: string;
  port: number;
}

/** `coap://host:port` to its host and port (5683 by default); the schema has checked the shape. */
export function targetOf(url: string): Target {
  const u = new URL(url.replace(/^coap:/, "http:"));
  const host = u.hostname.startsWith("[") ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port: u.port === "" ? 5683 : Number(u.port) };
}

export interface Exchange {
  /** The first answer; rejects with NoAnswerError when none came within the deadline. */
  answer: Promise<IncomingMessage>;
  request: OutgoingMessage;
  /** Gives the request up (its retransmissions stop). */
  cancel(): void;
}

export interface RequestSpec {
  method: "GET" | "PUT" | "POST";
  path: string;
  payload?: Buffer;
  contentFormat?: number;
  observe?: boolean;
  timeoutMs: number;
}

/** Sends one confirmable request through `agent`. */
export function exchange(agent: Agent, target: Target, spec: RequestSpec): Exchange {
  const req = agent.request({
    hostname: target.host,
    port: target.port,
    method: spec.method,
    pathname: spec.path,
    confirmable: true,
    ...(spec.observe ? { observe: true } : {}),
    ...(spec.contentFormat !== undefined ? { contentFormat: spec.contentFormat } : {}),
  });
  let timer: NodeJS.Timeout | undefined;
  let settled = false;
  const answer = new Promise<IncomingMessage>((resolve, reject) => {
    const fail = (e: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      agent.abort(req);
      reject(e);
    };
    timer = setTimeout(
      () => fail(new NoAnswerError(`no answer from ${target.host}:${target.port} in ${spec.timeoutMs} ms`)),
      spec.timeoutMs,
    );
    req.on("response", (res: IncomingMessage) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(res);
    });
    req.on("timeout", () => fail(new NoAnswerError(`no answer from ${target.host}:${target.port}`)));
    req.on("error", (e: Error) => fail(e));
  });
  req.end(spec.payload);
  return {
    answer,
    request: req,
    cancel: () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      agent.abort(req);
    },
  };
}

/** A write value to the payload the point's device reads: the inverse of its scaling and decode. */
export function encodeWrite(point: CoapPointConfig, value: WriteValue): { payload: Buffer; format: number } {
  let v: WriteValue = value;
  if (typeof v === "number" && (point.scale !== 1 || point.offset !== 0))
    v = (v - point.offset) / point.scale;
  const d = point.decode;
  if (typeof d === "object") {
    const doc: Record<string, unknown> = {};
    const keys = d.json.split(".");
    let cur = doc;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) cur[k] = typeof v === "bigint" ? Number(v) : v;
      else cur = cur[k] = {} as Record<string, unknown>;
    });
    return { payload: Buffer.from(JSON.stringify(doc)), format: FORMAT_NUMBER.json };
  }
  if (d === "boolean" && typeof v !== "boolean" && typeof v !== "string") v = Number(v) !== 0;
  return { payload: Buffer.from(String(v), "utf8"), format: FORMAT_NUMBER.text };
}
