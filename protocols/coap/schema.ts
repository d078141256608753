// The CoAP plug-in's part of the file: the gateway's CoAP listener (`coap:`: where devices PUT/POST
// readings, and its limits) and the device map of a CoAP device (server mode: devices PUT/POST to the
// gateway; observe or poll: the gateway fetches from the device's own CoAP server).
import { z } from "../../config/zod.cjs";
import type { CheckContext, RuleIssue } from "../../config/schema.js";
import { COAP_SECTION_DEFAULTS } from "./section-defaults.js";
import {
  defineProtocolConfig,
  deviceCommon,
  fieldPath,
  hostPort,
  pointCommon,
  points,
  positiveMs,
} from "../../config/schema.js";

const DTLS_REFUSED =
  "DTLS is not supported: no maintained Node.js library speaks DTLS with PSK (see protocols/coap/README.md); " +
  "put the CoAP traffic on a trusted network or behind a DTLS-terminating proxy";

export const coapSection = z
  .strictObject({
    listen: hostPort.default(COAP_SECTION_DEFAULTS.listen),
    /** A request whose payload is larger is answered 4.13 (Request Entity Too Large). */
    max_request_bytes: z.number().int().min(16).max(65_000).default(COAP_SECTION_DEFAULTS.max_request_bytes),
    /** Requests a second one source address may send; beyond it the answer is 4.29 with Max-Age. */
    source_rate: z.number().int().positive().default(COAP_SECTION_DEFAULTS.source_rate),
    /** Requests one source may send at once above its rate (the token bucket's depth). */
    source_burst: z.number().int().positive().default(COAP_SECTION_DEFAULTS.source_burst),
    /**
     * Bytes of responses kept to answer retransmitted requests (duplicate detection). Each kept
     * response is at least 4 bytes, so at most this/4 responses are kept (see README: memory).
     */
    dedup_cache_bytes: z.number().int().min(0).default(COAP_SECTION_DEFAULTS.dedup_cache_bytes),
    /** Max-Age (seconds) of a 5.03 answer to a request whose readings the buffer refused. */
    busy_max_age_s: z.number().int().min(0).max(3600).default(COAP_SECTION_DEFAULTS.busy_max_age_s),
    dtls: z.unknown().optional(),
  })
  .superRefine((s, ctx) => {
    if (s.dtls !== undefined) ctx.addIssue({ code: "custom", path: ["dtls"], message: DTLS_REFUSED });
  });

/**
 * How a point's value is read from a payload. Which parser reads the payload is told by the request's
 * Content-Format (text/plain, JSON, CBOR, SenML JSON/CBOR); `json: PATH` picks a field of a JSON or
 * CBOR document. SenML payloads are matched by record name instead (`senml`).
 */
const payloadDecode = z.union([
  z.enum(["number", "boolean", "string", "raw"]),
  z.strictObject({ json: fieldPath }),
]);

const coapPoint = z.strictObject({
  ...pointCommon,
  path: z.string().regex(/^\/[^\s?#]*$/, { message: "expected a CoAP path starting with '/'" }),
  decode: payloadDecode.default("number"),
  /** The SenML record name (base name + name) that carries this point; by default the point's name. */
  senml: z.string().min(1).optional(),
  /** How a write reaches the device. */
  method: z.enum(["PUT", "POST"]).default("PUT"),
});

export const coapDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("coap"),
  connection: z
    .strictObject({
      mode: z.enum(["server", "observe", "poll"]).default("server"),
      /** The device's own CoAP server: what observe and poll fetch from, and where writes go. */
      url: z
        .string()
        .regex(/^coaps?:\/\/[^\s/]+/, { message: "expected a CoAP URL such as coap://127.0.0.1:5683" })
        .optional(),
      /** A request to the device that has no answer in this time failed (retransmissions included). */
      timeout_ms: positiveMs.default(5000),
      /** Server mode: a device that sent nothing for this long is down (absent: it is never marked down). */
      silence_ms: positiveMs.optional(),
      /**
       * Observe mode: an observation with no notification for this long (or past the notification's
       * Max-Age, if that is sooner) is registered again.
       */
      lapse_ms: positiveMs.optional(),
    })
    .superRefine((c, ctx) => {
      if (c.mode !== "server" && c.url === undefined)
        ctx.addIssue({ code: "custom", path: ["url"], message: `mode ${c.mode} needs url` });
      if (c.url?.startsWith("coaps:"))
        ctx.addIssue({ code: "custom", path: ["url"], message: `coaps: ${DTLS_REFUSED}` });
    })
    .default({ mode: "server", timeout_ms: 5000 }),
  poll_ms: positiveMs.default(1000),
  points: points(coapPoint),
});

export type CoapDeviceConfig = z.output<typeof coapDevice>;
export type CoapPointConfig = CoapDeviceConfig["points"][number];
export type CoapSectionConfig = z.output<typeof coapSection>;

/** Server mode: a path belongs to one device (several of its points may share it). */
export function checkCoap(ctx: CheckContext<CoapDeviceConfig, CoapSectionConfig>): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const owner = new Map<string, string>();
  for (const { device, index } of ctx.devices) {
    if (device.connection.mode !== "server") continue;
    device.points.forEach((p, i) => {
      const other = owner.get(p.path);
      if (other !== undefined && other !== device.id) {
        issues.push({
          path: ["devices", index, "points", i, "path"],
          message: `path ${p.path} is already device ${other}'s; a server-mode path belongs to one device`,
        });
      } else owner.set(p.path, device.id);
    });
  }
  return issues;
}

/** CoAP's part of the file, for the file's schema (protocols/config-schema.ts). */
export const coapConfig = defineProtocolConfig({
  name: "coap",
  device: coapDevice,
  section: coapSection,
  check: checkCoap,
  listeners: (section) => (section ? [{ address: section.listen, path: ["coap", "listen"] }] : []),
});
