// Which kept benchmark figures the charts draw: small explicit lists, matched by exact figure name.
// A listed figure missing from a kept file it names is reported (the list or the benchmark changed);
// a kept file that does not exist yet is skipped.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { BenchResult, Figure } from "../bench-kit.js";

/** Where a chart's numbers came from, for its caption. */
export interface Source {
  command: string;
  date: string;
  machine: { cpu: string; cores: number; node: string };
}

export interface Throughput {
  bench: string;
  figure: string;
  /** The protocol or path, as the chart names it. */
  label: string;
}

/** Throughput of each protocol beside the peer measured in the same run. */
export const THROUGHPUT: readonly Throughput[] = [
  { bench: "mqtt", figure: "qos1_acked_after_commit", label: "MQTT broker, QoS 1, acked after commit" },
  {
    bench: "mqtt",
    figure: "qos1_acked_after_commit_mqtt5",
    label: "MQTT 5 broker, QoS 1, acked after commit",
  },
  {
    bench: "mqtt-client",
    figure: "client_qos1_acked_after_commit",
    label: "MQTT client mode, QoS 1, acked after commit",
  },
  {
    bench: "coap",
    figure: "confirmable POSTs answered after commit, 10 clients",
    label: "CoAP confirmable POSTs, answered after commit",
  },
  {
    bench: "forward",
    figure: "drain of a 1,000,000-reading backlog (flatbuffers, sync full)",
    label: "Forwarding into Iggy: a 1,000,000-reading backlog drained",
  },
  // Issue 14's benchmark; the rate is paced by the simulator's changes, so both sides should match it.
  {
    bench: "opcua",
    figure: "10,000 items @ 1 s: notifications received",
    label: "OPC-UA subscriptions, 10,000 items at 1 s sampling",
  },
];

export interface LatencySet {
  bench: string;
  /** What was timed, as the chart names it. */
  label: string;
  /** Percentile (p50, p90, p99, max) -> figure name. */
  figures: Readonly<Record<string, string>>;
  /** Draw the figures' peers as a second series of this name. */
  peerLabel?: string;
}

/** End-to-end latency of a reading: the device's acknowledgement, and accepted -> confirmed by Iggy. */
export const LATENCY: readonly LatencySet[] = [
  {
    bench: "mqtt",
    label: "MQTT PUBLISH -> PUBACK after commit, 16 devices waiting (iggy-edge)",
    figures: {
      p50: "qos1_16_devices_waiting_for_puback_ack_p50",
      p99: "qos1_16_devices_waiting_for_puback_ack_p99",
    },
    peerLabel: "the same against Mosquitto",
  },
  {
    bench: "forward",
    label: "reading accepted -> confirmed by Iggy (1,000 readings/s, linger 20 ms)",
    figures: {
      p50: "accepted -> confirmed p50 (1,000 readings/s, linger 20 ms)",
      p99: "accepted -> confirmed p99",
    },
  },
];

/** Command -> device write -> result (issue 16's benchmark), drawn on its own chart. */
export const COMMAND_LATENCY: readonly LatencySet[] = [
  {
    bench: "commands",
    label: "command -> Modbus write -> result through Iggy and the gateway (100/s)",
    figures: {
      p50: "command -> write -> result (100/s, 3,000 commands) p50",
      p90: "command -> write -> result (100/s, 3,000 commands) p90",
      p99: "command -> write -> result (100/s, 3,000 commands) p99",
      max: "command -> write -> result (100/s, 3,000 commands) max",
    },
    peerLabel: "a bare modbus-serial write at the same pace",
  },
];

export class KeptResults {
  private readonly cache = new Map<string, BenchResult | null>();
  /** Listed figures that a kept file does not have: "bench: figure (it has: ...)". */
  readonly missing: string[] = [];

  constructor(private readonly dir: string) {}

  result(bench: string): BenchResult | null {
    if (!this.cache.has(bench)) {
      const path = join(this.dir, `${bench}.json`);
      this.cache.set(
        bench,
        existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as BenchResult) : null,
      );
    }
    return this.cache.get(bench)!;
  }

  /** The named figure of a kept result; null (and noted in `missing`) when the file lacks it. */
  figure(bench: string, name: string): Figure | null {
    const r = this.result(bench);
    if (!r) return null;
    const f = r.figures.find((x) => x.name === name);
    if (!f) {
      const has = r.figures.map((x) => JSON.stringify(x.name)).join(", ");
      this.missing.push(`${bench}.json has no figure ${JSON.stringify(name)} (it has: ${has})`);
      return null;
    }
    return f;
  }
}

export function benchSource(r: BenchResult): Source {
  // The kept file is what `--save` wrote (bench.ts refuses --save with --quick).
  return { command: `npm run bench -- ${r.benchmark} --save`, date: r.date, machine: r.machine };
}

export interface ThroughputRow {
  label: string;
  unit: string;
  value: number;
  peerName: string;
  peerValue: number;
}

export function pickThroughput(
  kept: KeptResults,
  list: readonly Throughput[] = THROUGHPUT,
): { rows: ThroughputRow[]; sources: Source[] } {
  const rows: ThroughputRow[] = [];
  const sources = new Map<string, Source>();
  for (const t of list) {
    const f = kept.figure(t.bench, t.figure);
    if (!f) continue;
    if (!f.peer) {
      kept.missing.push(`${t.bench}.json: figure ${JSON.stringify(t.figure)} has no peer to draw it against`);
      continue;
    }
    rows.push({
      label: t.label,
      unit: f.unit,
      value: f.value,
      peerName: f.peer.name,
      peerValue: f.peer.value,
    });
    sources.set(t.bench, benchSource(kept.result(t.bench)!));
  }
  return { rows, sources: [...sources.values()] };
}

export interface LatencyPoint {
  series: string;
  percentile: string;
  ms: number;
}

const TO_MS: Record<string, number> = { ms: 1, s: 1000, us: 0.001, µs: 0.001 };

export function pickLatency(
  kept: KeptResults,
  list: readonly LatencySet[],
): { points: LatencyPoint[]; sources: Source[] } {
  const points: LatencyPoint[] = [];
  const sources = new Map<string, Source>();
  for (const set of list) {
    for (const [percentile, name] of Object.entries(set.figures)) {
      const f = kept.figure(set.bench, name);
      if (!f) continue;
      const scale = TO_MS[f.unit];
      if (scale === undefined) {
        kept.missing.push(`${set.bench}.json: figure ${JSON.stringify(name)} is in ${f.unit}, not a time`);
        continue;
      }
      points.push({ series: set.label, percentile, ms: f.value * scale });
      if (set.peerLabel && f.peer)
        points.push({ series: set.peerLabel, percentile, ms: f.peer.value * scale });
      sources.set(set.bench, benchSource(kept.result(set.bench)!));
    }
  }
  return { points, sources: [...sources.values()] };
}
