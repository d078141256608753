// What the kill -9, iggy-away and soak drills share: the gateway under the loads of loads/ against
// Apache Iggy's own 0.8 server (optionally through a proxy the drill controls), the final drain, and
// the verdict from reading Iggy back with its Python SDK.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { startIggyServer, type RealIggyServer } from "../../test/helpers/iggy-server.js";
import { hasPythonModule, requirePeer } from "../../test/helpers/peers.js";
import { freePort } from "../bench-kit.js";
import { GatewayProcess } from "./gateway-process.js";
import { readIggyWithPythonSdk, type StoredReading } from "./iggy-reader.js";
import { Rng, until, type DrillContext, type DrillOptions, type DrillResult } from "./kit.js";
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

export interface MixedLoad {
  iggy: RealIggyServer;
  gw: GatewayProcess;
  loads: Load[];
  loadNames: string[];
  /** The gateway's data dir (its buffer is in `buffer/` below it). */
  dataDir: string;
  rng: Rng;
}

export interface MixedLoadSetup {
  /** Iggy writes every send to disk before it confirms (needed when the drill kills Iggy). */
  saveEverySend?: boolean;
  /** Given the started Iggy, the address the gateway is to use (a proxy in front of it, say). */
  route?: (iggy: RealIggyServer) => Promise<string>;
  /** More keys of the gateway's `iggy:` section, as YAML flow-map entries. */
  iggyOptions?: string[];
  /** Which loads (default: all in loads/index.ts). */
  loads?: string[];
}

/** Starts Iggy, the loads' peers and writes the gateway's config; null when a peer is missing (ctx.skipped says which). */
export async function prepareMixedLoad(
  options: DrillOptions,
  ctx: DrillContext,
  setup: MixedLoadSetup = {},
): Promise<MixedLoad | null> {
  const { short, log } = options;
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
    return null;
  const iggy = await startIggyServer(t, { saveEverySend: setup.saveEverySend ?? false });
  if (!iggy) return null;
  const address = setup.route ? await setup.route(iggy) : iggy.address;
  log(`Apache Iggy 0.8 server on ${iggy.address}; the gateway uses ${address}`);

  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const configFile = join(options.tmpDir, "gateway.yaml");
  const configEnv = { IGGY_PASSWORD: iggy.credentials.password };
  const env: LoadEnv = { ctx, rng, short, tmpDir: options.tmpDir, log, mqttPort, configFile, configEnv };
  const loadNames = setup.loads ?? Object.keys(allLoads);
  const loads: Load[] = [];
  for (const name of loadNames) {
    const make = allLoads[name];
    if (!make) throw new Error(`no load named ${name} (have: ${Object.keys(allLoads).join(", ")})`);
    const load = make();
    ctx.after(() => load.close());
    await load.prepare(env);
    if (ctx.skipped) return null;
    loads.push(load);
  }
  const dataDir = join(options.tmpDir, "data");
  writeFileSync(
    configFile,
    [
      `gateway: { id: ${GATEWAY_ID}, data_dir: ${JSON.stringify(dataDir)} }`,
      `iggy: { address: ${address}, username: iggy, password: "\${env:IGGY_PASSWORD}", stream: ${STREAM},` +
        ` topics: { telemetry: ${TOPIC} }, codec: msgpack, batch: { max_readings: 500, linger_ms: 5 }` +
        `${(setup.iggyOptions ?? []).map((o) => `, ${o}`).join("")} }`,
      "buffer: { on_full: reject_new, sync: full }",
      `http: { listen: 127.0.0.1:${httpPort} }`,
      "mqtt:",
      "  broker:",
      `    listen: 127.0.0.1:${mqttPort}`,
      `    users: [ { username: ${BROKER_USER.username}, password: ${BROKER_USER.password}, publish: ["drill/#"] } ]`,
      ...loads.flatMap((l) => l.sections?.() ?? []),
      "devices:",
      ...loads.flatMap((l) => l.devices()),
      "",
    ].join("\n"),
  );
  const gw = new GatewayProcess(configFile, httpPort, configEnv);
  ctx.after(() => gw.kill9());
  return { iggy, gw, loads, loadNames, dataDir, rng };
}

