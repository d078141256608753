// The `-c FILE` option every command that reads the config shares, and its default.
import { Option } from "commander";

export const DEFAULT_CONFIG = process.env.IGGY_EDGE_CONFIG ?? "/etc/iggy-edge/config.yaml";

export function configOption(): Option {
  return new Option("-c, --config <file>", "the gateway's YAML config")
    .default(DEFAULT_CONFIG)
    .env("IGGY_EDGE_CONFIG");
}
