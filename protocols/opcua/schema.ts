// The device map of an OPC-UA device: its endpoint, security and user, how it is read (subscription
// or polling), and its points by NodeId or by browse path.
import { z } from "../../config/zod.cjs";
import { defineProtocolConfig, deviceCommon, pointCommon, points, positiveMs } from "../../config/schema.js";
import { OPCUA_TYPES } from "./coerce.js";

const nodeId = z
  .string()
  .regex(/^(ns=\d+;)?[isgb]=.+$/, { message: "expected an OPC-UA NodeId such as ns=2;s=Speed" });

const opcuaPoint = z
  .strictObject({
    ...pointCommon,
    node: nodeId.optional(),
    /** From the Root folder: /Objects/2:Press/2:Speed (a name without "N:" is in namespace 0). */
    browse_path: z
      .string()
      .regex(/^(\/(\d+:)?[^/]+)+$/, { message: "expected a browse path such as /Objects/2:Press/2:Speed" })
      .optional(),
    sampling_ms: positiveMs.default(1000),
    queue_size: z.number().int().min(1).max(10_000).default(10),
    deadband_type: z.enum(["absolute", "percent"]).default("absolute"),
    type: z.enum(OPCUA_TYPES).optional(),
  })
  .superRefine((p, ctx) => {
    if ((p.node === undefined) === (p.browse_path === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["node"],
        message: "a point needs exactly one of node or browse_path",
      });
    }
    if (p.deadband_type === "percent" && p.deadband !== undefined && p.deadband > 100) {
      ctx.addIssue({ code: "custom", path: ["deadband"], message: "a percent deadband is from 0 to 100" });
    }
  });

const connection = z
  .strictObject({
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^\s]+$/, { message: "expected an endpoint such as opc.tcp://127.0.0.1:4840" }),
    security_mode: z.enum(["None", "Sign", "SignAndEncrypt"]).default("None"),
    security_policy: z
      .enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
      .default("None"),
    username: z.string().optional(),
    password: z.string().optional(),
    /** X.509 user authentication: a certificate (PEM or DER) and its private key (PEM). */
    user_certificate: z.string().min(1).optional(),
    user_private_key: z.string().min(1).optional(),
    session_timeout_ms: positiveMs.default(60_000),
    /** Time limit of one request (read, write, create). */
    timeout_ms: positiveMs.default(10_000),
  })
  .superRefine((c, ctx) => {
    if ((c.security_mode === "None") !== (c.security_policy === "None")) {
      ctx.addIssue({
        code: "custom",
        path: ["security_policy"],
        message: "security_mode None goes with security_policy None, and Sign/SignAndEncrypt with a policy",
      });
    }
    if ((c.username === undefined) !== (c.password === undefined)) {
      ctx.addIssue({ code: "custom", path: ["username"], message: "username and password go together" });
    }
    if ((c.user_certificate === undefined) !== (c.user_private_key === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["user_certificate"],
        message: "user_certificate and user_private_key go together",
      });
    }
    if (c.username !== undefined && c.user_certificate !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["user_certificate"],
        message: "one user identity: username/password or user_certificate, not both",
      });
    }
  });

export const opcuaDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("opcua"),
  connection,
  /** subscribe: monitored items (the server samples); poll: reads every sampling_ms. */
  mode: z.enum(["subscribe", "poll"]).default("subscribe"),
  /** Monitored items per CreateMonitoredItems call when the server states no limit. */
  batch_size: z.number().int().min(1).max(10_000).default(500),
  points: points(opcuaPoint),
});

export type OpcuaDeviceConfig = z.output<typeof opcuaDevice>;
export type OpcuaPointConfig = OpcuaDeviceConfig["points"][number];

/** OPC-UA's part of the file, for the file's schema (protocols/config-schema.ts). */
export const opcuaConfig = defineProtocolConfig({ name: "opcua", device: opcuaDevice });