/** Every sample of the gateway's /metrics, keyed as printed (`name{labels}` or a bare name). */
export async function metricsOf(gw: GatewayProcess): Promise<Map<string, number>> {
  const { body } = await gw.get("/metrics");
  const out = new Map<string, number>();
  for (const line of body.split("\n")) {
    if (line.startsWith("#") || !line) continue;
    const cut = line.lastIndexOf(" ");
    out.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return out;
}

/** Readings in the buffer not yet confirmed by Iggy. */
export async function depthOf(gw: GatewayProcess): Promise<number> {
  return (await gw.metric("iggy_edge_buffer_readings")) ?? 0;
}

/** Waits until the buffer is empty; resolves with the seconds it took and the deepest depth seen. */
export async function drainBuffer(
  gw: GatewayProcess,
  limitMs = 600_000,
): Promise<{ seconds: number; peakDepth: number }> {
  const started = Date.now();
  let peakDepth = 0;
  await until(
    "the backlog to drain (buffer empty)",
    async () => {
      const d = await depthOf(gw);
      peakDepth = Math.max(peakDepth, d);
      return d === 0;
    },
    limitMs,
    100,
  );
  return { seconds: (Date.now() - started) / 1000, peakDepth };
}

/** The loads' last messages, then the gateway runs until every load settled and the buffer is empty. */
export async function finishLoads(m: MixedLoad): Promise<void> {
  for (const l of m.loads) await l.finish(m.gw);
  await until(
    "the drain (every load settled, buffer empty)",
    async () =>
      (await Promise.all(m.loads.map((l) => l.settled(m.gw)))).every(Boolean) && (await depthOf(m.gw)) === 0,
    600_000,
    100,
  );
}

/**
 * Reads Iggy (directly, not through any proxy) with the Python SDK and judges what is there:
 * every acknowledged reading once, in order per device and in buffer sequence, ids unique.
 * The gateway must be stopped first.
 */
export async function judgeIggy(
  m: MixedLoad,
  options: DrillOptions,
  drillName: string,
): Promise<Pick<DrillResult, "figures" | "findings"> & { details: Record<string, unknown> }> {
  const stored: StoredReading[] = await readIggyWithPythonSdk({
    address: m.iggy.address,
    ...m.iggy.credentials,
    stream: STREAM,
    topic: TOPIC,
    partition: 0,
  });
  const seq = judgeSequence(stored);
  const verdicts: LoadVerdict[] = m.loads.map((l) => l.verdict(stored, m.gw.starts));
  const sum = (k: keyof LoadVerdict) => verdicts.reduce((n, v) => n + ((v[k] as number | undefined) ?? 0), 0);
  const findings: string[] = [];
  for (const v of verdicts) {
    if (v.lost)
      findings.push(
        `${v.load}: ${v.lost} ${v.committed === undefined ? "acknowledged" : "committed"} readings lost (${v.notes.join("; ")})`,
      );
    if (v.doubled) findings.push(`${v.load}: ${v.doubled} readings doubled`);
    if (v.outOfOrder) findings.push(`${v.load}: ${v.outOfOrder} readings out of order`);
  }
  if (seq.seqTwice) findings.push(`${seq.seqTwice} buffer sequence numbers twice in Iggy`);
  if (seq.seqOutOfOrder) findings.push(`${seq.seqOutOfOrder} readings out of sequence order`);
  if (seq.idTwice) findings.push(`${seq.idTwice} message ids twice`);
  if (seq.idMismatch) findings.push(`${seq.idMismatch} message ids not ending in their first_seq`);
  for (const c of m.gw.crashes) findings.push(`the gateway exited on its own: ${c}`);
  const details: Record<string, unknown> = {
    seed: options.seed,
    loads: verdicts,
    sequence: seq,
    gatewayWarnings: m.gw.warnings.slice(0, 50),
  };
  if (findings.length > 0) {
    const evidence = join(options.outDir, `${drillName}-seed-${options.seed}-iggy.jsonl`);
    writeFileSync(evidence, stored.map((r) => JSON.stringify(r)).join("\n") + "\n");
    details.evidence = evidence;
    options.log(`what Iggy holds, as read: ${evidence}`);
  }
  return {
    figures: {
      acknowledged: sum("acknowledged"),
      committed_polled: sum("committed"),
      lost: sum("lost"),
      doubled: sum("doubled") + seq.seqTwice,
      out_of_order: sum("outOfOrder") + seq.seqOutOfOrder,
      redelivered_by_peer: sum("redelivered"),
      sequence_jumps: seq.seqJumps,
      ...Object.fromEntries(
        verdicts.flatMap((v) => [
          [
            `${v.load}_${v.committed === undefined ? "acknowledged" : "committed"}`,
            v.committed ?? v.acknowledged,
          ],
          [`${v.load}_in_iggy`, v.found],
        ]),
      ),
      readings_in_iggy: seq.readings,
      messages_in_iggy: seq.messages,
      crashes: m.gw.crashes.length,
    },
    findings,
    details,
  };
}

export function skippedResult(ctx: DrillContext): DrillResult {
  return { ok: true, skipped: ctx.skipped ?? "skipped", figures: {}, findings: [] };
}
