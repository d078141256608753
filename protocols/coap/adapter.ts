// The CoAP adapter: one CoAP server for the server-mode devices (ingest.ts), one client socket for the
// devices it observes or polls (fetcher.ts) and for writes (PUT or POST to the point's resource on the
// device, confirmable; the answer's code is the write's result).
import { Agent } from "coap";
import { createSocket, type Socket } from "node:dgram";
import type {
  AdapterDeps,
  AdapterHealth,
  ConnectionHealth,
  Emit,
  PointRef,
  ProtocolAdapter,
  ProtocolContext,
  Reading,
  WriteValue,
} from "../adapter.js";
import { DeviceStates } from "../device-state.js";
import { codeName, encodeWrite, exchange, targetOf } from "./exchange.js";
import { DeviceFetcher, type FetcherStats } from "./fetcher.js";
import { CoapIngest, type IngestStats, type Route } from "./ingest.js";
import type { CoapDeviceConfig, CoapPointConfig, CoapSectionConfig } from "./schema.js";
import { COAP_SECTION_DEFAULTS } from "./section-defaults.js";

export class CoapWriteError extends Error {
  override name = "CoapWriteError";
}

export interface CoapAdapterOptions {
  /** Overrides `coap.listen` (tests: `127.0.0.1:0`). */
  listen?: string;
}

export interface CoapStats {
  server: IngestStats | null;
  /** Emits the buffer refused, from fetched (observed, polled) resources. */
  fetchRefused: number;
  /** Readings of each device committed. */
  committed: Record<string, number>;
  fetch: Record<string, FetcherStats>;
  writes: { ok: number; failed: number };
}

export class CoapAdapter implements ProtocolAdapter {
  readonly protocol = "coap";
  private readonly devices: Map<string, CoapDeviceConfig>;
  private readonly section: CoapSectionConfig;
  private readonly states: DeviceStates;
  private ingest: CoapIngest | null = null;
  private socket: Socket | null = null;
  private agent: Agent | null = null;
  private readonly fetchers = new Map<string, DeviceFetcher>();
  private readonly lastSeen = new Map<string, number>();
  private readonly lastKept = new Map<string, number>();
  /** Whether any point has a deadband (else no last value needs keeping). */
  private readonly deadbands: boolean;
  private silenceTimer: NodeJS.Timeout | null = null;
  private emit: Emit | null = null;
  private fetchRefused = 0;
  private ackDelayMs: number | null = null;
  /** `coap server host:port`, once listening: the connection's name in health and metrics. */
  private serverName: string | null = null;
  private readonly committed: Record<string, number> = {};
  private readonly writes = { ok: 0, failed: 0 };

  constructor(
    devices: CoapDeviceConfig[],
    context: ProtocolContext<CoapSectionConfig>,
    private readonly deps: AdapterDeps,
    private readonly options: CoapAdapterOptions = {},
  ) {
    this.devices = new Map(devices.map((d) => [d.id, d]));
    this.deadbands = devices.some((d) => d.points.some((p) => p.deadband !== undefined));
    this.section = context.section ?? COAP_SECTION_DEFAULTS;
    this.states = new DeviceStates(
      "coap",
      devices.map((d) => d.id),
      deps.log,
      "nothing heard from it yet",
    );
  }

