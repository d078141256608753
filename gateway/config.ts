// The gateway's config file: the generic loader of config/ with the schema and checks that the
// protocol registry puts together.
import { loadConfig as load, parseConfig as parse, type LoadedConfig as Loaded } from "../config/load.js";
import { configSpec, type Config } from "../protocols/registry.js";
import type { Credentials } from "./iggy/types.js";

export { ConfigError, formatIssue, type ConfigIssue } from "../config/load.js";
export { configSchema, type Config, type DeviceConfig } from "../protocols/registry.js";
export type LoadedConfig = Loaded<Config>;

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return load(file, configSpec, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return parse(text, file, configSpec, env);
}

/** Iggy's own default root user, used when the config gives no credentials (and said so at start). */
export const DEFAULT_IGGY_CREDENTIALS = { username: "iggy", password: "iggy" } as const;

export function iggyCredentials(config: Config): Credentials & { isDefault: boolean } {
  const { token, username, password } = config.iggy;
  if (token !== undefined) return { token, isDefault: false };
  if (username === undefined) return { ...DEFAULT_IGGY_CREDENTIALS, isDefault: true };
  return { username, password: password ?? "", isDefault: false };
}
