// The gateway's config file: the generic loader of config/ with the schema and checks that the
// protocols' parts make together (protocols/config-schema.ts). This loads yaml, zod and every
// protocol's schema: `iggy-edge run` loads its config in a passing thread (config-thread.ts).
import { loadConfig as load, parseConfig as parse, type LoadedConfig as Loaded } from "../config/load.js";
import { configSpec, type Config } from "../protocols/config-schema.js";

export { ConfigError, formatIssue, type ConfigIssue } from "../config/error.js";
export { configSchema, type Config, type DeviceConfig } from "../protocols/config-schema.js";
export { DEFAULT_IGGY_CREDENTIALS, iggyCredentials } from "./iggy-credentials.js";
export type LoadedConfig = Loaded<Config>;

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return load(file, configSpec, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return parse(text, file, configSpec, env);
}
