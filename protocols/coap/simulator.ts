// Simulated CoAP devices, from the same device map the gateway reads. A device with a `url` serves its
// points' resources there (GET, observable with RFC 7641 notifications on every change, PUT/POST to
// writable points); a server-mode device also pushes its readings to the gateway's CoAP server
// (confirmable POSTs, one at a time, retried after a 5.03's Max-Age). Values of read-only numeric
// points change every `animateMs`. Faults on demand: drop (no answer, nothing pushed), delay=MS,
// error=CODE (answers 5.xx), garbage (answers and pushes a payload no decoder reads).
import { Agent, createServer, type IncomingMessage, type OutgoingMessage, type Server } from "coap";
import { createSocket, type Socket } from "node:dgram";
import type { Logger } from "pino";
import pino from "pino";
import type { Simulator } from "../adapter.js";
import { parseFaultSpec, type FaultKind } from "../fault-spec.js";
import { Waker } from "../sleep.js";
import { exchange, targetOf, type Target } from "./exchange.js";
import { FORMAT_NUMBER, formatOf, parsePayload, pointValue } from "./payload.js";
import type { CoapDeviceConfig, CoapPointConfig } from "./schema.js";

export type SimFault =
  { kind: "drop" } | { kind: "delay"; ms: number } | { kind: "error"; code: number } | { kind: "garbage" };

const FAULT_KINDS: Record<SimFault["kind"], FaultKind> = {
  drop: {},
  delay: { number: "MS" },
  error: { number: "CODE", min: 500, max: 505 },
  garbage: {},
};

/** `DEVICE:drop`, `DEVICE:delay=MS`, `DEVICE:error=503`, `DEVICE:garbage` (IGGY_EDGE_COAP_FAULTS). */
export function parseFaults(spec: string | undefined): Map<string, SimFault> {
  const out = new Map<string, SimFault>();
  for (const [device, e] of parseFaultSpec(spec, FAULT_KINDS, "IGGY_EDGE_COAP_FAULTS")) {
    out.set(
      device,
      e.kind === "delay"
        ? { kind: "delay", ms: e.value! }
        : e.kind === "error"
          ? { kind: "error", code: e.value! }
          : { kind: e.kind },
    );
  }
  return out;
}

export interface CoapSimulatorOptions {
  log?: Logger;
  /** Read-only numeric points change this often (ms); 0: only `set` changes them. */
  animateMs?: number;
  /** Where server-mode devices push (the gateway's CoAP server); absent: they do not push. */
  gateway?: Target;
  /** A pushing device sends all its points this often when it has nothing else to send (ms); 0: only on change. */
  pushEveryMs?: number;
  /** Max-Age of notifications (s). */
  maxAgeS?: number;
  faults?: Map<string, SimFault>;
}

export interface SimCounts {
  /** Requests that reached the device's server (dropped ones too). */
  requests: number;
  /** Writes taken (PUT/POST to a writable point). */
  writes: number;
  /** Readings pushed and answered 2.xx by the gateway. */
  acked: number;
  /** Pushes attempted (sent or, while dropping, lost). */
  pushes: number;
  /** Observers registered now. */
  observers: number;
}

interface Observer {
  path: string;
  res: OutgoingMessage;
}

class SimDevice {
  readonly values = new Map<string, number | string | boolean>();
  readonly counts: SimCounts = { requests: 0, writes: 0, acked: 0, pushes: 0, observers: 0 };
  readonly observers = new Set<Observer>();
  fault: SimFault | null = null;
  server: Server | null = null;
  socket: Socket | null = null;
  agent: Agent | null = null;
  agentSocket: Socket | null = null;
  readonly queue = new Set<string>();
  readonly waker = new Waker();
  loop: Promise<void> | null = null;

  constructor(readonly config: CoapDeviceConfig) {
    for (const p of config.points) this.values.set(p.name, initialValue(p));
  }

