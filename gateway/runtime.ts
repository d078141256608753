// The composition root: opens the buffer, connects the Iggy client and forwarder, starts one adapter
// per protocol in the config, and serves HTTP. Every part is started and stopped from here.
import { resolve } from "node:path";
import { getHeapSpaceStatistics } from "node:v8";
import type { Logger } from "pino";
import { Backoff } from "../protocols/backoff.js";
import { collectGarbage } from "../protocols/collect-garbage.js";
import { sleep } from "../protocols/sleep.js";
import {
  BufferError,
  BufferFormatError,
  bufferDir,
  openBuffer,
  type BufferOptions,
  type ReadingBuffer,
} from "../buffer/index.js";
import type { Emit, ProtocolAdapter, Reading } from "../protocols/adapter.js";
import {
  devicesByProtocol,
  loadProtocol,
  protocolContext,
  protocolPlugin,
  ProtocolNotAvailableError,
} from "../protocols/registry.js";
import { codecByName } from "./codecs/index.js";
import type { Config, LoadedConfig } from "./config.js";
import { DEFAULT_IGGY_CREDENTIALS, iggyCredentials } from "./iggy-credentials.js";
import { CommandLedger, ledgerPath } from "./commands/ledger.js";
import { CommandRouter } from "./commands/router.js";
import { Forwarder, type ForwarderOptions } from "./forwarder.js";
import { HttpEndpoint } from "./http.js";
import { IggyClient } from "./iggy/index.js";
import { MemoryReducer } from "./memory-reducer.js";
import { GatewayMetrics } from "./metrics.js";
import { StatusBoard } from "./status.js";
import { VERSION } from "./version.js";

/** The buffer's options as the config gives them (also used by `iggy-edge buffer -c FILE`). */
export function bufferOptions(config: Config): BufferOptions {
  return {
    dir: bufferDir(resolve(config.gateway.data_dir)),
    maxBytes: config.buffer.max_bytes,
    ...(config.buffer.max_rows === undefined ? {} : { maxRows: config.buffer.max_rows }),
    onFull: config.buffer.on_full,
    sync: config.buffer.sync,
    commitIntervalMs: config.buffer.commit_interval_ms,
    ackCommitGapMs: config.buffer.ack_commit_gap_ms,
    ackCommitEarly: config.buffer.ack_commit_early,
  };
}

/** The forwarder's options that come from the config (the runtime adds its metrics and fatal handler). */
export function forwarderOptions(config: Config, log: Logger): ForwarderOptions {
  const iggy = config.iggy;
  return {
    gatewayId: config.gateway.id,
    stream: iggy.stream,
    topic: iggy.topics.telemetry,
    createMissing: iggy.create_missing,
    partitions: iggy.partitions,
    codec: codecByName(iggy.codec),
    batch: {
      maxReadings: iggy.batch.max_readings,
      maxBytes: iggy.batch.max_bytes,
      lingerMs: iggy.batch.linger_ms,
    },
    pipeline: iggy.batch.pipeline,
    log: log.child({ component: "forwarder" }),
  };
}

/** A client of the config's Iggy server (the forwarder and the command router each have their own). */
export function iggyClient(config: Config, log: Logger): IggyClient {
  const iggy = config.iggy;
  const { isDefault: _isDefault, ...credentials } = iggyCredentials(config);
  return new IggyClient({
    address: iggy.address,
    credentials,
    protocol: iggy.protocol,
    connectTimeoutMs: iggy.connect_timeout_ms,
    requestTimeoutMs: iggy.request_timeout_ms,
    ...(iggy.tls
      ? {
          tls: {
            ...(iggy.tls.ca ? { ca: iggy.tls.ca } : {}),
            ...(iggy.tls.server_name ? { serverName: iggy.tls.server_name } : {}),
          },
        }
      : {}),
    logger: log,
  });
}

/** The main heap's bytes in use outside the young generation (whose garbage a scavenge frees anyway). */
function oldGenerationUsed(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics())
    if (!space.space_name.startsWith("new_")) used += space.space_used_size;
  return used;
}

/** Calls `each` once per run of readings of one device (a source's batch is mostly one device). */
function countByDevice(readings: readonly Reading[], each: (device: string, n: number) => void): void {
  let device = readings[0]!.device;
  let n = 0;
  for (const r of readings) {
    if (r.device !== device) {
      each(device, n);
      device = r.device;
      n = 0;
    }
    n++;
  }
  each(device, n);
}

export interface RuntimeOptions {
  /**
   * Called once when the gateway cannot go on (the buffer's worker died, the forwarder gave up):
   * the caller stops the runtime and exits non-zero so the service manager restarts the process.
   */
  onFatal?: (reason: string) => void;
}

