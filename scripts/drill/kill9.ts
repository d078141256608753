// kill -9 of the gateway at random moments while every protocol path carries traffic (loads/),
// against Apache Iggy's own 0.8 server; then a final drain, and Iggy read back with Iggy's Python
// SDK: every acknowledged reading there, none twice, in order per gateway.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startIggyServer } from "../../test/helpers/iggy-server.js";
import { hasPythonModule, requirePeer } from "../../test/helpers/peers.js";
import { freePort } from "../bench-kit.js";
import { GatewayProcess } from "./gateway-process.js";
import { readIggyWithPythonSdk, type StoredReading } from "./iggy-reader.js";
import { DrillContext, Rng, until, type Drill, type DrillOptions, type DrillResult } from "./kit.js";
import { loads as allLoads } from "./loads/index.js";
import type { Load, LoadEnv, LoadVerdict } from "./loads/load.js";
import { BROKER_USER } from "./loads/mqtt-embedded.js";

export const GATEWAY_ID = "drill-gw";
const STREAM = "drill";
const TOPIC = "telemetry";

/** What the sequence numbers in Iggy say about the gateway's own part (buffer to Iggy). */
export interface SequenceVerdict {
  messages: number;
  readings: number;
  /** Sequence numbers found more than once. */
  seqTwice: number;
  /** Readings whose sequence number is not above the one before (in Iggy's order). */
  seqOutOfOrder: number;
  /**
   * Places where the sequence number jumps by more than one. Not a finding: after a restart the
   * buffer skips up to its high-water reserve (numbers only need to grow, buffer/store.ts), so a
   * jump cannot tell a lost reading from a skipped number. Loss is judged per load instead.
   */
  seqJumps: number;
  /** Message ids found on more than one message. */
  idTwice: number;
  /** Messages whose id does not end in their first reading's sequence number. */
  idMismatch: number;
}

export function judgeSequence(stored: StoredReading[]): SequenceVerdict {
  const byOffset = new Map<number, StoredReading[]>();
  for (const r of stored) {
    const list = byOffset.get(r.offset) ?? [];
    list.push(r);
    byOffset.set(r.offset, list);
  }
  const ids = new Map<string, number>();
  let idMismatch = 0;
  for (const list of byOffset.values()) {
    const first = Math.min(...list.map((r) => r.seq));
    const id = BigInt(list[0]!.id);
    if (Number(id & ((1n << 64n) - 1n)) !== first) idMismatch++;
    ids.set(list[0]!.id, (ids.get(list[0]!.id) ?? 0) + 1);
  }
  const seen = new Set<number>();
  let seqTwice = 0;
  let seqOutOfOrder = 0;
  let prev = -Infinity;
  for (const r of stored) {
    if (seen.has(r.seq)) seqTwice++;
    seen.add(r.seq);
    if (r.seq <= prev) seqOutOfOrder++;
    prev = Math.max(prev, r.seq);
  }
  let seqJumps = 0;
  for (let i = 1; i < stored.length; i++) if (stored[i]!.seq > stored[i - 1]!.seq + 1) seqJumps++;
  return {
    messages: byOffset.size,
    readings: stored.length,
    seqTwice,
    seqOutOfOrder,
    seqJumps,
    idTwice: [...ids.values()].filter((n) => n > 1).length,
    idMismatch,
  };
}

function gatewayConfig(o: {
  dataDir: string;
  iggy: string;
  httpPort: number;
  mqttPort: number;
  devices: string[];
}): string {
  return [
    `gateway: { id: ${GATEWAY_ID}, data_dir: ${JSON.stringify(o.dataDir)} }`,
    `iggy: { address: ${o.iggy}, username: iggy, password: "\${env:IGGY_PASSWORD}", stream: ${STREAM},` +
      ` topics: { telemetry: ${TOPIC} }, codec: msgpack, batch: { max_readings: 500, linger_ms: 5 } }`,
    "buffer: { on_full: reject_new, sync: full }",
    `http: { listen: 127.0.0.1:${o.httpPort} }`,
    "mqtt:",
    "  broker:",
    `    listen: 127.0.0.1:${o.mqttPort}`,
    `    users: [ { username: ${BROKER_USER.username}, password: ${BROKER_USER.password}, publish: ["drill/#"] } ]`,
    "devices:",
    ...o.devices,
    "",
  ].join("\n");
}

export interface Kill9Options extends DrillOptions {
  /** Rounds (default: 5 short, 50 full). */
  rounds?: number;
  /** Which loads (default: all in loads/index.ts). */
  loads?: string[];
}

