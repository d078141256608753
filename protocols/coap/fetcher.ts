// Client mode: the gateway fetches a device's resources from the device's own CoAP server, either
// observing them (RFC 7641: one registration per path, registered again when no notification came
// within the lapse: the notification's Max-Age, 60 s by default, or the configured lapse_ms) or
// polling them (a GET per path every poll_ms). A request with no answer marks the device down; any
// answer (even an error code) marks it up.
import type { Agent, IncomingMessage, ObserveReadStream } from "coap";
import type { AdapterDeps, Reading } from "../adapter.js";
import { Backoff } from "../backoff.js";
import { Waker } from "../sleep.js";
import { codeName, exchange, NoAnswerError, targetOf, type Exchange, type Target } from "./exchange.js";
import { formatOf, parsePayload, PayloadError, pointValue, scaled, senmlMatches } from "./payload.js";
import type { CoapDeviceConfig, CoapPointConfig } from "./schema.js";

const DEFAULT_MAX_AGE_S = 60;
/** Allowance past Max-Age for a notification on its way (RFC 7641 section 3.3.1 leaves it to us). */
const LAPSE_MARGIN_MS = 2000;

export interface FetcherHooks {
  deps: AdapterDeps;
  up(device: string, fields?: Record<string, unknown>): void;
  down(device: string, error: string): void;
  /** Emits readings; resolves once committed (rejections counted by the caller). */
  deliver(device: string, readings: Reading[]): Promise<void>;
  keep(device: string, point: CoapPointConfig, reading: Reading): boolean;
}

interface Observation {
  path: string;
  points: CoapPointConfig[];
  stream: ObserveReadStream | null;
  pending: Exchange | null;
  /** When it is to be registered again, unless a notification comes first (ms, Date.now()). */
  lapseAt: number;
}

export interface FetcherStats {
  requests: number;
  notifications: number;
  registrations: number;
  noAnswer: number;
}

/** The observe or poll loop of one device. */
export class DeviceFetcher {
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly waker = new Waker();
  private readonly target: Target;
  private readonly paths: Map<string, CoapPointConfig[]>;
  private readonly observations: Observation[] = [];
  private readonly inflight = new Set<Exchange>();
  private readonly backoff = new Backoff({ initialMs: 100, maxMs: 5000 });
  readonly counters: FetcherStats = { requests: 0, notifications: 0, registrations: 0, noAnswer: 0 };

  constructor(
    private readonly device: CoapDeviceConfig,
    private readonly agent: Agent,
    private readonly hooks: FetcherHooks,
  ) {
    this.target = targetOf(device.connection.url!);
    this.paths = new Map();
    for (const p of device.points) this.paths.set(p.path, [...(this.paths.get(p.path) ?? []), p]);
  }

  start(): void {
    this.running = true;
    this.loop = this.device.connection.mode === "observe" ? this.observeLoop() : this.pollLoop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.waker.wake();
    for (const x of this.inflight) x.cancel();
    for (const o of this.observations) this.closeObservation(o);
    await this.loop;
  }

  /** One GET of every path now (outside the schedule); its readings are delivered like any other. */
  async pollOnce(): Promise<void> {
    await Promise.all([...this.paths].map(([path, points]) => this.get(path, points)));
  }

  private async pollLoop(): Promise<void> {
    while (this.running) {
      const began = Date.now();
      await this.pollOnce();
      if (!this.running) break;
      await this.waker.sleep(Math.max(0, this.device.poll_ms - (Date.now() - began)));
    }
  }

  private async get(path: string, points: CoapPointConfig[]): Promise<void> {
    const x = exchange(this.agent, this.target, {
      method: "GET",
      path,
      timeoutMs: this.device.connection.timeout_ms,
    });
    this.inflight.add(x);
    this.counters.requests++;
    try {
      const res = await x.answer;
      await this.onAnswer(path, points, res);
    } catch (e) {
      if (!this.running) return;
      if (e instanceof NoAnswerError) {
        this.counters.noAnswer++;
        this.hooks.down(this.device.id, e.message);
      } else this.hooks.down(this.device.id, (e as Error).message);
    } finally {
      this.inflight.delete(x);
    }
  }

  private async observeLoop(): Promise<void> {
    for (const [path, points] of this.paths) {
      this.observations.push({ path, points, stream: null, pending: null, lapseAt: 0 });
    }
    while (this.running) {
      const now = Date.now();
      const due = this.observations.filter((o) => o.pending === null && o.lapseAt <= now);
      for (const o of due) {
        if (o.stream !== null) {
          this.hooks.deps.log.info(
            { device: this.device.id, path: o.path },
            "coap observation lapsed; registering again",
          );
          this.closeObservation(o);
        }
      }
      const results = await Promise.all(due.map((o) => this.register(o)));
      if (!this.running) break;
      if (results.includes(false)) {
        await this.waker.sleep(this.backoff.next());
        continue;
      }
      if (due.length > 0) this.backoff.reset();
      const next = Math.min(...this.observations.map((o) => o.lapseAt));
      await this.waker.sleep(Math.max(10, next - Date.now()));
    }
  }

