// Server mode: the gateway's CoAP server, where devices PUT or POST readings to the paths of the
// device map. A request is answered 2.04 (PUT) or 2.01 (POST) only once its readings are committed;
// a refused append 5.03 with Max-Age; a malformed payload 4.00 with a diagnostic; an unknown path
// 4.04; a payload over the limit 4.13 (with Size1); a source over its rate 4.29 (with Max-Age).
// Retransmitted requests are answered from the coap package's response cache, bounded in bytes, and
// from the ingest's own record of the exchanges it committed (see `answered`).
import { createServer, parameters, type IncomingMessage, type OutgoingMessage, type Server } from "coap";
import type { AddressInfo } from "node:net";
import type { AdapterDeps, Emit, Reading } from "../adapter.js";
import { formatOf, parsePayload, PayloadError, pointValue, scaled, senmlMatches } from "./payload.js";
import type { CoapDeviceConfig, CoapPointConfig, CoapSectionConfig } from "./schema.js";

export interface Route {
  device: CoapDeviceConfig;
  points: CoapPointConfig[];
}

export interface IngestStats {
  requests: number;
  /** Answered 2.01/2.04 after their readings were committed. */
  acked: number;
  /** Readings the buffer refused (answered 5.03). */
  refused: number;
  /** Malformed payloads (4.00), unsupported formats (4.15). */
  malformed: number;
  notFound: number;
  tooLarge: number;
  rateLimited: number;
  /** Requests whose readings are being committed now. */
  inflight: number;
  /**
   * Retransmissions (same source, message id and token) that arrived while the first copy's readings
   * were being committed, or after its answer without the package's cache knowing it: answered with
   * the first copy's outcome, not stored again.
   */
  retransmitted: number;
}

export interface IngestOptions {
  section: CoapSectionConfig;
  /** `host:port` to listen on (port 0: a free port). */
  listen: string;
  deps: AdapterDeps;
  routes: Map<string, Route>;
  /** A request of the device arrived (whatever its fate): it is alive. */
  seen(device: string): void;
  /** A request was answered 2.xx `seconds` after it arrived (the commit's wait). */
  ackDelay?(seconds: number): void;
  /** A retransmission was answered with its first copy's outcome (counted in `retransmitted`). */
  retransmitted?(): void;
  /** Deadband: whether the reading of the point is worth keeping. */
  keep(device: string, point: CoapPointConfig, reading: Reading): boolean;
}

/** A token bucket per source address: `rate` a second, `burst` deep. */
class SourceLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}

  take(source: string, now = performance.now()): boolean {
    let b = this.buckets.get(source);
    if (b === undefined) {
      // Bounded: a flood of spoofed sources costs at most this many entries before a sweep.
      if (this.buckets.size >= 10_000) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(source, b);
    }
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Seconds until the source has a token again. */
  wait(source: string): number {
    const b = this.buckets.get(source);
    return b === undefined ? 0 : Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  private sweep(now: number): void {
    for (const [k, b] of this.buckets)
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    if (this.buckets.size >= 10_000) this.buckets.clear();
  }
}

/** The device waits for the commit: its answer is the acknowledgement. */
const AWAITED = { awaited: true } as const;

/** An exchange's answer, given again to its retransmissions. */
interface Outcome {
  code: string;
  text?: string;
  options?: Record<string, number>;
}

/** The answer to every committed request. */
const CREATED: Outcome = { code: "2.01" };
const CHANGED: Outcome = { code: "2.04" };

/**
 * The exchanges committed in the last EXCHANGE_LIFETIME (RFC 7252: how long a retransmission can
 * come), oldest first, at most `limit` of them.
 */
export class AnsweredExchanges {
  private readonly entries = new Map<string, { outcome: Outcome; at: number }>();

  constructor(
    private readonly limit: number,
    private readonly lifetimeMs: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string, now = performance.now()): Outcome | undefined {
    this.expire(now);
    return this.entries.get(key)?.outcome;
  }

  set(key: string, outcome: Outcome, now = performance.now()): void {
    if (this.limit === 0) return;
    this.expire(now);
    this.entries.delete(key);
    this.entries.set(key, { outcome, at: now });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
  }

  private expire(now: number): void {
    for (const [key, e] of this.entries) {
      if (now - e.at < this.lifetimeMs) return;
      this.entries.delete(key);
    }
  }
}

/**
 * Source address and port, message id and token: what makes two datagrams the same request. Joined
 * rather than a template literal, whose result V8 keeps as a tree of its pieces (a cons string) in a
 * Map key: the answered record's entry took 331 bytes instead of ~165 (`npm run bench -- coap-dedup`).
 */
export function exchangeKey(req: Pick<IncomingMessage, "rsinfo" | "_packet">): string {
  const p = req._packet;
  return [`${req.rsinfo.address}:${req.rsinfo.port}`, p.messageId ?? "", p.token?.toString("hex") ?? ""].join(
    "/",
  );
}

function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = listen.slice(0, i).replace(/^\[|\]$/g, "");
  return { host, port: Number(listen.slice(i + 1)) };
}

