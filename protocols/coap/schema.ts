// The CoAP plug-in's part of the file: the gateway's CoAP listener (`coap.listen`) and the device
// map of a CoAP device (server mode: devices PUT/POST to the gateway; observe or poll a device's resources).
import { z } from "zod";
import { deviceCommon, hostPort, pointCommon, points, positiveMs } from "../../config/schema.js";

export const coapSection = z.strictObject({
  listen: hostPort.default("127.0.0.1:5683"),
});

const payloadDecode = z.union([
  z.enum(["number", "boolean", "string", "raw", "msgpack"]),
  z.strictObject({ json: z.string().min(1) }),
]);

const coapPoint = z.strictObject({
  ...pointCommon,
  path: z.string().regex(/^\/[^\s?#]*$/, { message: "expected a CoAP path starting with '/'" }),
  decode: payloadDecode.default("number"),
  method: z.enum(["PUT", "POST"]).default("PUT"),
});

export const coapDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("coap"),
  connection: z
    .strictObject({
      mode: z.enum(["server", "observe", "poll"]).default("server"),
      url: z
        .string()
        .regex(/^coaps?:\/\/[^\s/]+/, { message: "expected a CoAP URL such as coap://127.0.0.1:5683" })
        .optional(),
    })
    .refine((c) => c.mode === "server" || c.url !== undefined, {
      message: "modes observe and poll need url",
      path: ["url"],
    })
    .default({ mode: "server" }),
  poll_ms: positiveMs.default(1000),
  points: points(coapPoint),
});

export type CoapDeviceConfig = z.output<typeof coapDevice>;
export type CoapSectionConfig = z.output<typeof coapSection>;
