// A run beside the results kept in the repository (bench-results/NAME.json): the change of every
// figure, and whether the two runs come from different machines. It only reports; a benchmark's
// timing never fails anything.
import { existsSync, readFileSync } from "node:fs";
import { formatNumber, type BenchResult, type Figure, type Machine } from "./bench-kit.js";

/** A change at least this large (in %) in a figure whose good direction is known is called out. */
export const NOTABLE_PCT = 10;

export interface FigureChange {
  name: string;
  unit: string;
  value: number;
  /** Absent for a figure the kept run did not have. */
  previous?: number;
  /** (value - previous) / |previous| in %; absent when either is missing or not finite, or previous is 0. */
  changePct?: number;
  ratio?: number;
  previousRatio?: number;
  /** Present when the change is at least NOTABLE_PCT and the figure says which way is better. */
  verdict?: "better" | "worse";
}

export interface Comparison {
  kept: { date: string; machine: Machine };
  /** What differs between the machines ("cpu: A -> B"), empty when it is the same kind of machine. */
  machineDiffers: string[];
  figures: FigureChange[];
  /** Figures of the kept run that this run did not produce. */
  gone: string[];
}

const TIME_OR_SIZE = new Set(["ns", "us", "µs", "ms", "s", "B", "KiB", "MiB", "GiB", "KB", "MB", "GB"]);

/** Which way a figure is better: said by the figure, else by its target, else by its unit. */
export function betterWhen(f: Pick<Figure, "better" | "target" | "unit">): "higher" | "lower" | undefined {
  if (f.better) return f.better;
  const t = f.target?.trim();
  if (t?.startsWith(">")) return "higher";
  if (t?.startsWith("<")) return "lower";
  if (f.unit.endsWith("/s")) return "higher";
  if (TIME_OR_SIZE.has(f.unit) || f.unit.startsWith("% of")) return "lower";
  return undefined;
}

/** Why two runs cannot be compared figure by figure, or undefined when they can. */
export function incomparable(current: BenchResult, kept: BenchResult): string | undefined {
  if (current.benchmark !== kept.benchmark)
    return `the kept results are of '${kept.benchmark}', not '${current.benchmark}'`;
  if (current.quick !== kept.quick)
    return `the kept results are from a ${kept.quick ? "--quick" : "full"} run, this is a ${current.quick ? "--quick" : "full"} run`;
  return undefined;
}

export function machineDifferences(now: Machine, then: Machine): string[] {
  const out: string[] = [];
  if (now.cpu !== then.cpu) out.push(`cpu: ${then.cpu} -> ${now.cpu}`);
  if (now.cores !== then.cores) out.push(`cores: ${then.cores} -> ${now.cores}`);
  if (now.node !== then.node) out.push(`node: ${then.node} -> ${now.node}`);
  if (now.platform !== then.platform) out.push(`platform: ${then.platform} -> ${now.platform}`);
  return out;
}

/** A results file read back; throws an Error saying what is wrong with it. */
export function parseResult(text: string): BenchResult {
  const o = JSON.parse(text) as Partial<BenchResult> | null;
  const m = o?.machine;
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.benchmark !== "string" ||
    typeof o.quick !== "boolean" ||
    typeof o.date !== "string" ||
    typeof m !== "object" ||
    m === null ||
    !Array.isArray(o.figures) ||
    !o.figures.every((f) => typeof f?.name === "string" && typeof f.unit === "string")
  ) {
    throw new Error("not a benchmark results file (expected benchmark, quick, date, machine, figures)");
  }
  return o as BenchResult;
}

/** JSON keeps NaN and the infinities as null. */
function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}

function changePct(value: number, previous: number | undefined): number | undefined {
  if (previous === undefined || !Number.isFinite(previous) || !Number.isFinite(value)) return undefined;
  if (previous === 0) return value === 0 ? 0 : undefined;
  return ((value - previous) / Math.abs(previous)) * 100;
}

/**
 * A figure's key: its name, and for an indented one ("  its readings per commit", a detail of the
 * figure above it) the name of the top-level figure it belongs to, since several have such details.
 */
