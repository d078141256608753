// The charts, as Vega-Lite specs: throughput beside each peer, latency percentiles, the soak's series.
import type { TopLevelSpec } from "vega-lite";
import { formatNumber } from "../bench-kit.js";
import type { LatencyPoint, Source, ThroughputRow } from "./figures.js";
import { captionLines } from "./svg.js";

const OURS = "iggy-edge";
const PEER = "peer, same run";
const COLORS = { ours: "#1f77b4", peer: "#aaaaaa" };
// A label limit of 0: no label is cut short ("raw client send of the same bat...").
const CONFIG = {
  font: "sans-serif",
  view: { stroke: null },
  background: "white",
  legend: { labelLimit: 0 },
} as const;

function title(text: string, sources: readonly Source[]) {
  return {
    text,
    subtitle: captionLines(sources),
    anchor: "start" as const,
    subtitleFontSize: 10,
    offset: 12,
  };
}

/** One panel per protocol, each on its own axis in its own unit: iggy-edge's bar above its peer's. */
export function throughputSpec(rows: readonly ThroughputRow[], sources: readonly Source[]): TopLevelSpec {
  if (rows.length === 0) throw new Error("throughput chart: no figures to draw");
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: title("Throughput of each protocol beside its peer, measured in the same run", sources),
    config: CONFIG,
    vconcat: rows.map((r) => {
      const max = Math.max(r.value, r.peerValue);
      return {
        title: {
          text: `${r.label}: ${(r.value / r.peerValue).toFixed(2)}x its peer`,
          anchor: "start" as const,
          fontSize: 12,
        },
        width: 460,
        height: 44,
        data: {
          values: [
            { who: OURS, role: OURS, value: r.value, text: `${formatNumber(r.value)} ${r.unit}` },
            {
              who: r.peerName,
              role: PEER,
              value: r.peerValue,
              text: `${formatNumber(r.peerValue)} ${r.unit}`,
            },
          ],
        },
        encoding: {
          y: { field: "who", type: "nominal" as const, sort: null, title: null, axis: { labelLimit: 0 } },
          x: {
            field: "value",
            type: "quantitative" as const,
            title: `throughput (${r.unit})`,
            scale: { domain: [0, max * 1.35], nice: false },
            axis: { format: ",.0f", tickCount: 5 },
          },
        },
        layer: [
          {
            mark: { type: "bar" as const },
            encoding: {
              color: {
                field: "role",
                type: "nominal" as const,
                scale: { domain: [OURS, PEER], range: [COLORS.ours, COLORS.peer] },
                legend: { title: null, orient: "top" as const },
              },
            },
          },
          {
            mark: { type: "text" as const, align: "left" as const, dx: 4, fontSize: 10 },
            encoding: { text: { field: "text", type: "nominal" as const } },
          },
        ],
      };
    }),
  };
}

const PERCENTILES = ["p50", "p90", "p99", "max"];

/** Bars of the percentiles a benchmark kept (it keeps no histogram), grouped by percentile. */
export function latencySpec(
  heading: string,
  points: readonly LatencyPoint[],
  sources: readonly Source[],
): TopLevelSpec {
  if (points.length === 0) throw new Error("latency chart: no figures to draw");
  const order = PERCENTILES.filter((p) => points.some((x) => x.percentile === p));
  const series = [...new Set(points.map((p) => p.series))];
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: title(heading, sources),
    config: CONFIG,
    width: Math.max(240, order.length * series.length * 70),
    height: 260,
    data: { values: points.map((p) => ({ ...p, text: `${formatNumber(p.ms)} ms` })) },
    encoding: {
      x: {
        field: "percentile",
        type: "nominal" as const,
        sort: order,
        title: "percentile of the measured samples",
        axis: { labelAngle: 0 },
      },
      xOffset: { field: "series", type: "nominal" as const, sort: series },
      y: { field: "ms", type: "quantitative" as const, title: "latency (ms)" },
    },
    layer: [
      {
        mark: { type: "bar" as const },
        encoding: {
          color: {
            field: "series",
            type: "nominal" as const,
            sort: series,
            legend: { title: null, orient: "bottom" as const, direction: "vertical" as const },
          },
        },
      },
      {
        mark: { type: "text" as const, dy: -5, fontSize: 10 },
        encoding: { text: { field: "text", type: "nominal" as const } },
      },
    ],
  };
}

