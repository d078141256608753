// A load is one protocol's traffic in the kill -9 drill: the devices it adds to the gateway's
// config, the peers it runs, what it counts as acknowledged, and how it judges what reached Iggy.
// Adding a protocol to the drill is one new module here and one line in index.ts.
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import type { DrillContext, Rng } from "../kit.js";

export interface LoadEnv {
  ctx: DrillContext;
  rng: Rng;
  short: boolean;
  tmpDir: string;
  log(message: string): void;
  /** The gateway's embedded MQTT broker (every config has one; a load may leave it unused). */
  mqttPort: number;
  /** The gateway's config file, for simulators started from the same device map. */
  configFile: string;
  /** What a process reading that config needs in its environment (the secrets it references). */
  configEnv: NodeJS.ProcessEnv;
}

export interface LoadVerdict {
  load: string;
  /** Readings the device was told were taken (PUBACK, CoAP success), or for a polled source, none. */
  acknowledged: number;
  /** Readings of this load found in Iggy (each counted once). */
  found: number;
  /** Acknowledged readings not in Iggy. */
  lost: number;
  /** Readings in Iggy more than once that no peer sent more than once. */
  doubled: number;
  /** Readings of one device in Iggy out of the order they were sent in. */
  outOfOrder: number;
  /**
   * Readings a peer legitimately delivered twice (QoS1 redelivery by a site broker; an OPC-UA server's
   * initial value to a new subscription): reported, not a defect.
   */
  redelivered: number;
  /** Readings the gateway counted as committed from a polled or subscribed source (no acknowledgement). */
  committed?: number;
  notes: string[];
}

export interface Load {
  readonly name: string;
  /** Starts the load's peers (simulators, brokers). Missing peers: ctx.skip(...) and return. */
  prepare(env: LoadEnv): Promise<void>;
  /** YAML list items under `devices:` (indented by two spaces). */
  devices(): string[];
  /** Top-level sections of the gateway's config this load needs (`coap: {...}`), one YAML line each. */
  sections?(): string[];
  /** Once per gateway start, when it is ready: starts the traffic (in the background). */
  beginRound(gateway: GatewayProcess): Promise<void>;
  /** True once this round did enough for a kill to land in the middle of it (the drill kills when all are). */
  armed(gateway: GatewayProcess): Promise<boolean>;
  /** After the kill (or before the final drain): stops the traffic and closes its connections. */
  endRound(): Promise<void>;
  /** After the final round: whatever tells that everything sent can be in Iggy (a sentinel). */
  finish(gateway: GatewayProcess): Promise<void>;
  /** True once the gateway has taken in everything this load sent (the drain waits for it). */
  settled(gateway: GatewayProcess): Promise<boolean>;
  /** `gatewayStarts`: how often the gateway was started over the drill (each start may re-read a subscribed value). */
  verdict(stored: StoredReading[], gatewayStarts: number): LoadVerdict;
  close(): Promise<void>;
}

/** Per device: the values acknowledged, in the order they were sent. */
export class AckLedger {
  private readonly acked = new Map<string, Set<number>>();
  total = 0;

  add(device: string, value: number): void {
    let s = this.acked.get(device);
    if (!s) this.acked.set(device, (s = new Set()));
    s.add(value);
    this.total++;
  }

  devices(): string[] {
    return [...this.acked.keys()];
  }

  values(device: string): Set<number> {
    return this.acked.get(device) ?? new Set();
  }
}

/**
 * Judges counter readings (value = the sender's running count) of `devices` against the ledger:
 * lost = acknowledged and absent; a value present twice is `doubled` unless `redeliveryPossible`,
 * then `redelivered`; out of order = a first arrival smaller than an earlier one of the same device.
 */
export function judgeCounters(
  load: string,
  stored: StoredReading[],
  isMine: (r: StoredReading) => boolean,
  ledger: AckLedger,
  redeliveryPossible: boolean,
): LoadVerdict {
  const seen = new Map<string, Map<number, number>>();
  let outOfOrder = 0;
  const last = new Map<string, number>();
  let found = 0;
  let twice = 0;
  for (const r of stored) {
    if (!isMine(r) || typeof r.value !== "number") continue;
    let m = seen.get(r.device);
    if (!m) seen.set(r.device, (m = new Map()));
    const n = m.get(r.value) ?? 0;
    m.set(r.value, n + 1);
    if (n > 0) {
      twice++;
      continue;
    }
    found++;
    const prev = last.get(r.device);
    if (prev !== undefined && r.value < prev) outOfOrder++;
    last.set(r.device, r.value);
  }
  let lost = 0;
  const notes: string[] = [];
  for (const device of ledger.devices()) {
    const missing = [...ledger.values(device)].filter((v) => !seen.get(device)?.has(v));
    lost += missing.length;
    if (missing.length > 0)
      notes.push(
        `${device}: ${missing.length} acknowledged readings missing, first ${missing.slice(0, 5).join(", ")}`,
      );
  }
  return {
    load,
    acknowledged: ledger.total,
    found,
    lost,
    doubled: redeliveryPossible ? 0 : twice,
    outOfOrder,
    redelivered: redeliveryPossible ? twice : 0,
    notes,
  };
}

