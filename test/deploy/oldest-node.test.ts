// The armhf package runs Node 20.11.0 (the last the npm registry has for armv7l), which cannot
// require() an ES module; Node 20.19 and later can. A CommonJS dependency that requires an ES-only
// one loads here and fails on a Pi with 32-bit Raspberry Pi OS (hexy 0.4.0 under node-opcua-debug
// did: package.json's overrides pin 0.3.5). This Node, started with require(esm) turned off, loads
// every protocol's code and the runtime as that Node would.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { killAtEnd } from "../helpers/cleanup.js";

const dist = resolve(import.meta.dirname, "../..");
const ENTRIES = ["adapter.js", "plugin.js", "simulator.js", "browse.js"];

function modulesToLoad(): string[] {
  const protocols = join(dist, "protocols");
  const files = [join(dist, "gateway/runtime.js"), join(dist, "gateway/cli/opcua-trust.js")];
  for (const name of readdirSync(protocols, { withFileTypes: true })) {
    if (!name.isDirectory()) continue;
    for (const entry of ENTRIES) {
      const file = join(protocols, name.name, entry);
      if (existsSync(file)) files.push(file);
    }
  }
  return files;
}

test(
  "every protocol's code loads on a Node without require(esm), as the armhf package's",
  { timeout: 120_000 },
  async (t) => {
    const files = modulesToLoad();
    assert.ok(files.length >= 10, `modules found: ${files.join(", ")}`);
    const script = `for (const f of ${JSON.stringify(files)}) await import(f); console.log("loaded");`;
    const child = spawn(
      process.execPath,
      ["--no-experimental-require-module", "--input-type=module", "-e", script],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    killAtEnd(t, child);
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const [code] = (await once(child, "exit")) as [number | null];
    assert.equal(code, 0, `a module did not load without require(esm):\n${err}`);
    assert.match(out, /loaded/);
    assert.doesNotMatch(err, /ERR_REQUIRE_ESM/);
  },
);