  async start(emit: Emit): Promise<void> {
    if (this.emit !== null) throw new Error("the CoAP adapter is already started");
    this.emit = emit;
    const servers = [...this.devices.values()].filter((d) => d.connection.mode === "server");
    if (servers.length > 0) {
      const routes = new Map<string, Route>();
      for (const d of servers)
        for (const p of d.points) {
          const r = routes.get(p.path) ?? { device: d, points: [] };
          r.points.push(p);
          routes.set(p.path, r);
        }
      this.ingest = new CoapIngest({
        section: this.section,
        listen: this.options.listen ?? this.section.listen,
        deps: this.deps,
        routes,
        seen: (id) => this.seen(id),
        keep: (id, p, r) => this.keep(id, p, r),
        ackDelay: (seconds) => {
          this.ackDelayMs = this.ackDelayMs === null ? seconds * 1000 : this.ackDelayMs * 0.9 + seconds * 100;
          // The name is kept from the start: asking the socket for its address costs a system call.
          if (this.serverName !== null) this.deps.ackDelay?.(this.serverName, seconds);
        },
        retransmitted: () => {
          if (this.serverName !== null) this.deps.retransmitted?.(this.serverName);
        },
      });
      const guarded: Emit = async (readings, options) => {
        await emit(readings, options);
        this.count(readings);
      };
      await this.ingest.start(guarded);
      const at = this.ingest.address();
      this.serverName = at === null ? null : `coap server ${at.host}:${at.port}`;
      const silences = servers.flatMap((d) =>
        d.connection.silence_ms === undefined ? [] : [d.connection.silence_ms],
      );
      if (silences.length > 0) {
        const every = Math.max(20, Math.min(...silences) / 4);
        this.silenceTimer = setInterval(() => this.checkSilence(), every);
      }
    }
    const fetched = [...this.devices.values()].filter((d) => d.connection.mode !== "server");
    for (const d of fetched) {
      const fetcher = new DeviceFetcher(d, this.clientAgent(), {
        deps: this.deps,
        up: (id) => this.states.up(id),
        down: (id, error) => this.states.down(id, error),
        deliver: (id, readings) => this.deliver(id, readings),
        keep: (id, p, r) => this.keep(id, p, r),
      });
      this.fetchers.set(d.id, fetcher);
      fetcher.start();
    }
  }

  async stop(): Promise<void> {
    if (this.silenceTimer !== null) clearInterval(this.silenceTimer);
    this.silenceTimer = null;
    await Promise.all([...this.fetchers.values()].map((f) => f.stop()));
    this.fetchers.clear();
    await this.ingest?.stop();
    this.ingest = null;
    this.serverName = null;
    this.closeAgent();
  }

  /** The address the CoAP server listens on, once started (null without server-mode devices). */
  serverAddress(): { host: string; port: number } | null {
    return this.ingest?.address() ?? null;
  }

  stats(): CoapStats {
    const fetch: Record<string, FetcherStats> = {};
    for (const [id, f] of this.fetchers) fetch[id] = { ...f.counters };
    return {
      server: this.ingest?.stats() ?? null,
      fetchRefused: this.fetchRefused,
      committed: { ...this.committed },
      fetch,
      writes: { ...this.writes },
    };
  }

  /** A fetch of every resource of an observed or polled device now, outside its schedule. */
  async pollOnce(device: string): Promise<void> {
    const f = this.fetchers.get(device);
    if (f === undefined)
      throw new Error(`coap device ${device} is not fetched (mode server, or not started)`);
    await f.pollOnce();
  }

  async write(target: PointRef, value: WriteValue): Promise<void> {
    const device = this.devices.get(target.device);
    const point = device?.points.find((p) => p.name === target.point);
    if (device === undefined || point === undefined)
      throw new CoapWriteError(`no CoAP point ${target.device}/${target.point}`);
    checkWrite(device, point, value);
    if (device.connection.url === undefined)
      throw new CoapWriteError(`device ${device.id} has no url to write to (connection.url)`);
    const { payload, format } = encodeWrite(point, value);
    const x = exchange(this.clientAgent(), targetOf(device.connection.url), {
      method: point.method,
      path: point.path,
      payload,
      contentFormat: format,
      timeoutMs: device.connection.timeout_ms,
    });
    let code: string;
    try {
      code = (await x.answer).code;
    } catch (e) {
      this.writes.failed++;
      throw new CoapWriteError(`write to ${device.id}/${point.name}: ${(e as Error).message}`);
    }
    if (!code.startsWith("2.")) {
      this.writes.failed++;
      throw new CoapWriteError(
        `device ${device.id} answered the write to ${point.path} with ${codeName(code)}`,
      );
    }
    this.writes.ok++;
  }

