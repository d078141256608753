// `iggy-edge check`: validates config files without starting anything.
import { Command } from "commander";
import { Document, type Scalar, type YAMLMap } from "yaml";
import {
  ConfigError,
  DEFAULT_IGGY_CREDENTIALS,
  formatIssue,
  iggyCredentials,
  loadConfig,
  type LoadedConfig,
} from "../config.js";
import { REDACTED } from "../log.js";
import { configOption } from "./config-option.js";

function summary(loaded: LoadedConfig): string {
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

export function checkCommand(): Command {
  return new Command("check")
    .description("validate config files without starting the gateway; exit 0 if all are valid, 1 otherwise")
    .addOption(configOption())
    .argument("[files...]", "more config files to check")
    .option("--print", "print the effective config (defaults filled in, secrets redacted)")
    .addHelpText(
      "after",
      "\nEach problem is printed as FILE:LINE:COL: message, the form editors and CI logs link to.\n" +
        "Secrets referenced as ${env:NAME} or ${file:PATH} must resolve, so run it with the service's environment.",
    )
    .action((files: string[], opts: { config: string; print?: boolean }, cmd: Command) => {
      const explicit = cmd.getOptionValueSource("config") !== "default";
      const targets = files.length && !explicit ? files : [opts.config, ...files];
      let failed = false;
      for (const file of targets) {
        try {
          const loaded = loadConfig(file);
          console.log(`${file}: OK (${summary(loaded)})`);
          if (opts.print) process.stdout.write(redactedYaml(loaded));
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          failed = true;
          for (const issue of e.issues) console.log(formatIssue(issue));
        }
      }
      process.exitCode = failed ? 1 : 0;
    });
}
