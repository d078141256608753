// `npm run plots`: draws the kept benchmark results (bench-results/*.json) and the newest soak drill
// (drill-results/) as SVG charts into bench-results/plots/, which the README shows. A chart whose data
// does not exist yet is skipped with a note; a figure the lists in scripts/plots/figures.ts name but a
// kept file lacks is an error (exit 1) after the other charts are drawn.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type { TopLevelSpec } from "vega-lite";
import type { DrillRun } from "./drill.js";
import { checkSoakSeries, latencySpec, soakSpec, throughputSpec, type SoakMarks } from "./plots/charts.js";
import {
  COMMAND_LATENCY,
  KeptResults,
  LATENCY,
  THROUGHPUT,
  pickLatency,
  pickThroughput,
} from "./plots/figures.js";
import { toSvg } from "./plots/svg.js";

const repo = resolve(import.meta.dirname, "../..");
const keptDir = process.env.IGGY_EDGE_BENCH_KEPT ?? join(repo, "bench-results");
const drillDir = process.env.IGGY_EDGE_DRILL_OUT ?? join(repo, "drill-results");
const outDir = process.env.IGGY_EDGE_PLOTS_OUT ?? join(keptDir, "plots");

function shown(path: string): string {
  const r = relative(process.cwd(), path);
  return r.startsWith("..") ? path : r;
}

async function draw(file: string, spec: TopLevelSpec): Promise<void> {
  const path = join(outDir, file);
  writeFileSync(path, await toSvg(spec));
  console.log(`drew ${shown(path)}`);
}

/** The newest drill run (by its date) that has a soak with a series, or null. */
function newestSoak(): DrillRun | null {
  if (!existsSync(drillDir)) return null;
  const runs = readdirSync(drillDir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => JSON.parse(readFileSync(join(drillDir, f), "utf8")) as DrillRun)
    .filter(hasSeries)
    .sort((a, b) => b.date.localeCompare(a.date));
  return runs[0] ?? null;
}

/** The soak drill's series: top level of its result (`series`), or under `details`. */
function soakSeriesOf(run: DrillRun): unknown {
  const soak = run.drills.soak as unknown as { series?: unknown; details?: { series?: unknown } };
  return soak.series ?? soak.details?.series;
}

/** Where the load stopped and the buffer was drained, as indexes into the series, when recorded. */
function soakMarksOf(run: DrillRun): SoakMarks {
  const soak = run.drills.soak as unknown as { details?: { marks?: Record<string, unknown> } };
  const m = soak.details?.marks ?? {};
  const index = (v: unknown) => (typeof v === "number" && Number.isInteger(v) ? v : undefined);
  const out: SoakMarks = {};
  if (index(m.load_end) !== undefined) out.load_end = index(m.load_end)!;
  if (index(m.drained) !== undefined) out.drained = index(m.drained)!;
  return out;
}

function hasSeries(run: DrillRun): boolean {
  return run.drills?.soak !== undefined && soakSeriesOf(run) !== undefined;
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const kept = new KeptResults(keptDir);

  const tp = pickThroughput(kept, THROUGHPUT);
  if (tp.rows.length) await draw("throughput.svg", throughputSpec(tp.rows, tp.sources));
  else console.log("throughput.svg: no kept throughput figure yet, not drawn");

  const lat = pickLatency(kept, LATENCY);
  if (lat.points.length)
    await draw(
      "latency.svg",
      latencySpec("End-to-end latency of a reading (percentiles of the run)", lat.points, lat.sources),
    );
  else console.log("latency.svg: no kept latency figure yet, not drawn");

  if (COMMAND_LATENCY.every((s) => kept.result(s.bench) === null))
    console.log(
      `commands-latency.svg: ${shown(join(keptDir, "commands.json"))} does not exist yet, not drawn`,
    );
  else {
    const cmd = pickLatency(kept, COMMAND_LATENCY);
    if (cmd.points.length)
      await draw(
        "commands-latency.svg",
        latencySpec(
          "Command latency: command -> device write -> result (percentiles of the run)",
          cmd.points,
          cmd.sources,
        ),
      );
  }

  const soakRun = newestSoak();
  if (!soakRun) console.log(`soak.svg: no soak drill with a series in ${shown(drillDir)}, not drawn`);
  else
    await draw(
      "soak.svg",
      soakSpec(
        checkSoakSeries(soakSeriesOf(soakRun)),
        {
          command: soakRun.command,
          date: soakRun.date,
          machine: soakRun.machine,
        },
        soakMarksOf(soakRun),
      ),
    );

  for (const m of kept.missing) console.error(`ERROR: ${m}`);
  if (kept.missing.length) {
    console.error("the figure lists in scripts/plots/figures.ts and the kept results disagree");
    process.exitCode = 1;
  }
}

await main();