/** What the soak drill samples (drill-results/latest.json -> drills.soak.series). */
export interface SoakSeries {
  t_s: number[];
  rss_mib: number[];
  fds: number[];
  db_bytes: number[];
  wal_bytes: number[];
  depth: number[];
}

const SOAK_KEYS = ["t_s", "rss_mib", "fds", "db_bytes", "wal_bytes", "depth"] as const;

/** The series as the soak wrote it, or an error naming what is wrong with it. */
export function checkSoakSeries(s: unknown): SoakSeries {
  if (typeof s !== "object" || s === null) throw new Error("soak series: not an object");
  const o = s as Record<string, unknown>;
  let n = -1;
  for (const k of SOAK_KEYS) {
    const a = o[k];
    if (!Array.isArray(a) || !a.every((v) => typeof v === "number" && Number.isFinite(v)))
      throw new Error(`soak series: ${k} is not an array of finite numbers`);
    if (n >= 0 && a.length !== n) throw new Error(`soak series: ${k} has ${a.length} samples, t_s has ${n}`);
    n = a.length;
  }
  if (n < 2) throw new Error(`soak series: ${n} samples, a line needs two`);
  return o as unknown as SoakSeries;
}

const MIB = 1024 * 1024;

/** Indexes into the series where the soak's phases changed (drills.soak.details.marks). */
export interface SoakMarks {
  load_end?: number;
  drained?: number;
}

const MARK_TEXT: Record<keyof SoakMarks, string> = { load_end: "load stopped", drained: "buffer drained" };

/** Four panels over the same time axis: RSS, open fds, the buffer's files, the buffer's depth. */
export function soakSpec(series: SoakSeries, source: Source, marks: SoakMarks = {}): TopLevelSpec {
  const s = checkSoakSeries(series);
  const rows = s.t_s.flatMap((t, i) => [
    { t, panel: "rss", line: "RSS", value: s.rss_mib[i]! },
    { t, panel: "fds", line: "open file descriptors", value: s.fds[i]! },
    { t, panel: "files", line: "database file", value: s.db_bytes[i]! / MIB },
    { t, panel: "files", line: "WAL file", value: s.wal_bytes[i]! / MIB },
    { t, panel: "depth", line: "readings waiting", value: s.depth[i]! },
  ]);
  const rules = (Object.keys(MARK_TEXT) as (keyof SoakMarks)[])
    .filter((k) => Number.isInteger(marks[k]) && s.t_s[marks[k]!] !== undefined)
    .map((k) => ({ t: s.t_s[marks[k]!]!, what: MARK_TEXT[k] }));
  const x = { field: "t", type: "quantitative" as const, title: "time since the soak started (s)" };
  const ruleLayers = rules.length
    ? [
        {
          data: { values: rules },
          mark: { type: "rule" as const, color: "#666666", strokeDash: [4, 3] },
          encoding: { x },
        },
        {
          data: { values: rules },
          mark: {
            type: "text" as const,
            align: "left" as const,
            baseline: "top" as const,
            dx: 3,
            y: 2,
            fontSize: 9,
          },
          encoding: { x, text: { field: "what", type: "nominal" as const } },
        },
      ]
    : [];
  const panel = (key: string, heading: string, yTitle: string, color: string[]) => ({
    title: { text: heading, anchor: "start" as const, fontSize: 12 },
    width: 520,
    height: 125,
    layer: [
      {
        transform: [{ filter: { field: "panel", equal: key } }],
        mark: { type: "line" as const, point: s.t_s.length <= 60 },
        encoding: {
          x,
          y: { field: "value", type: "quantitative" as const, title: yTitle },
          color: {
            field: "line",
            type: "nominal" as const,
            scale: { range: color },
            legend: { title: null, orient: "right" as const },
          },
        },
      },
      ...ruleLayers,
    ],
  });
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: title("Soak: memory, file descriptors and the buffer over the run", [source]),
    config: CONFIG,
    data: { values: rows },
    resolve: { scale: { color: "independent" } },
    vconcat: [
      panel("rss", "Gateway RSS", "RSS (MiB)", ["#1f77b4"]),
      panel("fds", "Gateway open file descriptors", "open fds (count)", ["#ff7f0e"]),
      panel("files", "Buffer files on disk", "size (MiB)", ["#2ca02c", "#9467bd"]),
      panel("depth", "Buffer depth", "waiting (readings)", ["#d62728"]),
    ],
  };
}