  health(): AdapterHealth {
    const h: AdapterHealth = { protocol: "coap", devices: this.states.all() };
    const s = this.ingest?.stats();
    if (s !== undefined && this.serverName !== null) {
      const conn: ConnectionHealth = {
        name: this.serverName,
        up: true,
        inflight: s.inflight,
        inflight_limit: this.section.source_burst,
        acknowledged: s.acked,
        ack_delay_ms: this.ackDelayMs,
      };
      h.connections = [conn];
    }
    return h;
  }

  private clientAgent(): Agent {
    if (this.agent === null) {
      // Our own socket: the package closes a socket of its own making whenever no request is open.
      this.socket = createSocket("udp4");
      this.socket.on("error", (e) => this.deps.log.warn({ err: e.message }, "coap client socket error"));
      this.socket.bind(0);
      this.agent = new Agent({ type: "udp4", socket: this.socket });
      this.agent.on("error", (e: Error) => this.deps.log.warn({ err: e.message }, "coap client error"));
    }
    return this.agent;
  }

  private closeAgent(): void {
    const agent = this.agent;
    this.agent = null;
    agent?.close();
    const socket = this.socket;
    this.socket = null;
    try {
      socket?.close();
    } catch {
      // already closed
    }
  }

  /** Committed readings: counted, and the deadband's reference values moved on. */
  private count(readings: Reading[]): void {
    for (const r of readings) {
      this.committed[r.device] = (this.committed[r.device] ?? 0) + 1;
      if (this.deadbands && typeof r.value === "number")
        this.lastKept.set(`${r.device}\u0000${r.point}`, r.value);
    }
  }

  private async deliver(device: string, readings: Reading[]): Promise<void> {
    try {
      await this.emit!(readings);
      this.count(readings);
    } catch (e) {
      this.fetchRefused++;
      this.deps.log.warn({ device, err: (e as Error).message }, "coap readings refused by the buffer");
      // A refused observed value comes back with its next notification (or the next lapse's fetch).
    }
  }

  private seen(device: string): void {
    this.lastSeen.set(device, performance.now());
    this.states.up(device);
  }

  private checkSilence(): void {
    const now = performance.now();
    for (const d of this.devices.values()) {
      const limit = d.connection.silence_ms;
      if (d.connection.mode !== "server" || limit === undefined) continue;
      const last = this.lastSeen.get(d.id);
      if (last !== undefined && now - last > limit) {
        this.states.down(d.id, `no request from it for more than ${limit} ms`);
      }
    }
  }

  /** Deadband: a number within `deadband` of the point's last committed value is not kept. */
  private keep(device: string, point: CoapPointConfig, r: Reading): boolean {
    if (point.deadband === undefined || typeof r.value !== "number") return true;
    const last = this.lastKept.get(`${device}\u0000${point.name}`);
    return last === undefined || Math.abs(r.value - last) >= point.deadband;
  }
}

/** The gateway has checked already; checked again here, before anything leaves. */
export function checkWrite(device: CoapDeviceConfig, point: CoapPointConfig, value: WriteValue): void {
  const w = point.write;
  if (w === undefined)
    throw new CoapWriteError(
      `point ${device.id}/${point.name} is not writable (the config declares no write: for it)`,
    );
  if (w === true || (w.min === undefined && w.max === undefined)) return;
  const range = `${w.min ?? "-inf"} to ${w.max ?? "inf"}`;
  if (typeof value !== "number" && typeof value !== "bigint")
    throw new CoapWriteError(`point ${device.id}/${point.name} takes a number from ${range}`);
  const n = Number(value);
  if ((w.min !== undefined && n < w.min) || (w.max !== undefined && n > w.max))
    throw new CoapWriteError(`${n} is outside the write range of ${device.id}/${point.name} (${range})`);
}
