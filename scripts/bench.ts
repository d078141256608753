// `npm run bench -- NAME [--quick] [--save]`: runs scripts/bench/NAME.ts, prints a table, writes
// the run to bench-out/NAME.json (scratch, not kept) and compares it with the kept
// bench-results/NAME.json; `--save` makes this run the kept one. `npm run bench` alone lists the
// benchmarks. Nothing here fails on a figure: a benchmark fails only when it cannot run.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { comparedWithKept } from "./bench-compare.js";
import { formatNumber, machine, type BenchResult, type Benchmark, type Figure } from "./bench-kit.js";

const repo = resolve(import.meta.dirname, "../..");
// Elsewhere only for the runner's own tests (a benchmark that reports figures it is given).
const benchDir = process.env.IGGY_EDGE_BENCH_DIR ?? resolve(import.meta.dirname, "bench");
const scratchDir = process.env.IGGY_EDGE_BENCH_OUT ?? join(repo, "bench-out");
const keptDir = process.env.IGGY_EDGE_BENCH_KEPT ?? join(repo, "bench-results");

function available(): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${formatNumber(f.value)} ${f.unit}`,
    f.peer ? `${f.peer.name}: ${formatNumber(f.peer.value)}` : "",
    f.ratio !== undefined ? `${f.ratio.toFixed(2)}x` : "",
    f.target ?? "",
  ]);
  const head = ["figure", "value", "peer (same run)", "ratio", "target"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith("..") ? path : r;
}

async function runOne(name: string, quick: boolean, save: boolean): Promise<void> {
  const mod = (await import(join(benchDir, `${name}.js`))) as { default: Benchmark };
  const tmp = mkdtempSync(join(tmpdir(), `iggy-edge-bench-${name}-`));
  const started = Date.now();
  console.error(`bench ${name}${quick ? " (quick)" : ""}: ${mod.default.description}`);
  try {
    const figures = await mod.default.run({ quick, tmpDir: tmp, log: (m) => console.error(`  ${m}`) });
    const result: BenchResult = {
      benchmark: name,
      quick,
      date: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      machine: machine(),
      figures,
    };
    const json = JSON.stringify(result, null, 2) + "\n";
    mkdirSync(scratchDir, { recursive: true });
    const out = join(scratchDir, `${name}.json`);
    writeFileSync(out, json);
    console.log(`\n${name}\n${table(figures)}\n(${result.seconds.toFixed(1)} s; JSON: ${shown(out)})\n`);
    const keptPath = join(keptDir, `${name}.json`);
    console.log(`${comparedWithKept(result, keptPath, shown(keptPath))}\n`);
    if (save) {
      mkdirSync(keptDir, { recursive: true });
      writeFileSync(keptPath, json);
      console.log(`kept as ${shown(keptPath)} (commit it with the change it measures)\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { quick: { type: "boolean", default: false }, save: { type: "boolean", default: false } },
});
const names = available();
if (positionals.length === 0) {
  console.log(`usage: npm run bench -- NAME [--quick] [--save]   (NAME: ${names.join(", ")} or all)`);
  process.exit(2);
}
if (values.save && values.quick) {
  console.error("--save keeps full runs only: a --quick run's sizes are not the ones to compare with");
  process.exit(2);
}
const chosen = positionals.includes("all") ? names : positionals;
for (const name of chosen) {
  if (!names.includes(name)) {
    console.error(`no benchmark named '${name}' (have: ${names.join(", ")})`);
    process.exit(2);
  }
}
for (const name of chosen) await runOne(name, values.quick ?? false, values.save ?? false);
