// `npm run bench -- NAME [--quick]`: runs scripts/bench/NAME.ts, prints a table, writes
// bench-results/NAME.json (machine, date, figures). `npm run bench` alone lists the benchmarks.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machine, type Benchmark, type Figure } from "./bench-kit.js";

const benchDir = resolve(import.meta.dirname, "bench");
const resultsDir = process.env.IGGY_EDGE_BENCH_OUT ?? resolve(import.meta.dirname, "../../bench-results");

function available(): string[] {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith(".js"))
    .map((f) => f.slice(0, -3))
    .sort();
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString("en-US");
  if (abs >= 10) return n.toFixed(1);
  return n.toPrecision(3);
}

function table(figures: Figure[]): string {
  const rows = figures.map((f) => [
    f.name,
    `${fmt(f.value)} ${f.unit}`,
    f.peer ? `${f.peer.name}: ${fmt(f.peer.value)}` : "",
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

async function runOne(name: string, quick: boolean): Promise<void> {
  const mod = (await import(join(benchDir, `${name}.js`))) as { default: Benchmark };
  const tmp = mkdtempSync(join(tmpdir(), `iggy-edge-bench-${name}-`));
  const started = Date.now();
  console.error(`bench ${name}${quick ? " (quick)" : ""}: ${mod.default.description}`);
  try {
    const figures = await mod.default.run({ quick, tmpDir: tmp, log: (m) => console.error(`  ${m}`) });
    const result = {
      benchmark: name,
      quick,
      date: new Date(started).toISOString(),
      seconds: (Date.now() - started) / 1000,
      machine: machine(),
      figures,
    };
    mkdirSync(resultsDir, { recursive: true });
    const out = join(resultsDir, `${name}.json`);
    writeFileSync(out, JSON.stringify(result, null, 2) + "\n");
    console.log(`\n${name}\n${table(figures)}\n(${result.seconds.toFixed(1)} s; JSON: ${out})\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { quick: { type: "boolean", default: false } },
});
const names = available();
if (positionals.length === 0) {
  console.log(`usage: npm run bench -- NAME [--quick]   (NAME: ${names.join(", ")} or all)`);
  process.exit(2);
}
const chosen = positionals.includes("all") ? names : positionals;
for (const name of chosen) {
  if (!names.includes(name)) {
    console.error(`no benchmark named '${name}' (have: ${names.join(", ")})`);
    process.exit(2);
  }
}
for (const name of chosen) await runOne(name, values.quick ?? false);