export class GatewayRuntime {
  readonly metrics = new GatewayMetrics();
  readonly board: StatusBoard;
  private buffer: ReadingBuffer | null = null;
  private client: IggyClient | null = null;
  private forwarder: Forwarder | null = null;
  private http: HttpEndpoint | null = null;
  private adapters: ProtocolAdapter[] = [];
  private readonly adapterByProtocol = new Map<string, ProtocolAdapter>();
  private commands: CommandRouter | null = null;
  private commandLedger: CommandLedger | null = null;
  private config: Config;
  private fatalReason: string | null = null;
  /** Why the buffer could not open at start, while the gateway waits for it; null once open. */
  private bufferUnavailable: BufferError | null = null;
  private openAttempts = 0;
  /** The retries of a buffer that could not open at start (stop() waits for them). */
  private opening: Promise<void> = Promise.resolve();
  private readonly stopping = new AbortController();
  private readonly reducer = new MemoryReducer();

  constructor(
    loaded: LoadedConfig,
    private readonly log: Logger,
    private readonly options: RuntimeOptions = {},
  ) {
    this.config = loaded.config;
    this.board = new StatusBoard(this.config.gateway.id, VERSION, this.config.devices);
  }

  get httpAddress(): string | null {
    return this.http?.address ?? null;
  }

  async start(): Promise<void> {
    const { config, log } = this;
    log.info({ gateway: config.gateway.id, version: VERSION, devices: config.devices.length }, "starting");
    this.http = new HttpEndpoint(
      config.http.listen,
      this.board,
      this.metrics,
      log.child({ component: "http" }),
    );
    await this.http.start();

    const opening = openBuffer({ ...bufferOptions(config), log: log.child({ component: "buffer" }) });
    // The protocols' code is imported while the buffer's worker starts in its own thread; a module
    // that fails to load fails again, and is reported, in startAdapters.
    for (const protocol of devicesByProtocol(config.devices).keys()) loadProtocol(protocol).catch(() => {});
    let buffer: ReadingBuffer;
    try {
      buffer = await opening;
    } catch (e) {
      // A buffer in a format this version cannot read stays so however often it is tried: the
      // gateway does not start (see EXIT_BUFFER_FORMAT).
      if (!(e instanceof BufferError) || e instanceof BufferFormatError) throw e;
      // A data directory that is read-only, full or held by another process: exiting would only make
      // the service manager restart into the same failure. The gateway stays up (/healthz answers,
      // /readyz says why it is not ready) and tries again; devices are not served until then.
      this.bufferUnavailable = e;
      this.openAttempts = 1;
      this.board.addReadinessCheck(() =>
        this.bufferUnavailable
          ? `buffer cannot open (attempt ${this.openAttempts}): ${this.bufferUnavailable.message}`
          : null,
      );
      log.error(
        { err: e, code: e.code, dir: bufferOptions(config).dir },
        `the buffer cannot open (${e.message}); not serving devices, retrying until it can (check that ${resolve(config.gateway.data_dir)} exists, is writable by this user and has free space)`,
      );
      this.board.ready = true;
      this.opening = this.retryOpen();
      return;
    }
    await this.startWith(buffer);
  }

