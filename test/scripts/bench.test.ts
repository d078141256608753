import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../helpers/peers.js";

const runner = resolve(repoRoot, "dist/scripts/bench.js");

test("the bench runner runs a benchmark, prints a table, writes its JSON file and compares it with the kept one", (t) => {
  const out = mkdtempSync(join(tmpdir(), "iggy-edge-bench-out-"));
  const kept = mkdtempSync(join(tmpdir(), "iggy-edge-bench-kept-"));
  t.after(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(kept, { recursive: true, force: true });
  });
  // A kept quick run from another machine, with one figure this run no longer has.
  writeFileSync(
    join(kept, "config.json"),
    JSON.stringify({
      benchmark: "config",
      quick: true,
      date: "2026-01-01T00:00:00.000Z",
      seconds: 1,
      machine: { cpu: "Cortex-A72", cores: 4, node: "v20.0.0", platform: "linux-arm64" },
      figures: [
        { name: "load+validate per point", value: 1e6, unit: "us" },
        { name: "a figure since removed", value: 1, unit: "ms" },
      ],
    }),
  );
  const r = spawnSync(process.execPath, [runner, "config", "--quick"], {
    env: { ...process.env, IGGY_EDGE_BENCH_OUT: out, IGGY_EDGE_BENCH_KEPT: kept },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^figure +value +peer \(same run\) +ratio/m);
  assert.match(
    r.stdout,
    /^compared with .*config\.json \(2026-01-01T00:00:00\.000Z; ANOTHER MACHINE \(cpu: Cortex-A72 -> /m,
  );
  // A million microseconds per point before: this run is faster, by nearly 100%.
  assert.match(r.stdout, /^load\+validate per point +[\d.,]+ us +1,000,000 us +-\d+(\.\d)?% +better/m);
  assert.match(r.stdout, /^load\+validate 2000 points .* \(new\)/m);
  assert.match(r.stdout, /not measured in this run: a figure since removed/);
  // The kept file is left as it was: only --save replaces it.
  assert.match(readFileSync(join(kept, "config.json"), "utf8"), /Cortex-A72/);
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

test("a quick run is compared only with a kept quick run, and never kept", (t) => {
  const out = mkdtempSync(join(tmpdir(), "iggy-edge-bench-out-"));
  const kept = mkdtempSync(join(tmpdir(), "iggy-edge-bench-kept-"));
  t.after(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(kept, { recursive: true, force: true });
  });
  const full = { benchmark: "config", quick: false, date: "2026-01-01T00:00:00.000Z", seconds: 1 };
  writeFileSync(
    join(kept, "config.json"),
    JSON.stringify({ ...full, machine: { cpu: "x", cores: 1, node: "v20.0.0", platform: "p" }, figures: [] }),
  );
  const env = { ...process.env, IGGY_EDGE_BENCH_OUT: out, IGGY_EDGE_BENCH_KEPT: kept };
  const r = spawnSync(process.execPath, [runner, "config", "--quick"], {
    env,
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /not compared: the kept results are from a full run, this is a --quick run/);
  const save = spawnSync(process.execPath, [runner, "config", "--quick", "--save"], {
    env,
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(save.status, 2);
  assert.match(save.stderr, /--save keeps full runs only/);
});

test("--save keeps a full run as the kept file; later runs are compared with it and leave it alone", (t) => {
  const out = mkdtempSync(join(tmpdir(), "iggy-edge-bench-out-"));
  const kept = mkdtempSync(join(tmpdir(), "iggy-edge-bench-kept-"));
  t.after(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(kept, { recursive: true, force: true });
  });
  const bench = (figures: object[], ...args: string[]) => {
    const r = spawnSync(process.execPath, [runner, "steady", ...args], {
      env: {
        ...process.env,
        IGGY_EDGE_BENCH_DIR: resolve(repoRoot, "dist/test/scripts/fixtures/bench"),
        IGGY_EDGE_BENCH_OUT: out,
        IGGY_EDGE_BENCH_KEPT: kept,
        IGGY_EDGE_TEST_FIGURES: JSON.stringify(figures),
      },
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const keptFile = join(kept, "steady.json");
  const first = [
    { name: "encode", value: 400_000, unit: "readings/s", target: ">= 500,000" },
    { name: "p99", value: 20, unit: "ms" },
  ];
  const saved = bench(first, "--save");
  assert.match(saved, /no kept results to compare with \(.*steady\.json\)/);
  assert.match(saved, /kept as .*steady\.json \(commit it with the change it measures\)/);
  assert.equal(readFileSync(keptFile, "utf8"), readFileSync(join(out, "steady.json"), "utf8"));
  const keptRun = JSON.parse(readFileSync(keptFile, "utf8")) as { quick: boolean; figures: unknown };
  assert.equal(keptRun.quick, false);
  assert.deepEqual(keptRun.figures, first);

  // The next run, faster and slower: compared with the kept one, which stays as it was.
  const second = [
    { name: "encode", value: 520_000, unit: "readings/s", target: ">= 500,000" },
    { name: "p99", value: 21, unit: "ms" },
  ];
  const compared = bench(second);
  assert.match(compared, /^compared with .*steady\.json \(\d{4}-\d\d-\d\dT[^;]+; same machine kind: /m);
  assert.match(compared, /^encode +520,000 readings\/s +400,000 readings\/s +\+30\.0% +better$/m);
  assert.match(compared, /^p99 +21\.0 ms +20\.0 ms +\+5\.0%$/m);
  assert.doesNotMatch(compared, /kept as/);
  assert.deepEqual((JSON.parse(readFileSync(keptFile, "utf8")) as { figures: unknown }).figures, first);

  // Saving again replaces it; the comparison printed is still with the run kept before.
  const resaved = bench(second, "--save");
  assert.match(resaved, /^encode +520,000 readings\/s +400,000 readings\/s +\+30\.0% +better$/m);
  assert.deepEqual((JSON.parse(readFileSync(keptFile, "utf8")) as { figures: unknown }).figures, second);
});

test("an unknown benchmark name is refused with the list of names", () => {
  const r = spawnSync(process.execPath, [runner, "nonsense"], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /no benchmark named 'nonsense' \(have: .*config/);
});