/**
 * What a polled or subscribed source (nobody acknowledges its readings) is judged by: the gateway's
 * own count of the readings it committed (`iggy_edge_readings_received_total` of the device, which
 * starts from 0 at every gateway start). What it had counted when last asked, summed over the
 * gateway's starts, is a lower bound of what must be in Iggy: fewer there = lost.
 */
export class CommittedCount {
  private readonly byStart = new Map<number, number>();
  private roundFrom = 0;

  constructor(
    private readonly protocol: string,
    readonly device: string,
  ) {}

  /** The gateway's count now (also remembered as the lower bound of its current start). */
  async observe(gateway: GatewayProcess): Promise<number> {
    const n =
      (await gateway.metric(
        `iggy_edge_readings_received_total{protocol="${this.protocol}",device="${this.device}"}`,
      )) ?? 0;
    const start = gateway.starts;
    this.byStart.set(start, Math.max(n, this.byStart.get(start) ?? 0));
    return n;
  }

  /** Marks where a round begins, so that `sinceRound` counts only its readings. */
  async beginRound(gateway: GatewayProcess): Promise<void> {
    this.roundFrom = await this.observe(gateway);
  }

  async sinceRound(gateway: GatewayProcess): Promise<number> {
    return (await this.observe(gateway)) - this.roundFrom;
  }

  /** Readings the gateway said it committed, over all its starts (as last asked). */
  get committed(): number {
    let n = 0;
    for (const v of this.byStart.values()) n += v;
    return n;
  }

  /** Readings of the device in Iggy (every copy) against the committed count: the shortfall is lost. */
  judge(load: string, stored: StoredReading[], notes: string[]): LoadVerdict {
    const found = stored.filter((r) => r.device === this.device).length;
    const lost = Math.max(0, this.committed - found);
    if (lost > 0)
      notes.push(`${this.device}: the gateway counted ${this.committed} committed, ${found} in Iggy`);
    return {
      load,
      acknowledged: 0,
      committed: this.committed,
      found,
      lost,
      doubled: 0,
      outOfOrder: 0,
      redelivered: 0,
      notes,
    };
  }
}

/**
 * A polled or subscribed load (Modbus, OPC-UA): each round arms after a random 0-10 readings the
 * gateway committed in it (0: the kill may land while the adapter connects), and the verdict is the
 * committed count against Iggy (CommittedCount).
 */
export abstract class PolledLoad implements Load {
  abstract readonly name: string;
  protected env!: LoadEnv;
  protected readonly count: CommittedCount;
  /** Rounds in which the gateway committed a reading of this load before the kill. */
  protected readRounds = 0;
  private target = 0;
  private armedThisRound = false;

  constructor(protocol: string, device: string) {
    this.count = new CommittedCount(protocol, device);
  }

  async prepare(env: LoadEnv): Promise<void> {
    this.env = env;
  }

  abstract devices(): string[];

  async beginRound(gateway: GatewayProcess): Promise<void> {
    await this.count.beginRound(gateway);
    this.target = this.env.rng.between(0, 10);
    this.armedThisRound = false;
  }

  async armed(gateway: GatewayProcess): Promise<boolean> {
    if (this.armedThisRound) return true;
    const n = await this.count.sinceRound(gateway);
    if (n >= this.target) {
      if (n > 0) this.readRounds++;
      this.armedThisRound = true;
    }
    return this.armedThisRound;
  }

  async endRound(): Promise<void> {}

  async finish(_gateway: GatewayProcess): Promise<void> {}

  /** Nothing to wait for; what the gateway counted by now is the lower bound of what Iggy must hold. */
  async settled(gateway: GatewayProcess): Promise<boolean> {
    await this.count.observe(gateway);
    return true;
  }

  abstract verdict(stored: StoredReading[], gatewayStarts: number): LoadVerdict;
  abstract close(): Promise<void>;
}
