// What `iggy-edge check` prints for a valid file: a one-line summary, and with --print the effective
// config. Imported by the command when it runs.
import { Document, type Scalar, type YAMLMap } from "yaml";
import { DEFAULT_IGGY_CREDENTIALS, iggyCredentials, type LoadedConfig } from "../config.js";
import { REDACTED } from "../log.js";

export function summary(loaded: LoadedConfig): string {
  const { config } = loaded;
  const byProtocol = new Map<string, number>();
  let points = 0;
  for (const d of config.devices) {
    byProtocol.set(d.protocol, (byProtocol.get(d.protocol) ?? 0) + 1);
    points += d.points.length;
  }
  const protocols = [...byProtocol].map(([p, n]) => `${p} ${n}`).join(", ");
  return `gateway ${config.gateway.id}; ${config.devices.length} devices, ${points} points${protocols ? ` (${protocols})` : ""}`;
}

/**
 * The effective config with defaults filled in, secrets shown as [redacted]. Iggy's default
 * credentials, used when the file gives none, are shown as what they are: public knowledge.
 */
export function redactedYaml(loaded: LoadedConfig): string {
  const secrets = new Set(loaded.secrets);
  const hide = (key: unknown, value: unknown) =>
    (typeof value === "string" && secrets.has(value)) ||
    (value !== undefined && ["password", "token"].includes(String(key)))
      ? REDACTED
      : value;
  const plain = JSON.parse(
    JSON.stringify(loaded.config, (k, v) => hide(k, typeof v === "bigint" ? String(v) : v)),
  ) as { iggy: Record<string, unknown> };
  const defaults = iggyCredentials(loaded.config).isDefault;
  if (defaults) {
    const { address, protocol, ...rest } = plain.iggy;
    plain.iggy = { address, protocol, ...DEFAULT_IGGY_CREDENTIALS, ...rest };
  }
  const doc = new Document(plain);
  if (defaults) {
    const iggy = doc.get("iggy", true) as YAMLMap<Scalar, unknown>;
    const username = iggy.items.find((p) => p.key.value === "username")!;
    username.key.commentBefore = " no credentials in the file: Iggy's default root user is used";
  }
  return doc.toString();
}
