// Who the gateway is to Iggy, from its config. Apart from the config's loader (config.ts): the
// running gateway needs this and not the loader's schemas.
import type { Config } from "../protocols/config-schema.js";
import type { Credentials } from "./iggy/types.js";

/** Iggy's own default root user, used when the config gives no credentials (and said so at start). */
export const DEFAULT_IGGY_CREDENTIALS = { username: "iggy", password: "iggy" } as const;

export function iggyCredentials(config: Config): Credentials & { isDefault: boolean } {
  const { token, username, password } = config.iggy;
  if (token !== undefined) return { token, isDefault: false };
  if (username === undefined) return { ...DEFAULT_IGGY_CREDENTIALS, isDefault: true };
  return { username, password: password ?? "", isDefault: false };
}
