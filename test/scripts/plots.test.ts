import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import type { BenchResult } from "../../scripts/bench-kit.js";
import { checkSoakSeries, latencySpec, soakSpec, throughputSpec } from "../../scripts/plots/charts.js";
import { COMMAND_LATENCY, LATENCY, THROUGHPUT, type Source } from "../../scripts/plots/figures.js";
import { toSvg } from "../../scripts/plots/svg.js";
import { repoRoot } from "../helpers/peers.js";

interface El {
  tag: string;
  attrs: Record<string, string>;
  children: El[];
  text: string;
}

/** The SVG parsed as XML (it must be well-formed), as a tree of elements. */
function parseSvg(svg: string): El {
  const valid = XMLValidator.validate(svg);
  assert.equal(valid, true, `not well-formed XML: ${JSON.stringify(valid)}`);
  const raw = new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "",
    trimValues: false,
    processEntities: true,
  }).parse(svg) as unknown[];
  const convert = (node: Record<string, unknown>): El | null => {
    const tag = Object.keys(node).find((k) => k !== ":@");
    if (!tag || tag === "#text") return null;
    const children = (node[tag] as Record<string, unknown>[]).map(convert).filter((c): c is El => c !== null);
    const text = (node[tag] as Record<string, unknown>[])
      .filter((c) => "#text" in c)
      .map((c) => String(c["#text"]))
      .join("");
    return { tag, attrs: (node[":@"] ?? {}) as Record<string, string>, children, text };
  };
  const roots = (raw as Record<string, unknown>[]).map(convert).filter((c): c is El => c !== null);
  const svgEl = roots.find((r) => r.tag === "svg");
  assert.ok(svgEl, "no <svg> root element");
  return svgEl;
}

function all(el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  if (pred(el)) out.push(el);
  for (const c of el.children) all(c, pred, out);
  return out;
}

/** Every piece of text the picture shows (text elements and their tspans). */
function texts(root: El): string[] {
  const out: string[] = [];
  for (const t of all(root, (e) => e.tag === "text")) {
    if (t.text) out.push(t.text);
    for (const s of t.children) if (s.tag === "tspan") out.push(s.text);
  }
  return out;
}

/** Width and height of a bar's rectangle path ("M x,y h W v H h -W Z"). */
function barSize(bar: El): { w: number; h: number } {
  const m = /^M[-\d.e]+,[-\d.e]+h([-\d.e]+)v([-\d.e]+)h/.exec(bar.attrs.d ?? "");
  assert.ok(m, `a bar that is not a rectangle: ${bar.attrs.d}`);
  return { w: Number(m[1]), h: Number(m[2]) };
}

function bars(root: El): El[] {
  return all(root, (e) => e.tag === "path" && e.attrs["aria-roledescription"] === "bar");
}

const machine = { cpu: "Cortex-A72", cores: 4, node: "v20.0.0" };
const source = (bench: string): Source => ({
  command: `npm run bench -- ${bench} --save`,
  date: "2026-01-02T03:04:05.678Z",
  machine,
});

function assertCaption(shown: string[], bench: string): void {
  assert.ok(
    shown.some(
      (t) =>
        t.includes(`npm run bench -- ${bench} --save`) &&
        t.includes("2026-01-02 03:04 UTC") &&
        t.includes("Cortex-A72, 4 cores, node v20.0.0"),
    ),
    `no caption with the command, date and machine of ${bench} in ${JSON.stringify(shown)}`,
  );
}

