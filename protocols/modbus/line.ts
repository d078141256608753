// One scheduler per connection target (a TCP host:port or a serial line): it owns the modbus-serial
// client, connects and reconnects it, and runs one request at a time, so polls and writes of every
// unit id behind that target never collide. Writes jump the queue of polls. A failed connect is not
// retried more often than a backoff allows; while it backs off, requests fail fast instead of waiting,
// so the devices behind it are reported down promptly and nothing piles up.
import modbusSerial from "modbus-serial";

// modbus-serial is CommonJS; its module object is the client class, also exposed as `.default`.
const ModbusRTU = modbusSerial.default;
export type ModbusClient = InstanceType<typeof modbusSerial.default>;
import type { Logger } from "pino";
import { Backoff } from "../backoff.js";
import { sleep } from "../sleep.js";

export type LineKind = "tcp" | "rtu" | "rtu_over_tcp";

export interface LineSpec {
  kind: LineKind;
  host?: string | undefined;
  port?: number | undefined;
  serial?:
    | { path: string; baud: number; parity: "none" | "even" | "odd"; data_bits: 7 | 8; stop_bits: 1 | 2 }
    | undefined;
}

export function lineKey(spec: LineSpec): string {
  return spec.kind === "rtu"
    ? `serial:${spec.serial?.path ?? "?"}`
    : `${spec.kind}://${spec.host}:${spec.port}`;
}

export type ModbusErrorKind =
  /** The device answered with a Modbus exception response. */
  | "exception"
  /** No answer in time. */
  | "timeout"
  /** Could not open the connection or the serial port. */
  | "connect"
  /** An answer that does not parse, a connection reset, a port that closed. */
  | "protocol";

