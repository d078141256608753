// Iggy away under mixed load (loads/: MQTT QoS1 publishers at the embedded broker and through a
// site Mosquitto, CoAP confirmable POSTs, Modbus polling, OPC-UA subscriptions): the gateway reaches Apache Iggy's own 0.8 server through a TCP
// proxy the drill controls. Phases: Iggy unreachable (connections cut and reset), slow (every reply
// held back), replies lost (connections cut when a reply comes: the send's fate unknown to the
// gateway), and Iggy killed mid-batch and started again on its data dir. After each the backlog
// drains; at the end Iggy is read with its Python SDK: every acknowledged reading once, in order.
import {
  fdsOf,
  rssOf,
  until,
  type Drill,
  type DrillContext,
  type DrillOptions,
  type DrillResult,
} from "./kit.js";
import {
  depthOf,
  drainBuffer,
  finishLoads,
  judgeIggy,
  metricsOf,
  prepareMixedLoad,
  skippedResult,
  type MixedLoad,
} from "./mixed-load.js";
import { TcpProxy } from "./tcp-proxy.js";
import { sleep } from "../../protocols/sleep.js";

/** Short enough that the replies-lost phase does not wait long for each timed-out send. */
const REQUEST_TIMEOUT_MS = 3_000;

interface PhaseReport {
  phase: string;
  /** What the phase did, in numbers. */
  figures: Record<string, number>;
  drain_seconds: number;
  peak_depth: number;
  rss_mib_after_drain: number | null;
  /** SETTLE_MS later: after the gateway, quiet again, gave back what the burst left (gateway/memory-reducer.ts). */
  rss_mib_settled: number | null;
  fds_after_drain: number | null;
}

/** Five quiet one-second ticks of the memory reducer, its collection, and some slack. */
const SETTLE_MS = 10_000;

const mib = (bytes: number | null) => (bytes === null ? null : Math.round((bytes / 1048576) * 10) / 10);

async function counter(m: MixedLoad, sample: string): Promise<number> {
  return (await metricsOf(m.gw)).get(sample) ?? 0;
}

const batches = (result: string) => `iggy_edge_forward_batches_total{result="${result}"}`;

/** Runs the loads from `begin` through the perturbation, stops them once armed, and drains. */
async function phase(
  m: MixedLoad,
  name: string,
  log: (s: string) => void,
  guardMs: number,
  perturb: () => Promise<Record<string, number>>,
  restore: () => Promise<void>,
): Promise<PhaseReport> {
  for (const l of m.loads) await l.beginRound(m.gw);
  const figures = await perturb();
  await until(
    `the loads of phase ${name} to reach their targets`,
    async () => (await Promise.all(m.loads.map((l) => l.armed(m.gw)))).every(Boolean),
    guardMs,
    20,
  );
  for (const l of m.loads) await l.endRound();
  await restore();
  const drain = await drainBuffer(m.gw, guardMs);
  const rss = m.gw.pid === null ? null : rssOf(m.gw.pid);
  const fds = m.gw.pid === null ? null : fdsOf(m.gw.pid);
  await sleep(SETTLE_MS);
  const report: PhaseReport = {
    phase: name,
    figures,
    drain_seconds: drain.seconds,
    peak_depth: Math.max(drain.peakDepth, figures.depth_reached ?? 0),
    rss_mib_after_drain: mib(rss),
    rss_mib_settled: mib(m.gw.pid === null ? null : rssOf(m.gw.pid)),
    fds_after_drain: fds,
  };
  log(
    `${name}: ${Object.entries(figures)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}; drained in ${drain.seconds.toFixed(1)} s, RSS ${report.rss_mib_after_drain} MiB ` +
      `(${report.rss_mib_settled} MiB ${SETTLE_MS / 1000} s later), ${report.fds_after_drain} fds`,
  );
  return report;
}

export interface IggyAwayOptions extends DrillOptions {
  /** Unreachable phases one after the other (default 1): whether RSS grows outage after outage. */
  outages?: number;
}

