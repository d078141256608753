// The device map of an OPC-UA device: its endpoint and security, and its points by NodeId.
import { z } from "zod";
import { deviceCommon, pointCommon, points, positiveMs } from "../../config/schema.js";

const opcuaPoint = z.strictObject({
  ...pointCommon,
  node: z
    .string()
    .regex(/^(ns=\d+;)?[isgb]=.+$/, { message: "expected an OPC-UA NodeId such as ns=2;s=Speed" }),
  sampling_ms: positiveMs.default(1000),
  type: z
    .enum([
      "Boolean",
      "SByte",
      "Byte",
      "Int16",
      "UInt16",
      "Int32",
      "UInt32",
      "Int64",
      "UInt64",
      "Float",
      "Double",
      "String",
    ])
    .optional(),
});

export const opcuaDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("opcua"),
  connection: z.strictObject({
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^\s]+$/, { message: "expected an endpoint such as opc.tcp://127.0.0.1:4840" }),
    security_mode: z.enum(["None", "Sign", "SignAndEncrypt"]).default("None"),
    security_policy: z
      .enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
      .default("None"),
    username: z.string().optional(),
    password: z.string().optional(),
  }),
  points: points(opcuaPoint),
});

export type OpcuaDeviceConfig = z.output<typeof opcuaDevice>;
