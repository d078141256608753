// The comparison of a benchmark run with the kept results: pure functions, no timing.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  betterWhen,
  compareResults,
  comparedWithKept,
  formatComparison,
  incomparable,
  NOTABLE_PCT,
  parseResult,
} from "../../scripts/bench-compare.js";
import type { BenchResult, Figure, Machine } from "../../scripts/bench-kit.js";

const here: Machine = { cpu: "AMD EPYC", cores: 2, node: "v20.20.2", platform: "linux-x64" };

function run(figures: Figure[], extra: Partial<BenchResult> = {}): BenchResult {
  return {
    benchmark: "forward",
    quick: false,
    date: "2026-01-02T03:04:05.000Z",
    seconds: 60,
    machine: here,
    figures,
    ...extra,
  };
}

test("each figure gets its kept value and its change in %; better or worse only past 10%", () => {
  const kept = run([
    { name: "json encode", value: 343_000, unit: "readings/s", target: ">= 500,000" },
    { name: "drain", value: 200_000, unit: "readings/s" },
    { name: "p99", value: 40, unit: "ms" },
    { name: "bytes/reading", value: 100, unit: "B" },
    { name: "readings per transaction", value: 50, unit: "readings" },
  ]);
  const now = run([
    { name: "json encode", value: 686_000, unit: "readings/s", target: ">= 500,000" },
    { name: "drain", value: 190_000, unit: "readings/s" },
    { name: "p99", value: 48, unit: "ms" },
    { name: "bytes/reading", value: 80, unit: "B" },
    { name: "readings per transaction", value: 25, unit: "readings" },
  ]);
  const c = compareResults(now, kept);
  assert.deepEqual(c.machineDiffers, []);
  assert.deepEqual(c.gone, []);
  const by = new Map(c.figures.map((f) => [f.name, f]));
  assert.equal(by.get("json encode")!.previous, 343_000);
  assert.equal(by.get("json encode")!.changePct, 100);
  assert.equal(by.get("json encode")!.verdict, "better");
  assert.equal(by.get("drain")!.changePct, -5);
  assert.equal(by.get("drain")!.verdict, undefined, "5% is within the noise");
  assert.equal(by.get("p99")!.changePct, 20);
  assert.equal(by.get("p99")!.verdict, "worse");
  assert.equal(by.get("bytes/reading")!.verdict, "better");
  // No direction known for a count: the change is shown, not judged.
  assert.equal(by.get("readings per transaction")!.changePct, -50);
  assert.equal(by.get("readings per transaction")!.verdict, undefined);
});

test("a new figure, a figure no longer measured, a NaN kept as null, a kept zero", () => {
  const kept = run([
    { name: "old figure", value: 1, unit: "ms" },
    { name: "p50", value: null as unknown as number, unit: "ms" },
    { name: "errors", value: 0, unit: "devices" },
    { name: "zero stays zero", value: 0, unit: "devices" },
  ]);
  const now = run([
    { name: "new figure", value: 5, unit: "ms" },
    { name: "p50", value: 3, unit: "ms" },
    { name: "errors", value: 2, unit: "devices" },
    { name: "zero stays zero", value: 0, unit: "devices" },
  ]);
  const c = compareResults(now, kept);
  const by = new Map(c.figures.map((f) => [f.name, f]));
  assert.equal(by.get("new figure")!.previous, undefined);
  assert.equal(by.get("new figure")!.changePct, undefined);
  assert.ok(Number.isNaN(by.get("p50")!.previous));
  assert.equal(by.get("p50")!.changePct, undefined);
  assert.equal(by.get("errors")!.changePct, undefined, "no percentage of zero");
  assert.equal(by.get("zero stays zero")!.changePct, 0);
  assert.deepEqual(c.gone, ["old figure"]);
  const text = formatComparison(c, "bench-results/forward.json");
  assert.match(text, /^new figure +5\.00 ms +\(new\)/m);
  assert.match(text, /^p50 +3\.00 ms +NaN ms +n\/a/m);
  assert.match(text, /not measured in this run: old figure/);
});