export async function runIggyAway(options: IggyAwayOptions, ctx: DrillContext): Promise<DrillResult> {
  const { short, log } = options;
  let proxy: TcpProxy | null = null;
  const m = await prepareMixedLoad(options, ctx, {
    saveEverySend: true,
    iggyOptions: [`request_timeout_ms: ${REQUEST_TIMEOUT_MS}`, "connect_timeout_ms: 2000"],
    route: async (iggy) => {
      proxy = await TcpProxy.start({ host: iggy.host, port: iggy.port });
      const p = proxy;
      ctx.after(() => p.close());
      return p.address;
    },
  });
  if (!m || !proxy) return skippedResult(ctx);
  const px: TcpProxy = proxy;
  const { gw, rng } = m;
  /** Hang guards only: a short run that takes longer than this is stuck, not slow. */
  const guardMs = short ? 180_000 : 600_000;
  const started = Date.now();
  await gw.start();
  const phases: PhaseReport[] = [];
  const runPhase = async (
    name: string,
    perturb: () => Promise<Record<string, number>>,
    restore: () => Promise<void> = async () => {},
  ): Promise<void> => {
    phases.push(await phase(m, name, log, guardMs, perturb, restore));
  };
  const connectedIs = (state: 0 | 1, what: string, everyMs: number): Promise<void> =>
    until(what, async () => (await counter(m, "iggy_edge_iggy_connected")) === state, guardMs, everyMs);

  // A baseline: the loads once with Iggy there, so the later RSS figures have something to compare with.
  await runPhase("baseline", async () => ({}));

  // (a) Unreachable: every connection cut, new ones reset, while the loads go on; `outages` times.
  const outageMs = short ? 0 : 90_000;
  const outageDepth = short ? 2_000 : 20_000;
  const unreachable = async (): Promise<Record<string, number>> => {
    px.set({ kind: "down" });
    const from = Date.now();
    let depth = 0;
    await until(
      `a backlog of ${outageDepth} readings while Iggy is away`,
      async () => {
        depth = await depthOf(gw);
        return depth >= outageDepth && Date.now() - from >= outageMs;
      },
      guardMs,
      200,
    ).catch((e: Error) => {
      // The loads may run out of readings before the backlog gets this deep: go on with what there is.
      log(`unreachable: ${e.message}; going on with a backlog of ${depth}`);
    });
    const seconds = Math.round((Date.now() - from) / 1000);
    const refused = px.refused;
    px.set({ kind: "pass" });
    const connected = await connectedIs(1, "the gateway back at Iggy", 100).then(() => 1);
    return {
      seconds_away: seconds,
      depth_reached: depth,
      connections_refused: refused,
      reconnected: connected,
    };
  };
  for (let outage = 1; outage <= (options.outages ?? 1); outage++)
    await runPhase(outage === 1 ? "unreachable" : `unreachable-${outage}`, unreachable);

  // (b) Slow: every reply held back 200 ms; the backlog drains at that pace.
  const slowBatches = short ? 10 : 200;
  await runPhase(
    "slow",
    async () => {
      px.set({ kind: "pass", delayMs: 200 });
      const from = await counter(m, batches("ok"));
      await until(
        `${slowBatches} batches confirmed through the slow proxy`,
        async () => (await counter(m, batches("ok"))) - from >= slowBatches,
        guardMs,
        100,
      );
      return {
        reply_delay_ms: 200,
        batches_confirmed_slowly: (await counter(m, batches("ok"))) - from,
        depth_reached: await depthOf(gw),
      };
    },
    // Modbus adds readings while each reply is held back, so the buffer is never quite empty while
    // slow: the drain that is judged comes after the delay is lifted.
    async () => px.set({ kind: "pass" }),
  );

  // (b') Replies lost: each connection is cut when a reply arrives after a random few; a send cut
  // that way reached Iggy, but the gateway cannot know: it must find it in Iggy's tail, not resend it.
  const cutTarget = short ? 5 : 40;
  await runPhase("replies-lost", async () => {
    const dup0 = await counter(m, batches("duplicate"));
    const retry0 = await counter(m, batches("retry"));
    const cut0 = px.repliesCut;
    px.set({ kind: "cut-replies", replies: () => rng.between(2, 12) });
    await until(`${cutTarget} replies lost`, async () => px.repliesCut - cut0 >= cutTarget, guardMs, 100);
    px.set({ kind: "pass" });
    await connectedIs(1, "the gateway back at Iggy", 100);
    return {
      replies_cut: px.repliesCut - cut0,
      batches_retried: (await counter(m, batches("retry"))) - retry0,
      batches_found_in_iggy_and_skipped: (await counter(m, batches("duplicate"))) - dup0,
    };
  });

  // (c) Iggy killed (SIGKILL) while a batch is on its way (replies held back 100 ms so one nearly
  // always is), started again on its data dir; several times.
  const restarts = short ? 2 : 6;
  await runPhase("iggy-restarted", async () => {
    let killedWithBacklog = 0;
    px.set({ kind: "pass", delayMs: 100 });
    for (let i = 0; i < restarts; i++) {
      const ok0 = await counter(m, batches("ok"));
      const after = rng.between(1, 5);
      await until(
        "batches flowing before the kill",
        async () => (await counter(m, batches("ok"))) - ok0 >= after,
        guardMs,
        20,
      );
      await sleep(rng.int(100));
      if ((await depthOf(gw)) > 0) killedWithBacklog++;
      await m.iggy.stop("SIGKILL");
      await connectedIs(0, "the gateway to notice Iggy is gone", 50);
      await sleep(rng.int(2_000));
      await m.iggy.restart();
      await connectedIs(1, "the gateway back at Iggy", 100);
    }
    px.set({ kind: "pass" });
    return { iggy_kills: restarts, killed_with_backlog: killedWithBacklog };
  });

  log("final drain: every load's last message in, the buffer empty");
  await finishLoads(m);
  const deadLetters = (await gw.metric("iggy_edge_buffer_dead_letter_readings")) ?? 0;
  await gw.stop();
  const judged = await judgeIggy(m, options, "iggy-away");
  const rss = phases.map((p) => p.rss_mib_after_drain).filter((r): r is number => r !== null);
  const settled = phases.map((p) => p.rss_mib_settled).filter((r): r is number => r !== null);
  const figures: Record<string, number> = {
    phases: phases.length,
    ...judged.figures,
    dead_letters: deadLetters,
    rss_mib_first_drained: rss[0] ?? 0,
    rss_mib_last_drained: rss.at(-1) ?? 0,
    rss_mib_growth: Math.round(((rss.at(-1) ?? 0) - (rss[0] ?? 0)) * 10) / 10,
    rss_mib_first_settled: settled[0] ?? 0,
    rss_mib_last_settled: settled.at(-1) ?? 0,
    rss_mib_settled_growth: Math.round(((settled.at(-1) ?? 0) - (settled[0] ?? 0)) * 10) / 10,
    fds_first_drained: phases[0]?.fds_after_drain ?? 0,
    fds_last_drained: phases.at(-1)?.fds_after_drain ?? 0,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  for (const p of phases)
    for (const [k, v] of Object.entries(p.figures)) figures[`${p.phase.replace(/-/g, "_")}_${k}`] = v;
  return {
    ok: judged.findings.length === 0,
    figures,
    findings: judged.findings,
    details: { ...judged.details, phases },
  };
}

const drill: Drill = {
  description:
    "Iggy away under MQTT, CoAP, Modbus and OPC-UA load, through a proxy: unreachable, slow replies, replies lost, Iggy killed mid-batch and restarted; Iggy read back with its Python SDK",
  run: (options, ctx) => runIggyAway(options, ctx),
};
export default drill;