test("the throughput chart draws iggy-edge's bar and its peer's per protocol, in proportion, with units, machine and command", async () => {
  const rows = [
    { label: "MQTT QoS 1", unit: "msg/s", value: 24_000, peerName: "mosquitto", peerValue: 20_000 },
    {
      label: "CoAP confirmable",
      unit: "req/s",
      value: 2_000,
      peerName: "bare coap server",
      peerValue: 5_000,
    },
  ];
  const root = parseSvg(await toSvg(throughputSpec(rows, [source("mqtt"), source("coap")])));
  const shown = texts(root);
  for (const t of [
    "Throughput of each protocol beside its peer, measured in the same run",
    "MQTT QoS 1: 1.20x its peer",
    "CoAP confirmable: 0.40x its peer",
    "throughput (msg/s)",
    "throughput (req/s)",
    "24,000 msg/s",
    "5,000 req/s",
    "mosquitto",
    "bare coap server",
  ])
    assert.ok(shown.includes(t), `no text ${JSON.stringify(t)} in ${JSON.stringify(shown)}`);
  assertCaption(shown, "mqtt");
  assertCaption(shown, "coap");

  const drawn = bars(root);
  assert.equal(drawn.length, 4);
  const width = (who: string) => {
    const b = drawn.filter((x) => x.attrs["aria-label"]?.includes(`who: ${who};`));
    assert.equal(b.length, 1, `bars for ${who}`);
    return barSize(b[0]!).w;
  };
  // Each protocol has its own axis: iggy-edge's bar is to its peer's as the values are.
  const ours = drawn
    .filter((x) => x.attrs["aria-label"]?.includes("who: iggy-edge;"))
    .map((b) => barSize(b).w);
  assert.equal(ours.length, 2);
  assert.ok(Math.abs(ours[0]! / width("mosquitto") - 24 / 20) < 1e-6);
  assert.ok(Math.abs(ours[1]! / width("bare coap server") - 2 / 5) < 1e-6);
});

test("the latency chart draws one bar per percentile and series, heights in proportion to the milliseconds", async () => {
  const points = [
    { series: "command -> result", percentile: "p50", ms: 10 },
    { series: "command -> result", percentile: "p90", ms: 20 },
    { series: "command -> result", percentile: "p99", ms: 40 },
    { series: "command -> result", percentile: "max", ms: 80 },
    { series: "Modbus write alone", percentile: "p50", ms: 2 },
    { series: "Modbus write alone", percentile: "p99", ms: 5 },
  ];
  const root = parseSvg(await toSvg(latencySpec("Command latency", points, [source("commands")])));
  const shown = texts(root);
  for (const t of [
    "Command latency",
    "latency (ms)",
    "percentile of the measured samples",
    "p50",
    "p90",
    "p99",
    "max",
  ])
    assert.ok(shown.includes(t), `no text ${JSON.stringify(t)} in ${JSON.stringify(shown)}`);
  for (const t of ["command -> result", "Modbus write alone", "80.0 ms", "2.00 ms"])
    assert.ok(shown.includes(t), `no text ${JSON.stringify(t)}`);
  assertCaption(shown, "commands");
  const drawn = bars(root);
  assert.equal(drawn.length, points.length);
  const height = (series: string, p: string) => {
    const b = drawn.filter(
      (x) =>
        x.attrs["aria-label"]?.startsWith(`percentile of the measured samples: ${p};`) &&
        x.attrs["aria-label"]?.endsWith(`series: ${series}`),
    );
    assert.equal(b.length, 1, `bar ${series} ${p}`);
    return barSize(b[0]!).h;
  };
  const unit = height("command -> result", "p50") / 10;
  assert.ok(unit > 0);
  for (const p of points)
    assert.ok(Math.abs(height(p.series, p.percentile) / unit - p.ms) < 1e-6, `${p.series} ${p.percentile}`);
});

function synthetic(n: number) {
  const t_s = Array.from({ length: n }, (_, i) => i * 5);
  return {
    t_s,
    rss_mib: t_s.map((_, i) => 90 + (i % 3)),
    fds: t_s.map(() => 40),
    db_bytes: t_s.map((_, i) => (i < n / 2 ? i : n - i) * 1024 * 1024),
    wal_bytes: t_s.map(() => 4 * 1024 * 1024),
    depth: t_s.map((_, i) => (i < n / 2 ? i * 1000 : 0)),
  };
}