function figureKeys(figures: Figure[]): string[] {
  let parent = "";
  return figures.map((f) => {
    if (!f.name.startsWith(" ")) {
      parent = f.name;
      return f.name;
    }
    return `${parent}\u0000${f.name}`;
  });
}

export function compareResults(current: BenchResult, kept: BenchResult): Comparison {
  const before = new Map<string, Figure>();
  const keptKeys = figureKeys(kept.figures);
  kept.figures.forEach((f, i) => before.set(keptKeys[i]!, f));
  const currentKeys = figureKeys(current.figures);
  const figures = current.figures.map((f, i): FigureChange => {
    const k = before.get(currentKeys[i]!);
    const previous = k ? (num(k.value) ?? NaN) : undefined;
    const row: FigureChange = { name: f.name, unit: f.unit, value: f.value };
    if (previous !== undefined) row.previous = previous;
    const pct = changePct(f.value, previous);
    if (pct !== undefined) row.changePct = pct;
    if (f.ratio !== undefined) row.ratio = f.ratio;
    const keptRatio = num(k?.ratio);
    if (keptRatio !== undefined) row.previousRatio = keptRatio;
    const dir = betterWhen(f);
    if (pct !== undefined && dir && Math.abs(pct) >= NOTABLE_PCT)
      row.verdict = pct > 0 === (dir === "higher") ? "better" : "worse";
    return row;
  });
  const now = new Set(currentKeys);
  return {
    kept: { date: kept.date, machine: kept.machine },
    machineDiffers: machineDifferences(current.machine, kept.machine),
    figures,
    gone: kept.figures.filter((_, i) => !now.has(keptKeys[i]!)).map((f) => f.name),
  };
}

function pct(p: number | undefined): string {
  if (p === undefined) return "n/a";
  const s = Math.abs(p) >= 100 ? Math.round(p).toString() : p.toFixed(1);
  return p > 0 ? `+${s}%` : `${s}%`;
}

/** The comparison as text: a line on the kept run and its machine, a table, what was not measured. */
export function formatComparison(c: Comparison, keptPath: string): string {
  const m = c.kept.machine;
  const where = c.machineDiffers.length
    ? `ANOTHER MACHINE (${c.machineDiffers.join("; ")})`
    : `same machine kind: ${m.cpu}, ${m.cores} cores, Node ${m.node}`;
  const rows = c.figures.map((f) => [
    f.name,
    `${formatNumber(f.value)} ${f.unit}`,
    f.previous === undefined ? "(new)" : `${formatNumber(f.previous)} ${f.unit}`,
    f.previous === undefined ? "" : pct(f.changePct),
    f.verdict ?? "",
    f.ratio === undefined && f.previousRatio === undefined
      ? ""
      : `${f.ratio === undefined ? "-" : `${f.ratio.toFixed(2)}x`} (${f.previousRatio === undefined ? "-" : `${f.previousRatio.toFixed(2)}x`})`,
  ]);
  const head = ["figure", "value", "kept", "change", "", "ratio (kept)"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const out = [
    `compared with ${keptPath} (${c.kept.date}; ${where})`,
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  if (c.gone.length) out.push(`not measured in this run: ${c.gone.join(", ")}`);
  if (c.machineDiffers.length)
    out.push("the kept figures come from another machine: the changes say little about the code");
  return out.join("\n");
}

/**
 * What the runner prints under a run: the comparison with the kept results at `keptPath`, or one
 * line saying why there is none (no kept file, a file that is not a results file, a kept run of
 * another benchmark or size). `shown` is the path as printed.
 */
export function comparedWithKept(current: BenchResult, keptPath: string, shown = keptPath): string {
  if (!existsSync(keptPath)) return `no kept results to compare with (${shown})`;
  let kept: BenchResult;
  try {
    kept = parseResult(readFileSync(keptPath, "utf8"));
  } catch (e) {
    return `kept results ${shown} not compared: ${(e as Error).message}`;
  }
  const why = incomparable(current, kept);
  if (why) return `kept results ${shown} not compared: ${why}`;
  return formatComparison(compareResults(current, kept), shown);
}