  /** Registers the observation; false when the device did not answer or refused. */
  private async register(o: Observation): Promise<boolean> {
    const x = exchange(this.agent, this.target, {
      method: "GET",
      path: o.path,
      observe: true,
      timeoutMs: this.device.connection.timeout_ms,
    });
    o.pending = x;
    this.inflight.add(x);
    this.counters.requests++;
    this.counters.registrations++;
    try {
      const res = await x.answer;
      if (!this.running) {
        (res as ObserveReadStream).close?.();
        return true;
      }
      const observing = typeof res.headers.Observe === "number" && res.code.startsWith("2.");
      if (observing) {
        const stream = res as ObserveReadStream;
        o.stream = stream;
        this.renew(o, res);
        // Later notifications (the first answer is read here, not from the stream).
        let first = true;
        stream.on("data", () => {
          if (first) {
            first = false;
            return;
          }
          if (o.stream !== stream) return;
          this.counters.notifications++;
          this.renew(o, stream);
          void this.onAnswer(o.path, o.points, stream);
        });
        stream.on("error", () => {});
      } else {
        // The resource is not observable (or answered an error): fetch it again after poll_ms.
        o.lapseAt = Date.now() + this.device.poll_ms;
        (res as ObserveReadStream).close?.();
      }
      await this.onAnswer(o.path, o.points, res);
      return res.code.startsWith("2.");
    } catch (e) {
      if (!this.running) return true;
      if (e instanceof NoAnswerError) this.counters.noAnswer++;
      this.hooks.down(this.device.id, (e as Error).message);
      o.lapseAt = 0;
      return false;
    } finally {
      o.pending = null;
      this.inflight.delete(x);
    }
  }

  private renew(o: Observation, res: IncomingMessage): void {
    const maxAge = typeof res.headers["Max-Age"] === "number" ? res.headers["Max-Age"] : DEFAULT_MAX_AGE_S;
    let lapse = maxAge * 1000 + LAPSE_MARGIN_MS;
    if (this.device.connection.lapse_ms !== undefined)
      lapse = Math.min(lapse, this.device.connection.lapse_ms);
    o.lapseAt = Date.now() + lapse;
    this.waker.wake();
  }

  private closeObservation(o: Observation): void {
    const s = o.stream;
    o.stream = null;
    // Not deregistered eagerly: a lapsed device is likely gone; its next notification gets a RST.
    s?.close(false);
  }

  /** An answer or notification: up, and its readings (or the code, counted) to the buffer. */
  private async onAnswer(path: string, points: CoapPointConfig[], res: IncomingMessage): Promise<void> {
    const device = this.device.id;
    this.backoff.reset();
    this.hooks.up(device);
    if (!res.code.startsWith("2.")) {
      this.hooks.deps.reject(`coap_${res.code}`, device);
      this.hooks.deps.log.debug({ device, path, code: codeName(res.code) }, "coap device answered an error");
      return;
    }
    let readings: Reading[];
    try {
      readings = this.readingsOf(points, res);
    } catch (e) {
      const err = e instanceof PayloadError ? e : new PayloadError("bad_payload", (e as Error).message);
      this.hooks.deps.reject(err.reason, device);
      this.hooks.deps.log.debug({ device, path, err: err.message }, "coap payload refused");
      return;
    }
    if (readings.length > 0) await this.hooks.deliver(device, readings);
  }

  private readingsOf(points: CoapPointConfig[], res: IncomingMessage): Reading[] {
    const format = formatOf(res.headers["Content-Format"]);
    if (format === null)
      throw new PayloadError("unsupported_format", `Content-Format ${String(res.headers["Content-Format"])}`);
    const now = Date.now();
    const parsed = parsePayload(format, res.payload, now);
    const device = this.device.id;
    const out: Reading[] = [];
    for (const point of points) {
      let r: Reading;
      if (parsed.format === "senml") {
        const rec = parsed.records.find((x) => senmlMatches(point, x.name));
        if (rec === undefined) continue;
        r = { device, point: point.name, ts: rec.ts, value: scaled(point, rec.value), quality: "good" };
        if (rec.unit !== undefined) r.unit = rec.unit;
      } else {
        r = {
          device,
          point: point.name,
          ts: now,
          value: scaled(point, pointValue(point, parsed)),
          quality: "good",
        };
      }
      if (point.unit !== undefined) r.unit = point.unit;
      if (point.tags !== undefined) r.tags = point.tags;
      if (this.hooks.keep(device, point, r)) out.push(r);
    }
    return out;
  }
}
