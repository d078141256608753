// Each file in config/broken/ starts with `# expect: LINE:COL: message` lines: exactly what
// `iggy-edge check` must print for it, after the file name.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { repoRoot } from "../helpers/peers.js";

const dir = join(repoRoot, "config/broken");
const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

test("there are broken configs for each kind of mistake the issue names", () => {
  for (const name of [
    "unknown-key.yaml",
    "wrong-type.yaml",
    "duplicate-device.yaml",
    "duplicate-point.yaml",
    "write-range.yaml",
    "port-range.yaml",
    "env-unset.yaml",
    "file-missing.yaml",
  ]) {
    assert.ok(files.includes(name), name);
  }
});

for (const name of files) {
  test(`iggy-edge check rejects config/broken/${name} at the expected line and column`, () => {
    const expected = readFileSync(join(dir, name), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("# expect: "))
      .map((l) => `config/broken/${name}:${l.slice("# expect: ".length)}`.replace("<repo>", repoRoot));
    assert.ok(expected.length > 0, "the file states what check must print");
    const r = runCli(["check", "-c", `config/broken/${name}`], { IGGY_EDGE_TEST_SURELY_UNSET: undefined });
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.trimEnd().split("\n"), expected);
  });
}

test("check reports every file it was given and fails if any is broken", () => {
  const r = runCli(["check", "config/examples/demo.yaml", "config/broken/port-range.yaml"]);
  assert.equal(r.code, 1);
  const lines = r.stdout.trimEnd().split("\n");
  assert.match(lines[0]!, /^config\/examples\/demo\.yaml: OK/);
  assert.match(lines[1]!, /^config\/broken\/port-range\.yaml:8:13: /);
});

test("a file that does not exist is a clear error, not a stack trace", () => {
  const r = runCli(["check", "-c", "config/no-such-file.yaml"]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout.trim(), "config/no-such-file.yaml:1:1: cannot read the config file (ENOENT)");
  assert.equal(r.stderr, "");
});
