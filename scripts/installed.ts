// The gateway as installed: the bin run through its #! line (`#!/usr/bin/env -S [NAME=value...]
// node FLAGS`, so its V8 flags and environment apply) with the environment the systemd unit's
// `Environment=` lines give the service. Benchmarks and drills that measure the gateway start it so.
import { accessSync, chmodSync, constants, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const BIN = fileURLToPath(new URL("../gateway/cli/main.js", import.meta.url));
const UNIT = fileURLToPath(new URL("../../deploy/iggy-edge.service", import.meta.url));

/** The variables the systemd unit's `Environment=` lines set (`NAME=value`, several to a line). */
export function unitEnvironment(text = readFileSync(UNIT, "utf8")): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^Environment=(.*)$/.exec(line.trim());
    if (!m) continue;
    for (const word of m[1]!.match(/"[^"]*"|\S+/g) ?? []) {
      const unquoted = word.startsWith('"') ? word.slice(1, -1) : word;
      const eq = unquoted.indexOf("=");
      if (eq > 0) env[unquoted.slice(0, eq)] = unquoted.slice(eq + 1);
    }
  }
  return env;
}

/** What the bin's #! line sets: its `NAME=value` words before `node`, and node's flags after it. */
export function binLine(first = readFileSync(BIN, "utf8").split("\n", 1)[0]!): {
  env: Record<string, string>;
  nodeFlags: string[];
} {
  const m = /^#!\S*env\s+-S\s+(.*)$/.exec(first);
  const words = m ? m[1]!.split(/\s+/).filter(Boolean) : [];
  const node = words.indexOf("node");
  const env: Record<string, string> = {};
  for (const w of words.slice(0, Math.max(0, node))) {
    const eq = w.indexOf("=");
    if (eq > 0) env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return { env, nodeFlags: node < 0 ? [] : words.slice(node + 1) };
}

/** The V8 and Node flags on the bin's #! line. */
export function binNodeFlags(): string[] {
  return binLine().nodeFlags;
}

/** The kernel runs the bin through its #! line, as npm's bin link does: it must be executable. */
export function executableBin(): string {
  try {
    accessSync(BIN, constants.X_OK);
  } catch {
    chmodSync(BIN, 0o755);
  }
  return BIN;
}
