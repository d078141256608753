// The Iggy client and the gateway runtime load no dev-server code: the server side of each wire
// generation lives in gateway/iggy/dev-server/ and shares only layouts with the client.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/peers.js";

const dist = resolve(repoRoot, "dist");

/** Every module a built entry loads through relative static imports and re-exports. */
function importGraph(...entries: string[]): string[] {
  const seen = new Set<string>();
  const stack = entries.map((e) => resolve(dist, e));
  while (stack.length > 0) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(/(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\(\s*"(\.[^"]+)"\s*\)/g))
      stack.push(resolve(dirname(file), m[1] ?? m[2]!));
  }
  return [...seen].map((f) => relative(dist, f)).sort();
}

test("the Iggy client and the runtime import no dev-server code", { timeout: 30_000 }, () => {
  const graph = importGraph("gateway/iggy/index.js", "gateway/runtime.js");
  assert.ok(graph.includes("gateway/iggy/client.js"), "the walk follows imports");
  assert.ok(graph.includes("gateway/iggy/wire/v0_10/layouts.js"), "layouts are shared");
  assert.deepEqual(
    graph.filter((f) => f.includes("dev-server")),
    [],
  );
  for (const f of graph) {
    const src = readFileSync(resolve(dist, f), "utf8");
    assert.doesNotMatch(src, /serverWire|ServerSession|DetectingServerSession/, f);
  }
});