test("the soak chart draws each sampled series as a line through every sample, with units", async () => {
  const n = 24;
  const root = parseSvg(
    await toSvg(soakSpec(synthetic(n), { ...source("x"), command: "npm run drill -- soak" })),
  );
  const shown = texts(root);
  for (const t of [
    "Soak: memory, file descriptors and the buffer over the run",
    "time since the soak started (s)",
    "RSS (MiB)",
    "open fds (count)",
    "size (MiB)",
    "waiting (readings)",
    "database file",
    "WAL file",
  ])
    assert.ok(shown.includes(t), `no text ${JSON.stringify(t)} in ${JSON.stringify(shown)}`);
  assert.ok(shown.some((t) => t.startsWith("npm run drill -- soak") && t.includes("Cortex-A72, 4 cores")));
  const lines = all(root, (e) => e.tag === "path" && e.attrs["aria-roledescription"] === "line mark");
  assert.equal(lines.length, 5, "RSS, fds, database file, WAL file, depth");
  for (const l of lines) {
    // One move and a segment to each further sample.
    const segments = (l.attrs.d ?? "").match(/L/g)?.length ?? 0;
    assert.equal(segments, n - 1, `a line with ${segments + 1} points: ${l.attrs.d}`);
  }
});

test("the soak chart marks where the load stopped and where the buffer was drained, at those samples", async () => {
  const n = 12;
  const root = parseSvg(await toSvg(soakSpec(synthetic(n), source("x"), { load_end: 4, drained: 7 })));
  const shown = texts(root);
  assert.equal(shown.filter((t) => t === "load stopped").length, 4, "one per panel");
  assert.equal(shown.filter((t) => t === "buffer drained").length, 4, "one per panel");
  const rules = all(root, (e) => e.tag === "line" && e.attrs["aria-roledescription"] === "rule mark");
  assert.equal(rules.length, 2 * 4);
  const lines = all(root, (e) => e.tag === "path" && e.attrs["aria-roledescription"] === "line mark");
  const xs = [...(lines[0]!.attrs.d ?? "").matchAll(/[ML]([-\d.e]+),/g)].map((m) => Number(m[1]));
  assert.equal(xs.length, n);
  const ruleXs = rules.map((r) => Number(/translate\(([-\d.e]+),/.exec(r.attrs.transform ?? "")?.[1]));
  for (const i of [4, 7])
    assert.equal(
      ruleXs.filter((x) => Math.abs(x - xs[i]!) < 0.01).length,
      4,
      `a rule at sample ${i} (x ${xs[i]}) in each panel: ${ruleXs.join(", ")}`,
    );
  // Marks outside the series are left out rather than drawn at a wrong place.
  const none = parseSvg(await toSvg(soakSpec(synthetic(n), source("x"), { load_end: n, drained: -1 })));
  assert.equal(all(none, (e) => e.attrs["aria-roledescription"] === "rule mark").length, 0);
});

test("a soak series that is not one the chart can draw is refused, naming what is wrong", () => {
  const s = synthetic(10);
  assert.throws(() => checkSoakSeries({ ...s, fds: s.fds.slice(1) }), /fds has 9 samples, t_s has 10/);
  assert.throws(() => checkSoakSeries({ ...s, depth: undefined }), /depth is not an array of finite numbers/);
  assert.throws(() => checkSoakSeries({ ...s, rss_mib: [...s.rss_mib.slice(1), NaN] }), /rss_mib is not/);
  assert.throws(() => checkSoakSeries(synthetic(1)), /1 samples, a line needs two/);
  assert.equal(checkSoakSeries(s).t_s.length, 10);
});

const cli = resolve(repoRoot, "dist/scripts/plots.js");

function benchFile(benchmark: string, figures: BenchResult["figures"]): string {
  const r: BenchResult = {
    benchmark,
    quick: false,
    date: "2026-01-02T03:04:05.678Z",
    seconds: 1,
    machine: { ...machine, platform: "linux-arm64" },
    figures,
  };
  return JSON.stringify(r);
}

/** Every figure the lists name for `bench`, with a peer, values 1, 2, 3, ... */
function listedFigures(bench: string): BenchResult["figures"] {
  const names = [
    ...THROUGHPUT.filter((t) => t.bench === bench).map((t) => ({ name: t.figure, unit: "msg/s" })),
    ...[...LATENCY, ...COMMAND_LATENCY]
      .filter((s) => s.bench === bench)
      .flatMap((s) => Object.values(s.figures).map((name) => ({ name, unit: "ms" }))),
  ];
  return names.map((f, i) => ({
    ...f,
    value: i + 1,
    peer: { name: `peer of ${f.name}`, value: i + 2 },
    ratio: 0.5,
  }));
}

test("npm run plots draws the kept results and a soak run, notes what does not exist yet, and fails naming a listed figure a kept file lacks", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "iggy-edge-plots-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const kept = join(dir, "kept");
  const drills = join(dir, "drills");
  const out = join(dir, "plots");
  mkdirSync(kept);
  mkdirSync(drills);
  for (const b of ["mqtt", "forward", "coap"])
    writeFileSync(join(kept, `${b}.json`), benchFile(b, listedFigures(b)));
  const run = (): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [cli], {
      env: {
        ...process.env,
        IGGY_EDGE_BENCH_KEPT: kept,
        IGGY_EDGE_DRILL_OUT: drills,
        IGGY_EDGE_PLOTS_OUT: out,
      },
      encoding: "utf8",
      timeout: 120_000,
    });

  // No commands benchmark, no soak run yet: those two charts are skipped with a note.
  let r = run();
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /commands-latency\.svg: .*commands\.json does not exist yet, not drawn/);
  assert.match(r.stdout, /soak\.svg: no soak drill with a series in .*, not drawn/);
  for (const f of ["throughput.svg", "latency.svg"]) {
    const root = parseSvg(readFileSync(join(out, f), "utf8"));
    assert.ok(texts(root).some((x) => x.includes("npm run bench -- mqtt --save")));
  }
  assert.equal(
    bars(parseSvg(readFileSync(join(out, "throughput.svg"), "utf8"))).length,
    2 * 4,
    "mqtt x2, coap, forward",
  );
  assert.ok(!existsSync(join(out, "soak.svg")));

  // A soak run appears (with a newer run of another drill beside it), the commands benchmark is kept,
  // and the CoAP benchmark renamed its figure.
  const soakRun = {
    date: "2026-01-02T04:00:00.000Z",
    short: true,
    seed: 1,
    machine: { ...machine, platform: "linux-arm64" },
    command: "npm run drill -- soak --short",
    drills: {
      soak: {
        ok: true,
        figures: {},
        findings: [],
        description: "soak",
        seconds: 60,
        series: synthetic(8),
        details: { marks: { load_end: 3, drained: 5 } },
      },
    },
    ok: true,
  };
  writeFileSync(join(drills, "drill-soak.json"), JSON.stringify(soakRun));
  writeFileSync(
    join(drills, "latest.json"),
    JSON.stringify({ ...soakRun, date: "2026-01-02T05:00:00.000Z", drills: { kill9: soakRun.drills.soak } }),
  );
  writeFileSync(join(kept, "commands.json"), benchFile("commands", listedFigures("commands")));
  writeFileSync(
    join(kept, "coap.json"),
    benchFile("coap", [{ name: "a renamed figure", value: 1, unit: "req/s" }]),
  );
  r = run();
  assert.equal(r.status, 1, r.stdout);
  assert.match(
    r.stderr,
    /ERROR: coap\.json has no figure "confirmable POSTs answered after commit, 10 clients" \(it has: "a renamed figure"\)/,
  );
  const soak = parseSvg(readFileSync(join(out, "soak.svg"), "utf8"));
  assert.ok(
    texts(soak).some(
      (x) => x.startsWith("npm run drill -- soak --short") && x.includes("2026-01-02 04:00 UTC"),
    ),
  );
  for (const t of ["load stopped", "buffer drained"])
    assert.ok(texts(soak).includes(t), `the soak's ${t} mark is not drawn`);
  const cmd = parseSvg(readFileSync(join(out, "commands-latency.svg"), "utf8"));
  const set = COMMAND_LATENCY[0]!;
  assert.equal(bars(cmd).length, Object.keys(set.figures).length * (set.peerLabel ? 2 : 1));
  assert.equal(
    bars(parseSvg(readFileSync(join(out, "throughput.svg"), "utf8"))).length,
    2 * 3,
    "without CoAP",
  );
});