  /** The buffer could not open at start: tries again with backoff until it opens or the gateway stops. */
  private async retryOpen(): Promise<void> {
    const backoff = new Backoff({ initialMs: 500, maxMs: 30_000 });
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      await sleep(backoff.next(), signal);
      if (signal.aborted) return;
      this.openAttempts++;
      let buffer: ReadingBuffer;
      try {
        buffer = await openBuffer({
          ...bufferOptions(this.config),
          log: this.log.child({ component: "buffer" }),
        });
      } catch (e) {
        if (!(e instanceof BufferError)) {
          this.fatal(`the buffer cannot open: ${(e as Error).message}`);
          return;
        }
        if (e.message !== this.bufferUnavailable?.message)
          this.log.error({ err: e, code: e.code }, `the buffer still cannot open: ${e.message}`);
        this.bufferUnavailable = e;
        continue;
      }
      if (signal.aborted) {
        await buffer.close();
        return;
      }
      this.log.info({ attempts: backoff.attempts }, "the buffer opened: starting");
      this.bufferUnavailable = null;
      this.board.ready = false;
      await this.startWith(buffer).catch((e: unknown) =>
        this.fatal(`cannot start once the buffer opened: ${(e as Error).message}`),
      );
      return;
    }
  }

  private async startWith(buffer: ReadingBuffer): Promise<void> {
    const { config, log } = this;
    this.buffer = buffer;
    this.metrics.attachBuffer(buffer);
    buffer.onFailure((e) => this.fatal(`the buffer's worker died: ${e.message}`));
    this.board.addReadinessCheck(() => (buffer.failure ? `buffer failed: ${buffer.failure.message}` : null));
    this.board.addReadinessCheck(() => {
      const refusing = this.lastBufferStats.refusing;
      return typeof refusing === "string" ? `buffer refusing new readings: ${refusing}` : null;
    });
    this.board.bufferStats = () => ({
      ...(buffer.failure ? { state: "failed", error: buffer.failure.message } : { state: "open" }),
      ...this.lastBufferStats,
    });
    await this.refreshBufferStats();

    const iggy = config.iggy;
    if (iggyCredentials(config).isDefault) {
      log.warn(
        { username: DEFAULT_IGGY_CREDENTIALS.username },
        "iggy: no credentials configured: logging in as Iggy's default root user iggy/iggy (set iggy.username and iggy.password, or iggy.token)",
      );
    }
    const client = iggyClient(config, log.child({ component: "iggy" }));
    client.on("connected", () => this.metrics.iggyConnected.set(1));
    client.on("disconnected", () => this.metrics.iggyConnected.set(0));
    this.client = client;
    this.forwarder = new Forwarder(buffer, client, {
      ...forwarderOptions(config, log),
      metrics: this.metrics,
      onFatal: (f) => this.fatal(`the forwarder gave up after a ${f.kind} failure: ${f.message}`),
      onConfirmed: (batch) => this.reducer.note(batch.count),
    });
    const forwarder = this.forwarder;
    this.board.addReadinessCheck(() => forwarder.notReady());
    this.board.iggyStatus = () => ({ address: iggy.address, ...this.forwarder!.status() });
    this.forwarder.start();

    await this.startAdapters(config);
    if (config.commands.enabled) this.startCommands(config);
    this.metrics.watchDevices(() => this.board.deviceUp());
    this.metrics.watchConnections(() => this.board.connections());
    this.board.ready = true;
    log.info("running");
  }

  /** The gateway cannot go on: said once, then left to the owner (`run` stops and exits non-zero). */
  private fatal(reason: string): void {
    if (this.fatalReason !== null) return;
    this.fatalReason = reason;
    this.log.fatal({ reason }, "the gateway cannot go on");
    this.options.onFatal?.(reason);
  }

  // /api/status is synchronous; the buffer's statistics come from its worker, so a copy of at most
  // one second ago is shown. Refreshing ends with the buffer.
  private lastBufferStats: Record<string, unknown> = {};
  /** The status page's buffer figures, kept fresh every second; the first ones before READY. */
  private async refreshBufferStats(): Promise<void> {
    const buffer = this.buffer;
    if (!buffer) return;
    try {
      this.lastBufferStats = (await buffer.stats()) as unknown as Record<string, unknown>;
    } catch {
      // a failed buffer is reported by its own state
    }
    this.reduceMemoryWhenQuiet(buffer);
    setTimeout(() => void this.refreshBufferStats(), 1000).unref();
  }

  /**
   * One tick of the memory reducer (gateway/memory-reducer.ts). After a burst both threads collect;
   * when the idle main heap grew, the main thread alone (the worker's idle heap hardly grows).
   */
  private reduceMemoryWhenQuiet(buffer: ReadingBuffer): void {
    const reason = this.reducer.tick(oldGenerationUsed);
    if (reason === null) return;
    this.metrics.memoryReductions.inc({ reason });
    void Promise.allSettled([collectGarbage(), reason === "burst" ? buffer.reduceMemory?.() : null]).then(
      () => this.reducer.collected(oldGenerationUsed()),
    );
  }

  private emitFor(protocol: string): Emit {
    return async (readings: Reading[], options) => {
      const marks = options?.marks;
      if (readings.length === 0 && marks === undefined) return;
      const buffer = this.buffer;
      if (!buffer) throw new Error("the gateway is stopping");
      // A refusal is counted by the buffer (readings_rejected_total) and reaches the source.
      await buffer.append(readings, { awaited: options?.awaited === true, ...(marks ? { marks } : {}) });
      if (readings.length === 0) return;
      this.reducer.note(readings.length);
      countByDevice(readings, (device, n) => this.metrics.readingsReceived.inc({ protocol, device }, n));
      this.board.record(readings);
      this.forwarder?.notify(readings.length);
    };
  }

  private async startAdapters(config: Config): Promise<void> {
    for (const [protocol, devices] of devicesByProtocol(config.devices)) {
      const log = this.log.child({ protocol });
      try {
        const mod = await loadProtocol(protocol);
        const adapter = mod.createAdapter(devices, protocolContext(config, protocol), {
          log,
          reject: (reason) => this.metrics.reject(reason),
          ackDelay: (connection, seconds) => this.metrics.ackDelay(protocol, connection, seconds),
          retransmitted: (connection) => this.metrics.retransmitted(protocol, connection),
          readMarks: (prefix) => {
            const buffer = this.buffer;
            return buffer ? buffer.readMarks(prefix) : Promise.reject(new Error("the gateway is stopping"));
          },
        });
        await adapter.start(this.emitFor(protocol));
        this.adapters.push(adapter);
        this.adapterByProtocol.set(protocol, adapter);
        this.board.addHealthSource(() => adapter.health());
      } catch (e) {
        const ids = devices.map((d) => d.id);
        const title = protocolPlugin(protocol)?.title ?? protocol;
        let message: string;
        if (e instanceof ProtocolNotAvailableError) {
          // Not a fault of this gateway's: the config names a protocol that a later version brings.
          message = e.message;
          log.warn({ devices: ids }, `${title} devices not started: ${message}`);
        } else {
          message = `cannot start: ${(e as Error).message}`;
          log.error({ devices: ids, err: e }, `${title} devices not started: ${message}`);
        }
        const since = Date.now();
        this.board.addHealthSource(() => ({
          protocol,
          devices: devices.map((d) => ({ device: d.id, up: false, error: message, since })),
        }));
      }
    }
  }

  /** The command router: its own Iggy connection, so commands never wait behind a telemetry batch. */
  private startCommands(config: Config): void {
    const c = config.commands;
    const log = this.log.child({ component: "commands" });
    const ledger = new CommandLedger(ledgerPath(resolve(config.gateway.data_dir)));
    this.commands = new CommandRouter({
      gatewayId: config.gateway.id,
      client: iggyClient(config, log),
      ledger,
      stream: config.iggy.stream,
      commandsTopic: config.iggy.topics.commands,
      resultsTopic: config.iggy.topics.results,
      createMissing: config.iggy.create_missing,
      partitions: config.iggy.partitions,
      pollMs: c.poll_ms,
      pollCount: c.poll_count,
      timeoutMs: c.timeout_ms,
      idempotencyMs: c.idempotency_hours * 3_600_000,
      maxPending: c.max_pending,
      devices: () => this.config.devices,
      adapterFor: (protocol) => this.adapterByProtocol.get(protocol),
      count: (result) => this.metrics.commands.inc({ result }),
      log,
    });
    this.commandLedger = ledger;
    const router = this.commands;
    this.board.commandsStatus = () => ({ ...router.status(), recent: router.recent() });
    router.start();
  }

  private async stopAdapters(): Promise<void> {
    const adapters = this.adapters;
    this.adapters = [];
    this.adapterByProtocol.clear();
    this.board.clearHealthSources();
    await Promise.allSettled(adapters.map((a) => a.stop()));
  }

  /** SIGHUP: a new device map. Other sections need a restart; a change there is logged. */
  async reload(loaded: LoadedConfig): Promise<void> {
    const next = loaded.config;
    const sections = new Set([...Object.keys(next), ...Object.keys(this.config)]);
    sections.delete("devices");
    for (const section of sections) {
      const key = section as keyof Config;
      if (JSON.stringify(next[key]) !== JSON.stringify(this.config[key])) {
        this.log.warn({ section }, `config section '${section}' changed: it takes effect after a restart`);
      }
    }
    this.log.info({ devices: next.devices.length }, "reloading the device map");
    await this.stopAdapters();
    this.config = { ...this.config, devices: next.devices };
    this.board.setDevices(next.devices);
    await this.startAdapters(this.config);
  }

  async stop(): Promise<void> {
    this.log.info("stopping");
    this.board.ready = false;
    this.stopping.abort();
    await this.opening;
    // Commands under way finish (bounded by their time limit) while the adapters still run.
    await this.commands?.stop();
    this.commandLedger?.close();
    this.commandLedger = null;
    await this.stopAdapters();
    // The client's close ends a wait for a connection at once (a send in flight still gets its
    // answer first), so an unreachable Iggy does not hold up the stop for a request's time limit.
    const forwarderStopped = this.forwarder?.stop();
    await this.client?.close();
    await forwarderStopped;
    await this.buffer?.close();
    this.buffer = null;
    await this.http?.stop();
    this.log.info("stopped");
  }
}
