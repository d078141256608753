import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/peers.js";

const runner = resolve(repoRoot, "dist/scripts/bench.js");

test("the bench runner runs a benchmark, prints a table and writes its JSON file", () => {
  const out = mkdtempSync(join(tmpdir(), "iggy-edge-bench-out-"));
  const r = spawnSync(process.execPath, [runner, "config", "--quick"], {
    env: { ...process.env, IGGY_EDGE_BENCH_OUT: out },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^figure +value +peer \(same run\) +ratio/m);
  const json = JSON.parse(readFileSync(join(out, "config.json"), "utf8")) as {
    benchmark: string;
    quick: boolean;
    machine: { cpu: string; cores: number; node: string };
    figures: {
      name: string;
      value: number;
      unit: string;
      peer?: { name: string; value: number };
      ratio?: number;
    }[];
  };
  assert.equal(json.benchmark, "config");
  assert.equal(json.quick, true);
  assert.ok(json.machine.cores >= 1 && json.machine.cpu.length > 0);
  assert.equal(json.machine.node, process.version);
  assert.ok(json.figures.length >= 1);
  for (const f of json.figures) {
    assert.equal(typeof f.name, "string");
    assert.ok(Number.isFinite(f.value) && f.value > 0, f.name);
    if (f.peer) assert.ok(Math.abs(f.ratio! - f.value / f.peer.value) < 1e-9);
  }
});

test("an unknown benchmark name is refused with the list of names", () => {
  const r = spawnSync(process.execPath, [runner, "nonsense"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no benchmark named 'nonsense' \(have: .*config/);
});