export class ModbusError extends Error {
  override name = "ModbusError";
  constructor(
    readonly kind: ModbusErrorKind,
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

export const EXCEPTION_NAMES: Record<number, string> = {
  1: "illegal function",
  2: "illegal data address",
  3: "illegal data value",
  4: "server device failure",
  5: "acknowledge",
  6: "server device busy",
  8: "memory parity error",
  10: "gateway path unavailable",
  11: "gateway target device failed to respond",
};

export function classify(err: unknown): ModbusError {
  if (err instanceof ModbusError) return err;
  const e = err as { modbusCode?: unknown; message?: unknown; name?: unknown; errno?: unknown };
  const message = typeof e?.message === "string" ? e.message : String(err);
  if (typeof e?.modbusCode === "number") {
    const code = e.modbusCode;
    return new ModbusError(
      "exception",
      `Modbus exception ${code} (${EXCEPTION_NAMES[code] ?? "unknown"})`,
      code,
    );
  }
  if (e?.name === "TransactionTimedOutError" || /timed out/i.test(message)) {
    return new ModbusError("timeout", "no answer (timed out)");
  }
  return new ModbusError("protocol", message);
}

export interface Job<T> {
  device: string;
  unit: number;
  timeoutMs: number;
  /** Writes go ahead of polls. */
  priority?: boolean;
  run(client: ModbusClient): Promise<T>;
}

interface Queued {
  job: Job<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

export interface LineStats {
  requests: number;
  connects: number;
  connectFailures: number;
}

const MAX_QUEUE = 10_000;

export class Line {
  readonly key: string;
  readonly stats: LineStats = { requests: 0, connects: 0, connectFailures: 0 };
  private client: ModbusClient | undefined;
  private connecting: Promise<ModbusClient> | undefined;
  private readonly polls: Queued[] = [];
  private readonly writes: Queued[] = [];
  private running = false;
  private closed = false;
  private connectError: ModbusError | undefined;
  private connectRetryAt = 0;
  private readonly connectBackoff = new Backoff({ initialMs: 1000, maxMs: 30_000 });
  /** After a timeout or a garbled answer the line is resynchronised before the next request. */
  private dirty = false;

  constructor(
    readonly spec: LineSpec,
    private readonly log: Logger,
    private readonly connectTimeoutMs: number,
  ) {
    this.key = lineKey(spec);
  }

  get queued(): number {
    return this.polls.length + this.writes.length;
  }

  request<T>(job: Job<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ModbusError("connect", "the adapter is stopped"));
    if (this.queued >= MAX_QUEUE) {
      return Promise.reject(new ModbusError("connect", `line ${this.key} has ${MAX_QUEUE} requests waiting`));
    }
    return new Promise<T>((resolve, reject) => {
      const q: Queued = { job: job as Job<unknown>, resolve: resolve as (v: unknown) => void, reject };
      (job.priority ? this.writes : this.polls).push(q);
      void this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new ModbusError("connect", "the adapter is stopped");
    for (const q of this.writes.splice(0)) q.reject(err);
    for (const q of this.polls.splice(0)) q.reject(err);
    await this.disconnect();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        const q = this.writes.shift() ?? this.polls.shift();
        if (q === undefined) break;
        try {
          q.resolve(await this.exec(q.job));
        } catch (e) {
          q.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async exec(job: Job<unknown>): Promise<unknown> {
    const client = await this.connected();
    if (this.dirty) await this.resync(client);
    this.stats.requests++;
    client.setID(job.unit);
    client.setTimeout(job.timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    try {
      // modbus-serial has its own timeout; this one is the backstop for a promise that never settles.
      return await Promise.race([
        job.run(client),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new ModbusError("timeout", "no answer (timed out)")),
            job.timeoutMs + 250,
          );
        }),
      ]);
    } catch (e) {
      const err = classify(e);
      if (err.kind === "timeout" || err.kind === "protocol") {
        if (this.spec.kind === "rtu") this.dirty = true;
        // A TCP stream after a timeout or a garbled frame may hold half a frame: start afresh.
        else await this.disconnect();
      }
      throw err;
    } finally {
      clearTimeout(timer);
      if (this.spec.kind === "rtu") await sleep(this.interFrameMs());
    }
  }

  /** Modbus RTU wants 3.5 character times of silence between frames. */
  private interFrameMs(): number {
    const baud = this.spec.serial?.baud ?? 9600;
    return Math.max(2, Math.ceil((3.5 * 11 * 1000) / baud));
  }

  private async resync(client: ModbusClient): Promise<void> {
    // Let a late answer arrive, then drop whatever the port buffered so it cannot be taken for the
    // next answer. (_buffer is modbus-serial's RTU receive buffer.)
    await sleep(Math.max(20, this.interFrameMs() * 4));
    const port = (client as unknown as { _port?: { _buffer?: Buffer } })._port;
    if (port && port._buffer !== undefined) port._buffer = Buffer.alloc(0);
    this.dirty = false;
  }

  private async connected(): Promise<ModbusClient> {
    if (this.client?.isOpen) return this.client;
    if (this.client) await this.disconnect();
    if (this.connecting) return this.connecting;
    if (Date.now() < this.connectRetryAt && this.connectError) throw this.connectError;
    this.connecting = this.open().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async open(): Promise<ModbusClient> {
    const client = new ModbusRTU();
    client.on("error", (e: unknown) =>
      this.log.debug({ line: this.key, err: String(e) }, "modbus line error"),
    );
    client.on("close", () => {
      if (this.client === client) this.client = undefined;
    });
    const s = this.spec;
    let timer: NodeJS.Timeout | undefined;
    try {
      const opening =
        s.kind === "tcp"
          ? client.connectTCP(s.host!, { port: s.port! })
          : s.kind === "rtu_over_tcp"
            ? // modbus-serial's "telnet" port is RTU framing on a raw TCP stream (its "TcpRTUBuffered" is MBAP).
              client.connectTelnet(s.host!, { port: s.port! })
            : client.connectRTUBuffered(s.serial!.path, {
                baudRate: s.serial!.baud,
                parity: s.serial!.parity,
                dataBits: s.serial!.data_bits,
                stopBits: s.serial!.stop_bits,
              });
      await Promise.race([
        opening,
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no connection within ${this.connectTimeoutMs} ms`)),
            this.connectTimeoutMs,
          );
        }),
      ]);
      this.stats.connects++;
      this.connectBackoff.reset();
      this.connectError = undefined;
      this.client = client;
      this.dirty = false;
      return client;
    } catch (e) {
      this.stats.connectFailures++;
      closeQuietly(client, s.kind === "rtu");
      const what =
        s.kind === "rtu"
          ? `cannot open serial port ${s.serial?.path}`
          : `cannot connect to ${s.host}:${s.port}`;
      let detail = e instanceof Error ? e.message : String(e);
      if (s.kind === "rtu" && /permission denied|EACCES/i.test(detail)) {
        detail += " (add the gateway's user to the dialout group: sudo usermod -aG dialout USER)";
      }
      this.connectError = new ModbusError("connect", `${what}: ${detail}`);
      this.connectRetryAt = Date.now() + this.connectBackoff.next();
      throw this.connectError;
    } finally {
      clearTimeout(timer);
    }
  }

  private async disconnect(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) closeQuietly(c, this.spec.kind === "rtu");
  }
}

function closeQuietly(c: ModbusClient, serial: boolean): void {
  try {
    (c as unknown as { removeAllListeners(e: string): void }).removeAllListeners("close");
    c.on("error", () => {});
    // destroy() tears a TCP socket down at once; for a serial port close() is the way.
    const port = (c as unknown as { _port?: { _client?: { destroy?: () => void } } })._port;
    if (!serial && port?._client?.destroy) port._client.destroy();
    else c.close(() => {});
  } catch {
    /* already closed */
  }
}