test("ratios of both runs are carried; the table shows value, kept value, change and ratios", () => {
  const kept = run([
    {
      name: "json encode",
      value: 343_000,
      unit: "readings/s",
      peer: { name: "JSON.stringify", value: 1_000_000 },
      ratio: 0.343,
    },
  ]);
  const now = run([
    {
      name: "json encode",
      value: 1_200_000,
      unit: "readings/s",
      peer: { name: "JSON.stringify", value: 1_000_000 },
      ratio: 1.2,
    },
  ]);
  const c = compareResults(now, kept);
  assert.equal(c.figures[0]!.ratio, 1.2);
  assert.equal(c.figures[0]!.previousRatio, 0.343);
  const text = formatComparison(c, "bench-results/forward.json");
  assert.match(
    text,
    /^compared with bench-results\/forward\.json \(2026-01-02T03:04:05\.000Z; same machine kind: AMD EPYC, 2 cores, Node v20\.20\.2\)$/m,
  );
  assert.match(
    text,
    /^json encode +1,200,000 readings\/s +343,000 readings\/s +\+250% +better +1\.20x \(0\.34x\)$/m,
  );
  assert.doesNotMatch(text, /another machine/i);
});

test("a different CPU, core count or Node version is named in the comparison", () => {
  const kept = run([{ name: "x", value: 10, unit: "ms" }], {
    machine: { cpu: "Cortex-A72", cores: 4, node: "v20.11.0", platform: "linux-arm64" },
  });
  const c = compareResults(run([{ name: "x", value: 9, unit: "ms" }]), kept);
  assert.deepEqual(c.machineDiffers, [
    "cpu: Cortex-A72 -> AMD EPYC",
    "cores: 4 -> 2",
    "node: v20.11.0 -> v20.20.2",
    "platform: linux-arm64 -> linux-x64",
  ]);
  const text = formatComparison(c, "k.json");
  assert.match(
    text,
    /ANOTHER MACHINE \(cpu: Cortex-A72 -> AMD EPYC; cores: 4 -> 2; node: v20\.11\.0 -> v20\.20\.2;/,
  );
  assert.match(text, /the kept figures come from another machine/);
  assert.match(text, /^x +9\.00 ms +10\.0 ms +-10\.0% +better/m);
});

test("which way is better: the figure says, else its target, else its unit", () => {
  assert.equal(betterWhen({ unit: "readings", better: "higher" }), "higher");
  assert.equal(betterWhen({ unit: "readings/s", target: "<= 3" }), "lower");
  assert.equal(betterWhen({ unit: "x", target: ">= 0.5x" }), "higher");
  assert.equal(betterWhen({ unit: "msg/s" }), "higher");
  for (const unit of ["ms", "us", "s", "B", "KiB", "MiB", "% of one core"])
    assert.equal(betterWhen({ unit }), "lower", unit);
  assert.equal(betterWhen({ unit: "devices", target: "0" }), undefined);
  assert.equal(betterWhen({ unit: "requests" }), undefined);
});

test("a quick run is not compared with a full one, nor one benchmark with another", () => {
  assert.equal(incomparable(run([]), run([])), undefined);
  assert.match(incomparable(run([], { quick: true }), run([]))!, /from a full run, this is a --quick run/);
  assert.match(incomparable(run([]), run([], { benchmark: "mqtt" }))!, /of 'mqtt', not 'forward'/);
});

test("a kept file that is not a results file is refused with a reason", () => {
  assert.throws(() => parseResult("{"), SyntaxError);
  assert.throws(() => parseResult("[]"), /not a benchmark results file/);
  assert.throws(
    () => parseResult(JSON.stringify({ ...run([]), figures: [{ value: 1 }] })),
    /not a benchmark/,
  );
  const ok = run([{ name: "x", value: 1, unit: "ms" }]);
  assert.deepEqual(parseResult(JSON.stringify(ok)), ok);
});

test("the 10% band: inside it a change is shown but not judged, at its edge it is judged", () => {
  assert.equal(NOTABLE_PCT, 10);
  const kept = run([
    { name: "rate +10%", value: 1000, unit: "readings/s" },
    { name: "rate -10%", value: 1000, unit: "readings/s" },
    { name: "rate +9.9%", value: 1000, unit: "readings/s" },
    { name: "rate -9.9%", value: 1000, unit: "readings/s" },
    { name: "rate unchanged", value: 1000, unit: "readings/s" },
    { name: "time -10%", value: 1000, unit: "ms" },
    { name: "time +10%", value: 1000, unit: "ms" },
    { name: "time +9.9%", value: 1000, unit: "ms" },
    { name: "negative kept value", value: -200, unit: "ms" },
  ]);
  const now = run([
    { name: "rate +10%", value: 1100, unit: "readings/s" },
    { name: "rate -10%", value: 900, unit: "readings/s" },
    { name: "rate +9.9%", value: 1099, unit: "readings/s" },
    { name: "rate -9.9%", value: 901, unit: "readings/s" },
    { name: "rate unchanged", value: 1000, unit: "readings/s" },
    { name: "time -10%", value: 900, unit: "ms" },
    { name: "time +10%", value: 1100, unit: "ms" },
    { name: "time +9.9%", value: 1099, unit: "ms" },
    { name: "negative kept value", value: -100, unit: "ms" },
  ]);
  const by = new Map(compareResults(now, kept).figures.map((f) => [f.name, f]));
  const verdicts = Object.fromEntries([...by].map(([name, f]) => [name, f.verdict ?? "unchanged"]));
  assert.deepEqual(verdicts, {
    "rate +10%": "better",
    "rate -10%": "worse",
    "rate +9.9%": "unchanged",
    "rate -9.9%": "unchanged",
    "rate unchanged": "unchanged",
    "time -10%": "better",
    "time +10%": "worse",
    "time +9.9%": "unchanged",
    // -200 ms to -100 ms is up by half of |-200|: a larger time, so worse.
    "negative kept value": "worse",
  });
  assert.equal(by.get("rate unchanged")!.changePct, 0);
  assert.equal(by.get("negative kept value")!.changePct, 50);
  const text = formatComparison(compareResults(now, kept), "k.json");
  assert.match(text, /^rate unchanged +1,000 readings\/s +1,000 readings\/s +0\.0%$/m);
  assert.match(text, /^rate \+9\.9% +1,099 readings\/s +1,000 readings\/s +\+9\.9%$/m);
  assert.match(text, /^rate -10% +900\.0 readings\/s +1,000 readings\/s +-10\.0% +worse$/m);
});

test("the runner's line under a run: no kept file, a broken one, an incomparable one, a comparison", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "iggy-edge-bench-compare-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const now = run([{ name: "json encode", value: 600_000, unit: "readings/s" }]);
  const path = join(dir, "forward.json");

  assert.equal(
    comparedWithKept(now, path, "bench-results/forward.json"),
    "no kept results to compare with (bench-results/forward.json)",
  );

  writeFileSync(path, '{"benchmark": "forward", "figures": [');
  assert.match(comparedWithKept(now, path, "k.json"), /^kept results k\.json not compared: .*JSON/);
  writeFileSync(path, JSON.stringify({ benchmark: "forward" }));
  assert.equal(
    comparedWithKept(now, path, "k.json"),
    "kept results k.json not compared: not a benchmark results file (expected benchmark, quick, date, machine, figures)",
  );

  writeFileSync(path, JSON.stringify(run([], { quick: true })));
  assert.equal(
    comparedWithKept(now, path, "k.json"),
    "kept results k.json not compared: the kept results are from a --quick run, this is a full run",
  );

  writeFileSync(path, JSON.stringify(run([{ name: "json encode", value: 400_000, unit: "readings/s" }])));
  const text = comparedWithKept(now, path, "k.json");
  assert.match(text, /^compared with k\.json \(2026-01-02T03:04:05\.000Z; same machine kind/);
  assert.match(text, /^json encode +600,000 readings\/s +400,000 readings\/s +\+50\.0% +better$/m);
  // Without a printed name the path itself is shown.
  assert.match(comparedWithKept(now, join(dir, "none.json")), new RegExp(`\\(${dir}/none\\.json\\)$`));
});

test("an indented detail is compared with the same detail of the same figure, not with a namesake", () => {
  const kept = run([
    { name: "4 x 100 in flight", value: 20_000, unit: "msg/s" },
    { name: "  its readings per commit", value: 170, unit: "readings" },
    { name: "16 devices", value: 3_000, unit: "msg/s" },
    { name: "  its readings per commit", value: 16, unit: "readings" },
  ]);
  const now = run([
    { name: "4 x 100 in flight", value: 21_000, unit: "msg/s" },
    { name: "  its readings per commit", value: 160, unit: "readings" },
    { name: "16 devices", value: 3_100, unit: "msg/s" },
    { name: "  its readings per commit", value: 15, unit: "readings" },
  ]);
  const c = compareResults(now, kept);
  assert.deepEqual(
    c.figures.map((f) => f.previous),
    [20_000, 170, 3_000, 16],
  );
  assert.deepEqual(c.gone, []);
});