export class CoapIngest {
  private server: Server | null = null;
  private emit: Emit | null = null;
  private open = false;
  private readonly limiter: SourceLimiter;
  private readonly counters: IngestStats = {
    requests: 0,
    acked: 0,
    refused: 0,
    malformed: 0,
    notFound: 0,
    tooLarge: 0,
    rateLimited: 0,
    inflight: 0,
    retransmitted: 0,
  };
  /**
   * The coap package remembers a message only once it is answered, so a retransmission that comes
   * while the first copy waits for its commit reaches the handler again. Keyed like the package's
   * own cache; the value holds the retransmissions' responses, answered with the first copy's outcome.
   */
  private readonly committing = new Map<string, OutgoingMessage[]>();
  /**
   * When a commit outlasts the package's piggyback wait (50 ms), the package acknowledges the request
   * with an empty ACK and sends the answer later as a confirmable response of its own, which it caches
   * under that response's new message id: a retransmission of the request (sent before the device saw
   * the empty ACK, arriving after the answer) finds nothing in its cache. This keeps the outcome of
   * each exchange answered that way for EXCHANGE_LIFETIME, at most as many as the package's cache.
   */
  private readonly answered: AnsweredExchanges;

  constructor(private readonly opts: IngestOptions) {
    this.limiter = new SourceLimiter(opts.section.source_rate, opts.section.source_burst);
    this.answered = new AnsweredExchanges(
      Math.floor(opts.section.dedup_cache_bytes / 4),
      parameters.exchangeLifetime * 1000,
    );
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    const { host, port } = parseListen(this.opts.listen);
    const server = createServer({
      type: host.includes(":") ? "udp6" : "udp4",
      cacheSize: this.opts.section.dedup_cache_bytes,
      reuseAddr: false,
    });
    server.on("request", (req: IncomingMessage, res: OutgoingMessage) => this.onRequest(req, res));
    server.on("error", (e: Error) => this.opts.deps.log.warn({ err: e.message }, "coap server error"));
    await new Promise<void>((resolve, reject) => {
      server.listen(port, host, (err?: Error) => (err ? reject(err) : resolve()));
    });
    this.server = server;
    this.open = true;
    this.opts.deps.log.info({ listen: this.address() }, "coap server listening");
  }

  address(): { host: string; port: number } | null {
    const sock = this.server?._sock as { address?: () => AddressInfo } | null | undefined;
    if (!sock?.address) return null;
    const a = sock.address();
    return { host: a.address, port: a.port };
  }

  stats(): IngestStats {
    return { ...this.counters };
  }