  point(name: string): CoapPointConfig {
    const p = this.config.points.find((x) => x.name === name);
    if (p === undefined) throw new Error(`device ${this.config.id} has no point ${name}`);
    return p;
  }
}

function initialValue(p: CoapPointConfig): number | string | boolean {
  if (p.decode === "string") return "ok";
  if (p.decode === "boolean") return false;
  if (typeof p.write === "object" && p.write.min !== undefined) return p.write.min;
  return 0;
}

function encode(p: CoapPointConfig, v: number | string | boolean): { payload: Buffer; format: number } {
  if (typeof p.decode === "object") {
    const doc: Record<string, unknown> = {};
    const keys = p.decode.json.split(".");
    let cur = doc;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) cur[k] = v;
      else cur = cur[k] = {} as Record<string, unknown>;
    });
    return { payload: Buffer.from(JSON.stringify(doc)), format: FORMAT_NUMBER.json };
  }
  return { payload: Buffer.from(String(v)), format: FORMAT_NUMBER.text };
}

const GARBAGE = Buffer.from("\u00ff garbage");

export class CoapSimulator implements Simulator {
  private readonly devices = new Map<string, SimDevice>();
  private readonly log: Logger;
  private running = false;
  private animator: NodeJS.Timeout | null = null;
  private gateway: Target | undefined;

  constructor(
    devices: CoapDeviceConfig[],
    private readonly opts: CoapSimulatorOptions = {},
  ) {
    this.log = opts.log ?? pino({ level: "silent" });
    for (const d of devices) this.devices.set(d.id, new SimDevice(d));
    for (const [id, f] of opts.faults ?? []) this.must(id).fault = f;
    this.gateway = opts.gateway;
  }

  async start(): Promise<void> {
    this.running = true;
    for (const d of this.devices.values()) if (d.config.connection.url !== undefined) await this.serve(d);
    if (this.gateway !== undefined) this.pushTo(this.gateway);
    const every = this.opts.animateMs ?? 1000;
    if (every > 0) this.animator = setInterval(() => this.animate(), every);
  }

  /** Server-mode devices start pushing to the gateway at `target`. */
  pushTo(target: Target): void {
    this.gateway = target;
    for (const d of this.devices.values()) {
      if (d.config.connection.mode !== "server" || d.loop !== null) continue;
      d.agentSocket = createSocket(target.host.includes(":") ? "udp6" : "udp4");
      d.agentSocket.on("error", () => {});
      d.agentSocket.bind(0);
      d.agent = new Agent({ type: target.host.includes(":") ? "udp6" : "udp4", socket: d.agentSocket });
      d.agent.on("error", () => {});
      for (const p of d.config.points) d.queue.add(p.name);
      d.loop = this.pushLoop(d);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.animator !== null) clearInterval(this.animator);
    this.animator = null;
    await this.stopPushers();
    for (const d of this.devices.values()) await this.unserve(d);
  }

  /** Stops only the pushing side of the devices (their servers keep serving). */
  async stopPushers(): Promise<void> {
    const devices = [...this.devices.values()];
    for (const d of devices) d.waker.wake();
    const loops = devices.map((d) => d.loop);
    const wasRunning = this.running;
    this.running = false;
    await Promise.all(loops);
    this.running = wasRunning;
    for (const d of devices) {
      d.loop = null;
      d.agent?.close();
      d.agent = null;
      try {
        d.agentSocket?.close();
      } catch {
        // closed already
      }
      d.agentSocket = null;
    }
  }

  /** Where the device's server listens (its url's port, or the free port it got for port 0). */
  address(id: string): Target {
    const d = this.must(id);
    if (d.socket === null) throw new Error(`device ${id} serves nothing (no url)`);
    const a = d.socket.address();
    return { host: a.address, port: a.port };
  }

  set(id: string, point: string, value: number | string | boolean): void {
    const d = this.must(id);
    d.point(point);
    d.values.set(point, value);
    this.changed(d, point);
  }