export async function runKill9(options: Kill9Options, ctx: DrillContext): Promise<DrillResult> {
  const { short, log } = options;
  const rounds = options.rounds ?? (short ? 5 : 50);
  const rng = new Rng(options.seed);
  const t = ctx.asTest();
  if (
    !requirePeer(
      t,
      "Python package apache-iggy 0.8.x (Iggy's SDK, the independent reader)",
      hasPythonModule("apache_iggy"),
      "pip install 'apache-iggy==0.8.*'",
    )
  )
    return skipped(ctx);
  const iggy = await startIggyServer(t);
  if (!iggy) return skipped(ctx);
  log(`Apache Iggy 0.8 server on ${iggy.address}`);

  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const configFile = join(options.tmpDir, "gateway.yaml");
  const configEnv = { IGGY_PASSWORD: iggy.credentials.password };
  const env: LoadEnv = { ctx, rng, short, tmpDir: options.tmpDir, log, mqttPort, configFile, configEnv };
  const names = options.loads ?? Object.keys(allLoads);
  const loads: Load[] = [];
  for (const name of names) {
    const make = allLoads[name];
    if (!make) throw new Error(`no load named ${name} (have: ${Object.keys(allLoads).join(", ")})`);
    const load = make();
    ctx.after(() => load.close());
    await load.prepare(env);
    if (ctx.skipped) return skipped(ctx);
    loads.push(load);
  }
  writeFileSync(
    configFile,
    gatewayConfig({
      dataDir: join(options.tmpDir, "data"),
      iggy: iggy.address,
      httpPort,
      mqttPort,
      devices: loads.flatMap((l) => l.devices()),
    }),
  );
  const gw = new GatewayProcess(configFile, httpPort, configEnv);
  ctx.after(() => gw.kill9());
  log(`${rounds} rounds of kill -9 with loads ${names.join(", ")} (seed ${options.seed})`);

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
  for (const l of loads) await l.finish(gw);
  await until(
    "the drain (every load settled, buffer empty)",
    async () =>
      (await Promise.all(loads.map((l) => l.settled(gw)))).every(Boolean) &&
      (await gw.metric("iggy_edge_buffer_readings")) === 0,
    300_000,
    100,
  );
  const deadLetters = (await gw.metric("iggy_edge_buffer_dead_letter_readings")) ?? 0;
  await gw.stop();

  const stored = await readIggyWithPythonSdk({
    address: iggy.address,
    ...iggy.credentials,
    stream: STREAM,
    topic: TOPIC,
    partition: 0,
  });
  const seq = judgeSequence(stored);
  const verdicts: LoadVerdict[] = loads.map((l) => l.verdict(stored));
  const sum = (k: keyof LoadVerdict) => verdicts.reduce((n, v) => n + (v[k] as number), 0);
  const findings: string[] = [];
  for (const v of verdicts) {
    if (v.lost) findings.push(`${v.load}: ${v.lost} acknowledged readings lost (${v.notes.join("; ")})`);
    if (v.doubled) findings.push(`${v.load}: ${v.doubled} readings doubled`);
    if (v.outOfOrder) findings.push(`${v.load}: ${v.outOfOrder} readings out of order`);
  }
  if (seq.seqTwice) findings.push(`${seq.seqTwice} buffer sequence numbers twice in Iggy`);
  if (seq.seqOutOfOrder) findings.push(`${seq.seqOutOfOrder} readings out of sequence order`);
  if (seq.idTwice) findings.push(`${seq.idTwice} message ids twice`);
  if (seq.idMismatch) findings.push(`${seq.idMismatch} message ids not ending in their first_seq`);
  for (const c of gw.crashes) findings.push(`the gateway exited on its own: ${c}`);
  const details: Record<string, unknown> = {
    seed: options.seed,
    loads: verdicts,
    sequence: seq,
    gatewayWarnings: gw.warnings,
  };
  if (findings.length > 0) {
    const evidence = join(options.outDir, `kill9-seed-${options.seed}-iggy.jsonl`);
    writeFileSync(evidence, stored.map((r) => JSON.stringify(r)).join("\n") + "\n");
    details.evidence = evidence;
    log(`what Iggy holds, as read: ${evidence}`);
  }
  const figures = {
    rounds,
    killed_while_starting: killedStarting,
    gateway_starts: gw.starts,
    acknowledged: sum("acknowledged"),
    lost: sum("lost"),
    doubled: sum("doubled") + seq.seqTwice,
    out_of_order: sum("outOfOrder") + seq.seqOutOfOrder,
    redelivered_by_site_broker: sum("redelivered"),
    sequence_jumps: seq.seqJumps,
    readings_in_iggy: seq.readings,
    messages_in_iggy: seq.messages,
    dead_letters: deadLetters,
    crashes: gw.crashes.length,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  return {
    ok: findings.length === 0,
    figures,
    findings,
    details,
  };
}

function skipped(ctx: DrillContext): DrillResult {
  return { ok: true, skipped: ctx.skipped ?? "skipped", figures: {}, findings: [] };
}

const drill: Drill = {
  description:
    "kill -9 of the gateway at random moments under MQTT (embedded broker and client mode) and Modbus load, against Apache Iggy 0.8; Iggy read back with its Python SDK",
  run: (options, ctx) => runKill9(options, ctx),
};
export default drill;
