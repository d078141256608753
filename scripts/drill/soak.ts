// Soak: the mixed load of loads/ (MQTT QoS1 publishers as fast as their windows allow, CoAP devices
// each with one confirmable POST in flight, Modbus polled every 20 ms, OPC-UA items changing every
// 50 ms) for a few minutes - about an hour of a site's traffic - against Apache Iggy's own 0.8
// server, then the backlog drained and the gateway left idle (Modbus and OPC-UA still read) for a
// while. Every second: RSS, open file descriptors, buffer.db and its WAL, buffer depth. What is
// judged: files and descriptors do not grow once drained (leniently: SQLite's WAL and pages are
// reused, not shrunk at once); RSS is reported, not judged; and Iggy holds every acknowledged
// reading once, in order (the kill -9 drill's checks).
import { type Drill, type DrillContext, type DrillOptions, type DrillResult } from "./kit.js";
import { finishLoads, judgeIggy, prepareMixedLoad, skippedResult } from "./mixed-load.js";
import { Sampler, type Series } from "./sampler.js";
import { sleep } from "../../protocols/sleep.js";

/** Descriptors a drained gateway may gain (an HTTP keep-alive socket of the sampler, a reconnect). */
const FD_SLACK = 8;
/** File growth allowed after the drain: the larger of this and a tenth of the first drained size. */
const FILE_SLACK_BYTES = 1 << 20;

export interface SoakOptions extends DrillOptions {
  /** Seconds of load (default: 40 short, 240 full). */
  loadSeconds?: number;
  /** Seconds sampled after the drain (default: 10 short, 60 full). */
  idleSeconds?: number;
}

export function growth(series: Series, from: number): Record<string, number> {
  const last = series.t_s.length - 1;
  const d = (k: keyof Series) => (last >= from ? series[k][last]! - series[k][from]! : 0);
  return {
    rss_mib_growth: Math.round(d("rss_mib") * 10) / 10,
    fds_growth: d("fds"),
    db_bytes_growth: d("db_bytes"),
    wal_bytes_growth: d("wal_bytes"),
    depth_growth: d("depth"),
  };
}

export async function runSoak(options: SoakOptions, ctx: DrillContext): Promise<DrillResult> {
  const { short, log } = options;
  const loadSeconds = options.loadSeconds ?? (short ? 40 : 240);
  const idleSeconds = options.idleSeconds ?? (short ? 10 : 60);
  const m = await prepareMixedLoad(options, ctx);
  if (!m) return skippedResult(ctx);
  const { gw } = m;
  const started = Date.now();
  await gw.start();
  const sampler = new Sampler(gw, m.dataDir);
  ctx.after(() => sampler.stop());
  sampler.start();

  log(`${loadSeconds} s of load (${m.loadNames.join(", ")}), sampled every second`);
  for (const l of m.loads) await l.beginRound(gw);
  // The publishers also stop at their caps (loads/): the load is bounded in count as well as in time.
  await sleep(loadSeconds * 1000);
  for (const l of m.loads) await l.endRound();
  const loadEnd = sampler.length;
  const loadEndMs = Date.now();
  log("the load stopped; draining the backlog");
  await finishLoads(m);
  const drainedAt = sampler.length;
  const drainSeconds = (Date.now() - loadEndMs) / 1000;
  log(`drained; ${idleSeconds} s idle (Modbus and OPC-UA still read)`);
  await sleep(idleSeconds * 1000);
  await sampler.sample();
  await sampler.stop();
  const deadLetters = (await gw.metric("iggy_edge_buffer_dead_letter_readings")) ?? 0;
  const forwarded = (await gw.metric("iggy_edge_readings_forwarded_total")) ?? 0;
  await gw.stop();

  const s = sampler.series;
  const g = growth(s, Math.min(drainedAt, s.t_s.length - 1));
  const findings: string[] = [];
  const fileSlack = (k: "db_bytes" | "wal_bytes") =>
    Math.max(FILE_SLACK_BYTES, (s[k][Math.min(drainedAt, s[k].length - 1)] ?? 0) / 10);
  if (g.fds_growth! > FD_SLACK)
    findings.push(`open file descriptors grew by ${g.fds_growth} after the drain (allowed ${FD_SLACK})`);
  if (g.db_bytes_growth! > fileSlack("db_bytes"))
    findings.push(`buffer.db grew by ${g.db_bytes_growth} bytes after the drain`);
  if (g.wal_bytes_growth! > fileSlack("wal_bytes"))
    findings.push(`the WAL grew by ${g.wal_bytes_growth} bytes after the drain`);
  const judged = await judgeIggy(m, options, "soak");
  findings.push(...judged.findings);
  const max = (k: keyof Series) => s[k].reduce((a, b) => Math.max(a, b), 0);
  return {
    ok: findings.length === 0,
    figures: {
      load_seconds: loadSeconds,
      drain_seconds: Math.round(drainSeconds * 10) / 10,
      idle_seconds: idleSeconds,
      ...judged.figures,
      readings_forwarded: forwarded,
      dead_letters: deadLetters,
      samples: s.t_s.length,
      samples_missed: sampler.missed,
      peak_depth: max("depth"),
      peak_rss_mib: max("rss_mib"),
      peak_fds: max("fds"),
      peak_db_bytes: max("db_bytes"),
      peak_wal_bytes: max("wal_bytes"),
      ...g,
      seconds: Math.round((Date.now() - started) / 1000),
    },
    findings,
    series: { ...s },
    details: {
      ...judged.details,
      /** Indexes into series: where the load stopped and where the buffer was drained. */
      marks: { load_end: loadEnd, drained: drainedAt },
    },
  };
}

const drill: Drill = {
  description:
    "soak: minutes of MQTT, CoAP, Modbus and OPC-UA load at a high rate against Apache Iggy 0.8, drained, then idle; RSS, descriptors, buffer files and depth sampled every second",
  run: (options, ctx) => runSoak(options, ctx),
};
export default drill;