  get(id: string, point: string): number | string | boolean | undefined {
    return this.must(id).values.get(point);
  }

  fault(id: string, f: SimFault | null): void {
    const d = this.must(id);
    d.fault = f;
    if (f === null) d.waker.wake();
  }

  counts(): Record<string, SimCounts> {
    const out: Record<string, SimCounts> = {};
    for (const [id, d] of this.devices) out[id] = { ...d.counts, observers: d.observers.size };
    return out;
  }

  /** A request of the device to the gateway, answered whatever it says (a GET of its first path). */
  async probe(id: string): Promise<string> {
    const d = this.must(id);
    if (d.agent === null || this.gateway === undefined) throw new Error(`device ${id} does not push`);
    const x = exchange(d.agent, this.gateway, {
      method: "GET",
      path: d.config.points[0]!.path,
      timeoutMs: 30_000,
    });
    return (await x.answer).code;
  }

  /** The device's server stops and starts again on the same port: its observers are forgotten. */
  async restart(id: string): Promise<void> {
    const d = this.must(id);
    const port = d.socket?.address().port;
    await this.unserve(d);
    await this.serve(d, port);
  }

  private must(id: string): SimDevice {
    const d = this.devices.get(id);
    if (d === undefined) throw new Error(`no simulated coap device ${id}`);
    return d;
  }

