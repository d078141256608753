// Hostile input at the config loader: YAML device maps mutated at random (bytes flipped, lines cut,
// dropped, repeated, values swapped for odd scalars) and YAML generated from arbitrary values. The
// loader either accepts a file or refuses it with a ConfigError whose every issue names a line and
// column in the file; nothing else is thrown. Fixed seeds, bounded runs (fast-check).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { ConfigError, parseConfig } from "../../gateway/config.js";
import { repoRoot } from "../helpers/peers.js";

const FILE = "/etc/iggy-edge/fuzzed.yaml";
const ENV = { IGGY_PASSWORD: "pw", MQTT_SENSORS_PASSWORD: "pw", SITE_MQTT_PASSWORD: "pw" };
const EXAMPLES = [
  "config/examples/demo.yaml",
  "protocols/mqtt/example.yaml",
  "protocols/modbus/example.yaml",
].map((f) => readFileSync(join(repoRoot, f), "utf8"));

/** Accepted, or refused with a ConfigError whose issues each point into the file. */
function loadsOrRefusesClearly(text: string): "accepted" | "refused" {
  try {
    parseConfig(text, FILE, ENV);
    return "accepted";
  } catch (e) {
    if (!(e instanceof ConfigError)) {
      throw new Error(
        `not a ConfigError (${(e as Error)?.constructor?.name}): ${(e as Error)?.message}\n--- input:\n${text}`,
      );
    }
    assert.ok(e.issues.length > 0, "a ConfigError names at least one issue");
    for (const i of e.issues) {
      assert.equal(i.file, FILE);
      assert.ok(Number.isInteger(i.line) && i.line >= 1, `line of "${i.message}"`);
      assert.ok(Number.isInteger(i.col) && i.col >= 1, `column of "${i.message}"`);
      assert.ok(i.message.length > 0);
    }
    return "refused";
  }
}

const oddScalar = fc.oneof(
  fc.constantFrom(
    "~",
    "null",
    "-1",
    "0",
    "1e999",
    "NaN",
    ".inf",
    "''",
    '"\\u0000"',
    "[]",
    "{}",
    "&a",
    "*a",
    "!!binary AAAA",
    "65536",
    "0x10",
    "yes",
  ),
  fc.string({ maxLength: 12 }),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("dropLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("repeatLine" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("value" as const), at: fc.nat(), value: oddScalar }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(text: string, ms: Mutation[]): string {
  let s = text;
  for (const m of ms) {
    const lines = s.split("\n");
    switch (m.kind) {
      case "flip": {
        if (s.length === 0) break;
        const i = m.at % s.length;
        s = s.slice(0, i) + String.fromCharCode(m.byte) + s.slice(i + 1);
        break;
      }
      case "cut":
        s = s.slice(0, m.at % (s.length + 1));
        break;
      case "dropLine":
        lines.splice(m.at % lines.length, 1);
        s = lines.join("\n");
        break;
      case "repeatLine": {
        const i = m.at % lines.length;
        lines.splice(i, 0, lines[i]!);
        s = lines.join("\n");
        break;
      }
      case "value": {
        // The scalar after a `key: ` (on the line chosen) becomes an odd one.
        const i = m.at % lines.length;
        lines[i] = lines[i]!.replace(/(:\s+)([^\s{[,][^,}\]]*)/, (_all, sep: string) => `${sep}${m.value}`);
        s = lines.join("\n");
        break;
      }
    }
  }
  return s;
}

test("config loader: mutated example configs are accepted or refused with FILE:LINE:COL issues", () => {
  const seen = { accepted: 0, refused: 0 };
  fc.assert(
    fc.property(
      fc.constantFrom(...EXAMPLES),
      fc.array(mutation, { minLength: 1, maxLength: 4 }),
      (text, ms) => {
        seen[loadsOrRefusesClearly(mutate(text, ms))]++;
      },
    ),
    { seed: 18_001, numRuns: 600 },
  );
  assert.ok(seen.refused > 0 && seen.accepted > 0, `both outcomes were tried: ${JSON.stringify(seen)}`);
});

test("config loader: YAML made from arbitrary values is accepted or refused with FILE:LINE:COL issues", () => {
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
      loadsOrRefusesClearly(stringify(value));
    }),
    { seed: 18_002, numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (text) => {
      loadsOrRefusesClearly(text);
    }),
    { seed: 18_003, numRuns: 300 },
  );
});

// Found by the runs above (seeds 18001 and 18003): an alias to an anchor never set threw YAML's
// ReferenceError out of the loader, and so did a `${env:...}` value that reads as such an alias.
test("config loader regression: unresolved aliases and alias bombs are ConfigErrors at their line", () => {
  const refused = (text: string, env: NodeJS.ProcessEnv = {}): ConfigError => {
    try {
      parseConfig(text, FILE, env);
    } catch (e) {
      if (e instanceof ConfigError) return e;
      throw e;
    }
    throw new Error("accepted");
  };
  assert.match(refused("*!").message, /fuzzed\.yaml:1:1: YAML: Unresolved alias/);
  assert.match(refused("gateway:\n  id: *a\n").message, /fuzzed\.yaml:2:7: YAML: Unresolved alias/);
  const bomb = ["a: &a [1,1,1,1,1,1,1,1,1]"];
  for (const [x, y] of [
    ["b", "a"],
    ["c", "b"],
    ["d", "c"],
    ["e", "d"],
    ["f", "e"],
  ])
    bomb.push(`${x}: &${x} [${Array(9).fill(`*${y}`).join(",")}]`);
  assert.match(refused(bomb.join("\n")).message, /fuzzed\.yaml:2:\d+: YAML: Excessive alias count/);
  // A substituted value that is not a plain YAML value stays the text it is.
  assert.match(
    refused("gateway:\n  id: g\nhttp:\n  listen: ${env:P}\n", { P: "*x" }).message,
    /fuzzed\.yaml:4:11: http\.listen: expected HOST:PORT/,
  );
});