  async stop(): Promise<void> {
    this.open = false;
    const server = this.server;
    this.server = null;
    if (server === null) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private answer(res: OutgoingMessage, code: string, text?: string, options?: Record<string, number>): void {
    if (!this.open) return; // the socket is closed: the device will retransmit to the next process
    res.code = code;
    if (options !== undefined)
      for (const [name, value] of Object.entries(options)) res.setOption(name, value);
    if (text !== undefined) res.setOption("Content-Format", "text/plain");
    res.end(text === undefined ? undefined : Buffer.from(text, "utf8"));
  }

  private countRetransmission(): void {
    this.counters.retransmitted++;
    this.opts.retransmitted?.();
  }

  private onRequest(req: IncomingMessage, res: OutgoingMessage): void {
    res.on("error", (e: Error) =>
      this.opts.deps.log.debug({ err: e.message }, "coap response not delivered"),
    );
    const exchange = exchangeKey(req);
    const copies = this.committing.get(exchange);
    if (copies !== undefined) {
      this.countRetransmission();
      copies.push(res);
      return;
    }
    const outcome = this.answered.get(exchange);
    if (outcome !== undefined) {
      this.countRetransmission();
      return this.answer(res, outcome.code, outcome.text, outcome.options);
    }
    this.counters.requests++;
    const source = req.rsinfo.address;
    if (!this.limiter.take(source)) {
      this.counters.rateLimited++;
      this.opts.deps.reject("rate_limited");
      return this.answer(res, "4.29", "too many requests from this address", {
        "Max-Age": this.limiter.wait(source),
      });
    }
    const q = req.url.indexOf("?");
    const path = q < 0 ? req.url : req.url.slice(0, q);
    const route = this.opts.routes.get(path);
    if (route === undefined) {
      this.counters.notFound++;
      return this.answer(res, "4.04", `no resource ${path}`);
    }
    const device = route.device.id;
    this.opts.seen(device);
    if (req.method !== "PUT" && req.method !== "POST") {
      return this.answer(res, "4.05", `${path} takes PUT or POST`);
    }
    const max = this.opts.section.max_request_bytes;
    if (req.payload.length > max) {
      this.counters.tooLarge++;
      this.opts.deps.reject("too_large", device);
      return this.answer(res, "4.13", `the payload is ${req.payload.length} bytes; at most ${max}`, {
        Size1: max,
      });
    }
    const format = formatOf(req.headers["Content-Format"]);
    if (format === null) {
      this.counters.malformed++;
      this.opts.deps.reject("unsupported_format", device);
      return this.answer(
        res,
        "4.15",
        `Content-Format ${String(req.headers["Content-Format"])} is not read here; send text/plain, JSON, CBOR or SenML`,
      );
    }
    let readings: Reading[];
    try {
      readings = this.readingsOf(route, format, req.payload);
    } catch (e) {
      const err = e instanceof PayloadError ? e : new PayloadError("bad_payload", (e as Error).message);
      this.counters.malformed++;
      this.opts.deps.reject(err.reason, device);
      this.opts.deps.log.debug(
        { device, path, reason: err.reason, err: err.message },
        "coap payload refused",
      );
      return this.answer(res, "4.00", `${err.reason}: ${err.message}`);
    }
    const success = req.method === "POST" ? CREATED : CHANGED;
    const kept = route.points.some((p) => p.deadband !== undefined)
      ? readings.filter((r) =>
          this.opts.keep(
            device,
            route.points.find((p) => p.name === r.point)!,
            r,
          ),
        )
      : readings;
    if (kept.length === 0) {
      this.counters.acked++;
      return this.answer(res, success.code);
    }
    this.counters.inflight++;
    const retransmissions: OutgoingMessage[] = [];
    this.committing.set(exchange, retransmissions);
    const arrived = performance.now();
    const answerAll = (outcome: Outcome): void => {
      this.committing.delete(exchange);
      // Still to be piggybacked on the ACK: the package caches it under the request's own key.
      if (res._packet.ack !== true) this.answered.set(exchange, outcome);
      this.answer(res, outcome.code, outcome.text, outcome.options);
      for (const copy of retransmissions) this.answer(copy, outcome.code, outcome.text, outcome.options);
    };
    this.emit!(kept, AWAITED).then(
      () => {
        this.counters.inflight--;
        this.counters.acked++;
        answerAll(success);
        this.opts.ackDelay?.((performance.now() - arrived) / 1000);
      },
      (e: Error) => {
        this.counters.inflight--;
        this.counters.refused++;
        this.opts.deps.log.debug({ device, err: e.message }, "coap readings refused by the buffer");
        answerAll({
          code: "5.03",
          text: `not stored: ${e.message}; retry later`,
          options: { "Max-Age": this.opts.section.busy_max_age_s },
        });
      },
    );
  }

  private readingsOf(
    route: Route,
    format: NonNullable<ReturnType<typeof formatOf>>,
    payload: Buffer,
  ): Reading[] {
    const now = Date.now();
    const parsed = parsePayload(format, payload, now);
    const device = route.device.id;
    const out: Reading[] = [];
    if (parsed.format === "senml") {
      for (const rec of parsed.records) {
        const point = route.points.find((p) => senmlMatches(p, rec.name));
        if (point === undefined) continue;
        const r: Reading = {
          device,
          point: point.name,
          ts: rec.ts,
          value: scaled(point, rec.value),
          quality: "good",
        };
        const unit = point.unit ?? rec.unit;
        if (unit !== undefined) r.unit = unit;
        if (point.tags !== undefined) r.tags = point.tags;
        out.push(r);
      }
      if (out.length === 0) {
        const names = parsed.records.map((r) => r.name).join(", ");
        throw new PayloadError(
          "unknown_senml_name",
          `no SenML record names a point of this resource (records: ${names || "none with a value"}; points: ${route.points.map((p) => p.senml ?? p.name).join(", ")})`,
        );
      }
      return out;
    }
    for (const point of route.points) {
      const r: Reading = {
        device,
        point: point.name,
        ts: now,
        value: scaled(point, pointValue(point, parsed)),
        quality: "good",
      };
      if (point.unit !== undefined) r.unit = point.unit;
      if (point.tags !== undefined) r.tags = point.tags;
      out.push(r);
    }
    return out;
  }
}