  private async serve(d: SimDevice, port?: number): Promise<void> {
    const target = targetOf(d.config.connection.url!);
    const socket = createSocket({ type: target.host.includes(":") ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(port ?? target.port, target.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    socket.on("error", (e) =>
      this.log.warn({ device: d.config.id, err: e.message }, "coap simulator socket error"),
    );
    // A dropping device takes no datagram at all (the coap package would send an empty ACK).
    const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
    (socket as unknown as { emit: typeof emit }).emit = (event: string, ...args: unknown[]) => {
      if (event === "message" && d.fault?.kind === "drop") {
        d.counts.requests++;
        return true;
      }
      return emit(event, ...args);
    };
    const server = createServer({ type: target.host.includes(":") ? "udp6" : "udp4" });
    server.on("request", (req: IncomingMessage, res: OutgoingMessage) => this.onRequest(d, req, res));
    server.on("error", () => {});
    await new Promise<void>((resolve) => server.listen(socket, () => resolve()));
    d.server = server;
    d.socket = socket;
  }

  private async unserve(d: SimDevice): Promise<void> {
    for (const o of d.observers) o.res.removeAllListeners("finish");
    d.observers.clear();
    const server = d.server;
    d.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    const socket = d.socket;
    d.socket = null;
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
  }

  private onRequest(d: SimDevice, req: IncomingMessage, res: OutgoingMessage): void {
    d.counts.requests++;
    res.on("error", () => {});
    const answer = (): void => {
      if (d.server === null) return;
      if (d.fault?.kind === "error") {
        res.code = `${Math.floor(d.fault.code / 100)}.${String(d.fault.code % 100).padStart(2, "0")}`;
        res.end("simulated fault");
        return;
      }
      const path = req.url.split("?")[0]!;
      const points = d.config.points.filter((p) => p.path === path);
      if (points.length === 0) {
        res.code = "4.04";
        res.end();
        return;
      }
      const point = points[0]!;
      if (req.method === "GET") return this.answerGet(d, point, req, res);
      if (req.method !== "PUT" && req.method !== "POST") {
        res.code = "4.05";
        res.end();
        return;
      }
      if (point.write === undefined) {
        res.code = "4.05";
        res.end(`${point.name} is read-only`);
        return;
      }
      try {
        const format = formatOf(req.headers["Content-Format"]) ?? "text";
        const parsed = parsePayload(format, req.payload);
        if (parsed.format === "senml") throw new Error("SenML writes are not taken");
        const v = pointValue(point, parsed);
        if (typeof v !== "number" && typeof v !== "string" && typeof v !== "boolean")
          throw new Error("not a value");
        d.counts.writes++;
        d.values.set(point.name, v);
        this.changed(d, point.name);
        res.code = "2.04";
        res.end();
      } catch (e) {
        res.code = "4.00";
        res.end((e as Error).message);
      }
    };
    if (d.fault?.kind === "delay") setTimeout(answer, d.fault.ms);
    else answer();
  }

  private answerGet(d: SimDevice, point: CoapPointConfig, req: IncomingMessage, res: OutgoingMessage): void {
    const { payload, format } = this.payloadOf(d, point);
    res.code = "2.05";
    res.setOption("Content-Format", format);
    res.setOption("Max-Age", this.opts.maxAgeS ?? 60);
    if (req.headers.Observe === 0) {
      const o: Observer = { path: point.path, res };
      d.observers.add(o);
      res.on("finish", () => d.observers.delete(o));
      res.write(payload);
      return;
    }
    res.end(payload);
  }

  private payloadOf(d: SimDevice, point: CoapPointConfig): { payload: Buffer; format: number } {
    if (d.fault?.kind === "garbage") return { payload: GARBAGE, format: FORMAT_NUMBER.text };
    return encode(point, d.values.get(point.name)!);
  }

  private changed(d: SimDevice, point: string): void {
    const p = d.point(point);
    for (const o of d.observers) {
      if (o.path !== p.path) continue;
      const { payload, format } = this.payloadOf(d, p);
      o.res.setOption("Content-Format", format);
      o.res.setOption("Max-Age", this.opts.maxAgeS ?? 60);
      o.res.write(payload);
    }
    if (d.loop !== null) {
      d.queue.add(point);
      d.waker.wake();
    }
  }

  private animate(): void {
    const t = Date.now() / 1000;
    for (const d of this.devices.values()) {
      for (const p of d.config.points) {
        if (p.write !== undefined || typeof d.values.get(p.name) !== "number") continue;
        d.values.set(p.name, Math.round((50 + 50 * Math.sin(t / 10 + p.name.length)) * 10) / 10);
        this.changed(d, p.name);
      }
    }
  }

  /** One request at a time (NSTART 1): the queued points, else all points every pushEveryMs. */
  private async pushLoop(d: SimDevice): Promise<void> {
    const every = this.opts.pushEveryMs ?? 0;
    while (this.running) {
      if (d.queue.size === 0) {
        await d.waker.sleep(every > 0 ? every : 60_000);
        if (!this.running) break;
        if (d.queue.size === 0 && every > 0) for (const p of d.config.points) d.queue.add(p.name);
        continue;
      }
      const name = d.queue.values().next().value!;
      d.queue.delete(name);
      d.counts.pushes++;
      if (d.fault?.kind === "drop") {
        // The link is down: the reading is kept for later, the device tries again.
        d.queue.add(name);
        await d.waker.sleep(every > 0 ? every : 100);
        continue;
      }
      const p = d.point(name);
      const { payload, format } =
        d.fault?.kind === "garbage" ? { payload: GARBAGE, format: 0 } : encode(p, d.values.get(name)!);
      if (d.fault?.kind === "garbage") d.fault = null; // one such message, then the device is sane again
      const x = exchange(d.agent!, this.gateway!, {
        method: "POST",
        path: p.path,
        payload,
        contentFormat: format,
        timeoutMs: 30_000,
      });
      try {
        const res = await x.answer;
        if (res.code.startsWith("2.")) d.counts.acked++;
        else if (res.code === "5.03" || res.code === "4.29") {
          const wait = typeof res.headers["Max-Age"] === "number" ? res.headers["Max-Age"] : 1;
          d.queue.add(name);
          await d.waker.sleep(wait * 1000);
        }
      } catch (e) {
        if (this.running) {
          this.log.debug({ device: d.config.id, err: (e as Error).message }, "coap simulator push failed");
          d.queue.add(name);
          await d.waker.sleep(every > 0 ? every : 100);
        }
      }
    }
  }
}
