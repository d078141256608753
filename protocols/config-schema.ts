// The schema of the whole config file and its checks, from every protocol's part of it (its
// schema.ts). Only what validates a config loads this (zod and every protocol's schemas): the
// running gateway gets its config validated in a passing thread (gateway/config-thread.ts) and uses
// registry.ts. A protocol's part is listed here and its plug-in in registry.ts, in the same order.
import type { z } from "zod";
import type { ConfigSpec } from "../config/load.js";
import { crossChecks } from "../config/rules.js";
import { configSchemaOf } from "../config/schema.js";
import { coapConfig } from "./coap/schema.js";
import { modbusConfig } from "./modbus/schema.js";
import { mqttConfig } from "./mqtt/schema.js";
import { opcuaConfig } from "./opcua/schema.js";

export const PROTOCOL_CONFIGS = [modbusConfig, mqttConfig, coapConfig, opcuaConfig] as const;

export const configSchema = configSchemaOf(PROTOCOL_CONFIGS);
export type Config = z.output<typeof configSchema>;
export type DeviceConfig = Config["devices"][number];

export const configSpec: ConfigSpec<Config> = {
  schema: configSchema,
  checks: (config) => crossChecks(config, PROTOCOL_CONFIGS),
};
