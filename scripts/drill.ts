// `npm run drill -- [NAME...] [--short] [--seed N] [--rounds N] [--outages N]`: runs the reliability
// drills of scripts/drill/ (all when no NAME is given), prints what each did and found, and writes
// the run's JSON summary to drill-results/drill-<time>.json (and drill-results/latest.json). Exit 1
// when a drill found a lost or doubled reading or a crash; a drill whose peer is missing is reported as
// skipped (under CI=true a missing peer is a failure).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { machine } from "./bench-kit.js";
import { DrillContext, type Drill, type DrillResult } from "./drill/kit.js";

const repo = resolve(import.meta.dirname, "../..");
const resultsDir = process.env.IGGY_EDGE_DRILL_OUT ?? join(repo, "drill-results");

/** In the order they run. */
const DRILLS = ["kill9", "iggy-away", "soak", "disk"] as const;

export interface DrillRun {
  date: string;
  short: boolean;
  seed: number;
  machine: ReturnType<typeof machine>;
  command: string;
  drills: Record<string, DrillResult & { description: string; seconds: number; error?: string }>;
  ok: boolean;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      short: { type: "boolean", default: false },
      seed: { type: "string" },
      rounds: { type: "string" },
      outages: { type: "string" },
    },
  });
  const names = positionals.length ? positionals : [...DRILLS];
  for (const n of names)
    if (!(DRILLS as readonly string[]).includes(n))
      throw new Error(`no drill named ${n} (have: ${DRILLS.join(", ")})`);
  const seed = values.seed !== undefined ? Number(values.seed) >>> 0 : Date.now() >>> 0 || 1;
  const run: DrillRun = {
    date: new Date().toISOString(),
    short: values.short!,
    seed,
    machine: machine(),
    command: `npm run drill -- ${process.argv.slice(2).join(" ")}`.trim(),
    drills: {},
    ok: true,
  };
  mkdirSync(resultsDir, { recursive: true });
  for (const name of names) {
    const mod = (await import(`./drill/${name}.js`)) as { default: Drill };
    const drill = mod.default;
    console.log(`drill ${name}${run.short ? " (short)" : ""}: ${drill.description}`);
    const tmp = mkdtempSync(join(tmpdir(), `iggy-edge-drill-${name}-`));
    const ctx = new DrillContext();
    const started = Date.now();
    let result: DrillResult & { description: string; seconds: number; error?: string };
    try {
      const r = await drill.run(
        {
          short: run.short,
          seed,
          tmpDir: tmp,
          outDir: resultsDir,
          log: (m) => console.log(`  ${m}`),
          ...(values.rounds ? { rounds: Number(values.rounds) } : {}),
          ...(values.outages ? { outages: Number(values.outages) } : {}),
        } as Parameters<Drill["run"]>[0],
        ctx,
      );
      result = { ...r, description: drill.description, seconds: (Date.now() - started) / 1000 };
    } catch (e) {
      result = {
        ok: false,
        figures: {},
        findings: [`the drill could not run: ${(e as Error).message}`],
        description: drill.description,
        seconds: (Date.now() - started) / 1000,
        error: (e as Error).stack ?? String(e),
      };
    } finally {
      await ctx.close();
      rmSync(tmp, { recursive: true, force: true });
    }
    run.drills[name] = result;
    run.ok &&= result.ok;
    if (result.skipped) console.log(`  skipped: ${result.skipped}`);
    const figures = Object.entries(result.figures).map(([k, v]) => `${k} ${v}`);
    if (figures.length) console.log(`  found: ${figures.join(", ")}`);
    for (const f of result.findings) console.log(`  FINDING: ${f}`);
    console.log(
      `  ${result.ok ? (result.skipped ? "skipped" : "ok") : "FAILED"} in ${result.seconds.toFixed(0)} s`,
    );
  }
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `drill-${run.date.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(resultsDir, "latest.json"), `${JSON.stringify(run, null, 2)}\n`);
  console.log(`summary: ${file} (seed ${seed}: replay with --seed ${seed})`);
  process.exitCode = run.ok ? 0 : 1;
}

await main();
