// What /api/status reports: the gateway, its devices with their state and last values, the buffer
// and the Iggy link. Parts register a provider; the board keeps only the last value of each
// configured point, so it stays as small as the device map.
import type { AdapterHealth, ConnectionHealth, Reading } from "../protocols/adapter.js";

export interface LastValue {
  value: string | number | boolean | null;
  ts: number;
  quality: string;
  unit?: string;
}

export interface DeviceStatus {
  id: string;
  protocol: string;
  up: boolean | null;
  error?: string;
  since?: number;
  points: Record<string, LastValue>;
}

export interface Status {
  gateway: string;
  version: string;
  started_at: string;
  uptime_s: number;
  ready: boolean;
  /** Why the gateway is not ready (what /readyz answers with 503); empty when ready. */
  not_ready: string[];
  devices: DeviceStatus[];
  /** Connections an adapter keeps for several devices (MQTT site brokers), with what is in flight. */
  connections: ConnectionStatus[];
  buffer: Record<string, unknown> | null;
  iggy: Record<string, unknown> | null;
  /** The command router: its partition and offsets, and the last commands answered (absent when off). */
  commands?: Record<string, unknown> | null;
}

export interface ConnectionStatus extends ConnectionHealth {
  protocol: string;
}

/** A reading's value as JSON can carry it: bigint as a decimal string, bytes as their length. */
export function displayValue(v: Reading["value"]): LastValue["value"] {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

export class StatusBoard {
  private readonly devices = new Map<string, DeviceStatus>();
  private readonly startedAt = Date.now();
  private healthSources: (() => AdapterHealth)[] = [];
  bufferStats: (() => Record<string, unknown>) | null = null;
  iggyStatus: (() => Record<string, unknown>) | null = null;
  commandsStatus: (() => Record<string, unknown>) | null = null;
  /** Set once everything started, cleared when stopping; the readiness checks must agree too. */
  ready = false;
  private readonly readinessChecks: (() => string | null)[] = [];

  constructor(
    readonly gateway: string,
    readonly version: string,
    devices: { id: string; protocol: string; points: { name: string }[] }[],
  ) {
    this.setDevices(devices);
  }

  /** On start and on a reload of the device map: keeps last values of points that still exist. */
  setDevices(devices: { id: string; protocol: string; points: { name: string }[] }[]): void {
    const old = new Map(this.devices);
    this.devices.clear();
    for (const d of devices) {
      const before = old.get(d.id)?.points ?? {};
      const points: Record<string, LastValue> = {};
      for (const p of d.points) if (before[p.name]) points[p.name] = before[p.name]!;
      this.devices.set(d.id, { id: d.id, protocol: d.protocol, up: null, points });
    }
  }

  /** A part that can make the gateway unready: `check` returns why, or null while all is well. */
  addReadinessCheck(check: () => string | null): void {
    this.readinessChecks.push(check);
  }

  /** What /readyz answers: ready, or every reason why not. */
  readiness(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.ready) reasons.push("the gateway is starting or stopping");
    for (const check of this.readinessChecks) {
      const why = check();
      if (why !== null) reasons.push(why);
    }
    return { ready: reasons.length === 0, reasons };
  }

  addHealthSource(source: () => AdapterHealth): void {
    this.healthSources.push(source);
  }

  clearHealthSources(): void {
    this.healthSources = [];
  }

  record(readings: readonly Reading[]): void {
    for (const r of readings) {
      const d = this.devices.get(r.device);
      if (!d) continue;
      // Updated in place: a new object a reading would live until the point's next reading, long
      // enough to be promoted to the old generation, which then fills with them between collections.
      const last = d.points[r.point];
      if (last === undefined) {
        const fresh: LastValue = { value: displayValue(r.value), ts: r.ts, quality: r.quality };
        if (r.unit !== undefined) fresh.unit = r.unit;
        d.points[r.point] = fresh;
        continue;
      }
      last.value = displayValue(r.value);
      last.ts = r.ts;
      last.quality = r.quality;
      if (r.unit !== undefined) last.unit = r.unit;
      else if (last.unit !== undefined) delete last.unit;
    }
  }

  deviceUp(): Map<string, boolean> {
    const up = new Map<string, boolean>();
    for (const source of this.healthSources) for (const h of source().devices) up.set(h.device, h.up);
    return up;
  }

  connections(): ConnectionStatus[] {
    const out: ConnectionStatus[] = [];
    for (const source of this.healthSources) {
      const h = source();
      for (const c of h.connections ?? []) out.push({ protocol: h.protocol, ...c });
    }
    return out;
  }

  snapshot(): Status {
    const health = new Map<string, AdapterHealth["devices"][number]>();
    for (const source of this.healthSources) for (const h of source().devices) health.set(h.device, h);
    const readiness = this.readiness();
    return {
      gateway: this.gateway,
      version: this.version,
      started_at: new Date(this.startedAt).toISOString(),
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      ready: readiness.ready,
      not_ready: readiness.reasons,
      devices: [...this.devices.values()].map((d) => {
        const h = health.get(d.id);
        const out: DeviceStatus = { ...d, points: { ...d.points }, up: h ? h.up : null };
        if (h?.error) out.error = h.error;
        if (h) out.since = h.since;
        return out;
      }),
      connections: this.connections(),
      buffer: this.bufferStats?.() ?? null,
      iggy: this.iggyStatus?.() ?? null,
      ...(this.commandsStatus ? { commands: this.commandsStatus() } : {}),
    };
  }
}
