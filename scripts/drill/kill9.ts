// kill -9 of the gateway at random moments while every protocol path carries traffic (loads/),
// against Apache Iggy's own 0.8 server; then a final drain, and Iggy read back with Iggy's Python
// SDK: every acknowledged reading there, none twice, in order per gateway.
import { until, type Drill, type DrillContext, type DrillOptions, type DrillResult } from "./kit.js";
import { finishLoads, judgeIggy, prepareMixedLoad, skippedResult } from "./mixed-load.js";

export interface Kill9Options extends DrillOptions {
  /** Rounds (default: 5 short, 50 full). */
  rounds?: number;
  /** Which loads (default: all in loads/index.ts). */
  loads?: string[];
}

export async function runKill9(options: Kill9Options, ctx: DrillContext): Promise<DrillResult> {
  const { short, log } = options;
  const rounds = options.rounds ?? (short ? 5 : 50);
  const m = await prepareMixedLoad(options, ctx, options.loads ? { loads: options.loads } : {});
  if (!m) return skippedResult(ctx);
  const { gw, loads, rng } = m;
  log(`${rounds} rounds of kill -9 with loads ${m.loadNames.join(", ")} (seed ${options.seed})`);

  const started = Date.now();
  let killedStarting = 0;
  for (let round = 1; round <= rounds; round++) {
    if (rng.int(8) === 0) {
      // Now and then the kill lands while the gateway starts (opens its buffer, recovers, connects).
      const starting = gw.start().then(
        () => true,
        () => false,
      );
      await new Promise((r) => setTimeout(r, rng.int(1_500)));
      await gw.kill9();
      if (!(await starting)) killedStarting++;
    }
    await gw.start();
    for (const l of loads) await l.beginRound(gw);
    await until(
      "every load to reach its random kill point",
      async () => (await Promise.all(loads.map((l) => l.armed(gw)))).every(Boolean),
      180_000,
      5,
    );
    // A little further at random, so the kill does not always land right after a poll of /metrics.
    await new Promise((r) => setTimeout(r, rng.int(25)));
    await gw.kill9();
    for (const l of loads) await l.endRound();
    if (round % (short ? 1 : 10) === 0 || round === rounds) log(`round ${round}/${rounds}: killed`);
  }

  log("final drain: the gateway runs until the buffer is empty and every load's last message is in");
  await gw.start();
  await finishLoads(m);
  const deadLetters = (await gw.metric("iggy_edge_buffer_dead_letter_readings")) ?? 0;
  await gw.stop();

  const judged = await judgeIggy(m, options, "kill9");
  return {
    ok: judged.findings.length === 0,
    figures: {
      rounds,
      killed_while_starting: killedStarting,
      gateway_starts: gw.starts,
      ...judged.figures,
      dead_letters: deadLetters,
      seconds: Math.round((Date.now() - started) / 1000),
    },
    findings: judged.findings,
    details: judged.details,
  };
}

const drill: Drill = {
  description:
    "kill -9 of the gateway at random moments under MQTT (embedded broker and client mode), Modbus polling, OPC-UA subscriptions and CoAP confirmable POSTs, against Apache Iggy 0.8; Iggy read back with its Python SDK",
  run: (options, ctx) => runKill9(options, ctx),
};
export default drill;
