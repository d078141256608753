// The OPC-UA source and sink: one client and session per device; points read through a subscription
// (monitored items created in batches within the server's operation limits) or by polling; values
// with their source timestamp and StatusCode become Readings; node-opcua's reconnection brings the
// session and its monitored items back after a cut or a server restart; writes are coerced to the
// node's DataType and range checked before they leave.
import {
  AttributeIds,
  ClientSubscription,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  type OPCUAClient,
  TimestampsToReturn,
  Variant,
  VariantArrayType,
  makeBrowsePath,
  readOperationLimits,
  resolveNodeId,
  setErrorLogger,
  setWarningLogger,
  type ClientMonitoredItemBase,
  type ClientSession,
  type DataValue,
  type NodeId,
} from "node-opcua-client";
import type { OPCUACertificateManager } from "node-opcua-certificate-manager";
import type { Logger } from "pino";
import type {
  AdapterDeps,
  AdapterHealth,
  Emit,
  PointRef,
  ProtocolAdapter,
  Quality,
  Reading,
  ReadingValue,
  WriteValue,
} from "../adapter.js";
import { Backoff } from "../backoff.js";
import { DeviceStates } from "../device-state.js";
import { sleep } from "../sleep.js";
import { CoercionError, coerceForWrite, OPCUA_TYPES, type NodeValue, type OpcuaType } from "./coerce.js";
import {
  applicationCertificateFiles,
  certificateManager,
  untrustedHint,
  watchPresentedCertificates,
} from "./pki.js";
import { createClient, openSession } from "./session.js";
import type { OpcuaDeviceConfig, OpcuaPointConfig } from "./schema.js";
import { Unconvertible, convertVariant, qualityOf, scaled, timestampOf } from "./values.js";

/**
 * Notifications in one publish response at most. Unlimited, 10,000 items changing every second come
 * as one response whose decoded objects (several MiB, all alive until the last is handed on) outgrow
 * the young generation of the bin's node flags and are promoted, so the old generation swells to
 * several times what is live between its collections. Responses of this size die young; the
 * server sends the rest at once in the responses to the publish requests already waiting.
 */
const MAX_NOTIFICATIONS_PER_PUBLISH = 1000;

/** ServerStatus/CurrentTime: read for a round trip that touches no configured point. */
const SERVER_CURRENT_TIME = "i=2258";

export interface DeviceStats {
  /** Readings whose emit resolved (committed). */
  readings: number;
  /** Times `emit` rejected (buffer full, ...); those readings are not collected. */
  emitFailures: number;
  /** Notifications or polled values with a Bad status. */
  badValues: number;
  /** Values of a type the point cannot carry. */
  unexpectedTypes: number;
  /** Connections that failed before the session was made, and reconnection attempts that failed. */
  connectFailures: number;
  /** Times the connection was lost (up -> down while connected). */
  connectionLosses: number;
  /** Times node-opcua brought the session back after a loss. */
  reconnects: number;
  /** Monitored items currently created on the server (subscribe mode). */
  monitoredItems: number;
  /** CreateMonitoredItems calls made (batches). */
  createCalls: number;
  polls: number;
  writes: number;
  writeFailures: number;
}

const newStats = (): DeviceStats => ({
  readings: 0,
  emitFailures: 0,
  badValues: 0,
  unexpectedTypes: 0,
  connectFailures: 0,
  connectionLosses: 0,
  reconnects: 0,
  monitoredItems: 0,
  createCalls: 0,
  polls: 0,
  writes: 0,
  writeFailures: 0,
});

interface Point {
  cfg: OpcuaPointConfig;
  index: number;
  nodeId: NodeId | undefined;
  /** The node's DataType: from the map, else read once at the first write. */
  type: OpcuaType | undefined;
  /** The device's and the point's tags merged, shared by the point's good readings; undefined: none. */
  tags: Readonly<Record<string, string>> | undefined;
  lastQuality: Quality | undefined;
  /** Polled points only (the server filters subscribed ones): kept, a value would outlive its reading. */
  lastValue: ReadingValue | undefined;
}

interface Device {
  cfg: OpcuaDeviceConfig;
  id: string;
  points: Point[];
  client: OPCUAClient | null;
  session: ClientSession | null;
  subscription: ClientSubscription | null;
  backoff: Backoff;
  pending: Reading[];
  flushScheduled: boolean;
  refusing: boolean;
  stats: DeviceStats;
  /** Operation limits the server states (0: none stated). */
  maxMonitoredItemsPerCall: number;
  maxNodesPerRead: number;
  /** Ends the wait of run() so that the device is connected again from scratch. */
  rebuild: (() => void) | null;
  rebuildTimer: NodeJS.Timeout | null;
  /** The certificate the server presented at the last connection attempt (SignAndEncrypt, Sign). */
  presented: () => Buffer | undefined;
}

export interface OpcuaAdapterOptions {
  /** Pauses between reconnection attempts (node-opcua's connection strategy, and the first connect). */
  retryInitialMs?: number;
  retryMaxMs?: number;
}

export interface OpcuaAdapterContext {
  gatewayId: string;
  dataDir: string;
}

// node-opcua writes its warnings to the console (one, about RSA PKCS#1 v1.5 on Node 20, at load
// time); they go to the log of the latest adapter at debug level instead.
let libraryLog: Logger | null = null;
const libraryText = (args: unknown[]): string =>
  args.map((a) => (a instanceof Error ? a.message : typeof a === "string" ? a : String(a))).join(" ");
setWarningLogger((...args: unknown[]) => libraryLog?.debug(libraryText(args)));
setErrorLogger((...args: unknown[]) => libraryLog?.debug(libraryText(args)));

export class OpcuaAdapter implements ProtocolAdapter {
  readonly protocol = "opcua";
  private readonly devices = new Map<string, Device>();
  private readonly log: Logger;
  private readonly states: DeviceStates;
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  private emit: Emit | undefined;
  private certs: OPCUACertificateManager | null = null;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;

  constructor(
    devices: OpcuaDeviceConfig[],
    private readonly context: OpcuaAdapterContext,
    private readonly deps: AdapterDeps,
    opts: OpcuaAdapterOptions = {},
  ) {
    this.log = deps.log;
    libraryLog = this.log.child({ lib: "node-opcua" });
    this.retryInitialMs = opts.retryInitialMs ?? 1000;
    this.retryMaxMs = opts.retryMaxMs ?? 30_000;
    for (const cfg of devices) {
      if (!cfg.enabled) continue;
      if (this.devices.has(cfg.id)) throw new Error(`opcua: device id ${cfg.id} appears twice`);
      const points = cfg.points.map((p, index): Point => ({
        cfg: p,
        index,
        nodeId: p.node === undefined ? undefined : parseNodeId(cfg.id, p),
        type: p.type,
        tags: mergedTags(cfg.tags, p.tags),
        lastQuality: undefined,
        lastValue: undefined,
      }));
      this.devices.set(cfg.id, {
        cfg,
        id: cfg.id,
        points,
        client: null,
        session: null,
        subscription: null,
        backoff: new Backoff({ initialMs: this.retryInitialMs, maxMs: this.retryMaxMs }),
        pending: [],
        flushScheduled: false,
        refusing: false,
        stats: newStats(),
        maxMonitoredItemsPerCall: 0,
        maxNodesPerRead: 0,
        rebuild: null,
        rebuildTimer: null,
        presented: () => undefined,
      });
    }
    this.states = new DeviceStates("opcua", this.devices.keys(), this.log, "not connected yet");
  }

  stats(): Record<string, DeviceStats> {
    const out: Record<string, DeviceStats> = {};
    for (const [id, d] of this.devices) out[id] = { ...d.stats };
    return out;
  }

  health(): AdapterHealth {
    return { protocol: "opcua", devices: this.states.all() };
  }

  async start(emit: Emit): Promise<void> {
    if (this.loops.length > 0) return;
    this.emit = emit;
    this.abort = new AbortController();
    if (this.devices.size === 0) return;
    const files = applicationCertificateFiles(this.context.dataDir);
    this.certs = await certificateManager(files.pkiDir);
    const signal = this.abort.signal;
    this.loops = [...this.devices.values()].map((d) => this.run(d, signal));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    const loops = this.loops;
    this.loops = [];
    await Promise.allSettled(loops);
    await Promise.allSettled([...this.devices.values()].map((d) => this.teardown(d)));
    for (const d of this.devices.values()) this.flush(d);
    const certs = this.certs;
    this.certs = null;
    if (certs) await certs.dispose().catch(() => undefined);
  }

  /** A read on the device's session outside any schedule (its value goes nowhere). */
  async readOnce(deviceId: string): Promise<void> {
    const dev = this.mustDevice(deviceId);
    const session = dev.session;
    if (!session) throw new Error(`opcua device ${dev.id} has no session`);
    await session.read({ nodeId: resolveNodeId(SERVER_CURRENT_TIME), attributeId: AttributeIds.Value });
  }

  // ---- connecting -------------------------------------------------------------------------------

  private async run(dev: Device, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.connect(dev, signal);
        if (signal.aborted) break;
        dev.backoff.reset();
        this.states.up(dev.id, { endpoint: dev.cfg.connection.endpoint, mode: dev.cfg.mode });
        const connection = new AbortController();
        dev.rebuild = () => connection.abort();
        const both = AbortSignal.any([signal, connection.signal]);
        await (dev.cfg.mode === "poll" ? this.pollLoop(dev, both) : waitForAbort(both));
        dev.rebuild = null;
        if (signal.aborted) return;
        dev.stats.reconnects++;
        await this.teardown(dev);
      } catch (e) {
        if (signal.aborted) break;
        dev.stats.connectFailures++;
        await this.teardown(dev);
        const message = errorText(e);
        const hint = /untrusted|BadCertificate/i.test(message)
          ? await untrustedHint(this.context.dataDir, dev.presented())
          : undefined;
        if (
          this.states.down(dev.id, hint ? `${message}; ${hint}` : message, {
            endpoint: dev.cfg.connection.endpoint,
          })
        ) {
          if (hint)
            this.log.warn(
              { device: dev.id, endpoint: dev.cfg.connection.endpoint },
              `opcua server certificate not trusted: ${hint}`,
            );
        }
        await sleep(dev.backoff.next(), signal);
      }
    }
  }

  private async connect(dev: Device, signal: AbortSignal): Promise<void> {
    const c = dev.cfg.connection;
    const files = applicationCertificateFiles(this.context.dataDir);
    const certs = this.certs!;
    certs.referenceCounter++; // the client's disconnect disposes it once; the adapter keeps it
    const watched = watchPresentedCertificates(certs);
    dev.presented = watched.presented;
    const client = createClient({
      applicationName: "iggy-edge",
      applicationUri: `urn:iggy-edge:${this.context.gatewayId}`,
      clientName: `iggy-edge/${dev.id}`,
      securityMode: c.security_mode,
      securityPolicy: c.security_policy,
      keepSessionAlive: true,
      sessionTimeoutMs: c.session_timeout_ms,
      transactionTimeoutMs: c.timeout_ms,
      certificateManager: watched.manager,
      certificateFile: files.certificateFile,
      privateKeyFile: files.privateKeyFile,
      // The first connect gives up after one retry (run() goes on trying with its backoff); a
      // connection lost later is repaired by node-opcua, which retries forever when maxRetry > 0.
      connectionStrategy: { maxRetry: 1, initialDelay: this.retryInitialMs, maxDelay: this.retryMaxMs },
    });
    dev.client = client;
    client.on("connection_lost", () => {
      if (signal.aborted) return;
      dev.stats.connectionLosses++;
      this.states.down(dev.id, "connection lost; reconnecting", { endpoint: c.endpoint });
    });
    client.on("reconnection_attempt_has_failed", (err: Error) => {
      dev.stats.connectFailures++;
      this.log.debug({ device: dev.id, err: err.message }, "opcua reconnection attempt failed");
      if (!signal.aborted) this.states.down(dev.id, `reconnecting: ${err.message}`);
    });
    client.on("start_reconnection", () => this.log.debug({ device: dev.id }, "opcua reconnecting"));
    client.on("backoff", (count: number, delay: number) =>
      this.log.debug({ device: dev.id, count, delay }, "opcua connection attempt failed; retrying"),
    );
    client.on("after_reconnection", () => {
      this.log.debug({ device: dev.id }, "opcua secure channel back");
      // A server that restarted knows neither the session nor its subscription; node-opcua should
      // make new ones, and when that does not finish in time the device is connected from scratch.
      if (dev.rebuildTimer) clearTimeout(dev.rebuildTimer);
      dev.rebuildTimer = setTimeout(
        () => {
          dev.rebuildTimer = null;
          if (signal.aborted || dev.client !== client) return;
          this.log.info(
            { device: dev.id },
            "opcua session not restored after the reconnection; connecting anew",
          );
          dev.rebuild?.();
        },
        Math.max(2000, 2 * c.timeout_ms),
      );
    });
    client.on("connection_reestablished", () => {
      if (dev.rebuildTimer) clearTimeout(dev.rebuildTimer);
      dev.rebuildTimer = null;
      if (signal.aborted) return;
      dev.stats.reconnects++;
      this.states.up(dev.id, { endpoint: c.endpoint, reconnected: true });
    });
    const session = await openSession(
      client,
      c.endpoint,
      {
        username: c.username,
        password: c.password,
        userCertificate: c.user_certificate,
        userPrivateKey: c.user_private_key,
      },
      signal,
    );
    if (!session) return;
    dev.session = session;
    session.on("session_closed", () => undefined);
    await this.readLimits(dev, session);
    await this.resolveBrowsePaths(dev, session);
    if (dev.cfg.mode === "subscribe") await this.subscribe(dev, session);
  }

  private async readLimits(dev: Device, session: ClientSession): Promise<void> {
    try {
      const limits = await readOperationLimits(session);
      dev.maxMonitoredItemsPerCall = limits.maxMonitoredItemsPerCall ?? 0;
      dev.maxNodesPerRead = limits.maxNodesPerRead ?? 0;
    } catch (e) {
      this.log.debug({ device: dev.id, err: errorText(e) }, "opcua server states no operation limits");
    }
  }

  private async resolveBrowsePaths(dev: Device, session: ClientSession): Promise<void> {
    const todo = dev.points.filter((p) => p.cfg.browse_path !== undefined);
    if (todo.length === 0) return;
    const size = this.batchSize(dev, 0);
    for (let i = 0; i < todo.length; i += size) {
      const chunk = todo.slice(i, i + size);
      const results = await session.translateBrowsePath(
        chunk.map((p) => makeBrowsePath("RootFolder", p.cfg.browse_path!)),
      );
      results.forEach((r, k) => {
        const p = chunk[k]!;
        const target = r.statusCode.isGood() ? r.targets?.[0]?.targetId : undefined;
        if (target === undefined) {
          p.nodeId = undefined;
          this.deps.reject("opcua_browse_path", dev.id);
          this.log.warn(
            { device: dev.id, point: p.cfg.name, browse_path: p.cfg.browse_path, status: r.statusCode.name },
            "opcua browse path does not resolve; the point has no value",
          );
        } else {
          p.nodeId = resolveNodeId(target.toString());
        }
      });
    }
  }

  private batchSize(dev: Device, limit: number): number {
    return limit > 0 ? Math.min(limit, 10_000) : dev.cfg.batch_size;
  }

  // ---- subscribing ------------------------------------------------------------------------------

  private async subscribe(dev: Device, session: ClientSession): Promise<void> {
    const live = dev.points.filter((p) => p.nodeId !== undefined);
    const fastest = Math.min(...live.map((p) => p.cfg.sampling_ms), 1000);
    const sub = await session.createSubscription2({
      requestedPublishingInterval: fastest,
      requestedLifetimeCount: 600,
      requestedMaxKeepAliveCount: 20,
      maxNotificationsPerPublish: MAX_NOTIFICATIONS_PER_PUBLISH,
      publishingEnabled: true,
      priority: 10,
    });
    dev.subscription = sub;
    sub.on("error", (err: Error) =>
      this.log.warn({ device: dev.id, err: err.message }, "opcua subscription error"),
    );
    sub.on("internal_error", (err: Error) => {
      // Deleting the subscription at teardown fails when the server went away first: no news then.
      if (dev.subscription === sub) {
        this.log.warn({ device: dev.id, err: err.message }, "opcua subscription internal error");
      } else {
        this.log.debug({ device: dev.id, err: err.message }, "opcua subscription not deleted at close");
      }
    });
    // Points with the same monitoring parameters go together, in batches the server accepts.
    const groups = new Map<string, Point[]>();
    for (const p of live) {
      const key = [p.cfg.sampling_ms, p.cfg.queue_size, p.cfg.deadband ?? "", p.cfg.deadband_type].join("|");
      const g = groups.get(key) ?? [];
      g.push(p);
      groups.set(key, g);
    }
    const size = this.batchSize(dev, dev.maxMonitoredItemsPerCall);
    for (const group of groups.values()) {
      const first = group[0]!.cfg;
      const params = {
        samplingInterval: first.sampling_ms,
        queueSize: first.queue_size,
        discardOldest: true,
        filter:
          first.deadband === undefined
            ? null
            : new DataChangeFilter({
                trigger: DataChangeTrigger.StatusValue,
                deadbandType:
                  first.deadband_type === "percent" ? DeadbandType.Percent : DeadbandType.Absolute,
                deadbandValue: first.deadband,
              }),
      };
      for (let i = 0; i < group.length; i += size) {
        const chunk = group.slice(i, i + size);
        dev.stats.createCalls++;
        const items = await sub.monitorItems(
          chunk.map((p) => ({ nodeId: p.nodeId!, attributeId: AttributeIds.Value })),
          params,
          TimestampsToReturn.Both,
        );
        items.on("changed", (_item: ClientMonitoredItemBase, dv: DataValue, index: number) => {
          const p = chunk[index];
          if (p) this.accept(dev, p, dv);
        });
        items.monitoredItems.forEach((m, k) => {
          const p = chunk[k]!;
          if (m.statusCode.isGood()) {
            dev.stats.monitoredItems++;
            return;
          }
          this.deps.reject("opcua_monitored_item", dev.id);
          this.log.warn(
            { device: dev.id, point: p.cfg.name, node: p.nodeId?.toString(), status: m.statusCode.name },
            "opcua server refused a monitored item; the point has no value",
          );
        });
      }
    }
    this.log.info(
      {
        device: dev.id,
        monitored_items: dev.stats.monitoredItems,
        calls: dev.stats.createCalls,
        batch: size,
      },
      "opcua subscription created",
    );
  }

  // ---- polling ----------------------------------------------------------------------------------

  private async pollLoop(dev: Device, signal: AbortSignal): Promise<void> {
    const groups = new Map<number, Point[]>();
    for (const p of dev.points) {
      if (p.nodeId === undefined) continue;
      const g = groups.get(p.cfg.sampling_ms) ?? [];
      g.push(p);
      groups.set(p.cfg.sampling_ms, g);
    }
    await Promise.all(
      [...groups].map(async ([interval, points]) => {
        while (!signal.aborted) {
          const started = Date.now();
          await this.pollOnce(dev, points, signal);
          await sleep(interval - (Date.now() - started), signal);
        }
      }),
    );
  }

  private async pollOnce(dev: Device, points: Point[], signal: AbortSignal): Promise<void> {
    const session = dev.session;
    if (!session || !this.states.isUp(dev.id)) return;
    const size = this.batchSize(dev, dev.maxNodesPerRead);
    dev.stats.polls++;
    for (let i = 0; i < points.length && !signal.aborted; i += size) {
      const chunk = points.slice(i, i + size);
      let values: DataValue[];
      try {
        values = await session.read(
          chunk.map((p) => ({ nodeId: p.nodeId!, attributeId: AttributeIds.Value })),
          0,
        );
      } catch (e) {
        // The connection's own events mark the device down; a read that fails otherwise is logged.
        if (!signal.aborted && this.states.isUp(dev.id)) {
          this.log.warn({ device: dev.id, err: errorText(e) }, "opcua poll read failed");
        }
        return;
      }
      values.forEach((dv, k) => this.accept(dev, chunk[k]!, dv, true));
    }
  }

  // ---- values to readings -----------------------------------------------------------------------

  private accept(dev: Device, p: Point, dv: DataValue, polled = false): void {
    let quality = qualityOf(dv.statusCode);
    let value: ReadingValue = null;
    let status: string | undefined = quality === "good" ? undefined : dv.statusCode.name;
    if (quality === "bad") {
      dev.stats.badValues++;
      this.deps.reject("opcua_bad_status", dev.id);
    } else {
      const c = convertVariant(dv.value, p.cfg.type);
      if (!(c instanceof Unconvertible)) value = scaled(c, p.cfg.scale, p.cfg.offset);
      else {
        dev.stats.unexpectedTypes++;
        this.deps.reject("opcua_unexpected_type", dev.id);
        quality = "bad";
        status = `unexpected value: ${c.reason}`;
      }
    }
    if (quality !== p.lastQuality && quality !== "good") {
      this.log.warn({ device: dev.id, point: p.cfg.name, status }, "opcua point quality not good");
    }
    // Polled values are filtered here as the server filters subscribed ones (deadband, unchanged bad).
    if (polled && p.lastQuality === quality) {
      if (quality !== "good" && p.lastValue === value) return;
      if (
        quality === "good" &&
        p.cfg.deadband !== undefined &&
        !outsideDeadband(p.lastValue, value, p.cfg.deadband)
      ) {
        return;
      }
    }
    p.lastQuality = quality;
    if (polled) p.lastValue = value;
    const r: Reading = { device: dev.id, point: p.cfg.name, ts: timestampOf(dv), value, quality };
    if (p.cfg.unit !== undefined) r.unit = p.cfg.unit;
    if (status !== undefined) r.tags = { ...p.tags, status };
    else if (p.tags !== undefined) r.tags = p.tags;
    // Readings wait for the end of the event-loop turn, but no more than a response's worth: the
    // responses decoded in one turn would otherwise all be alive at once, and a scavenge meanwhile
    // promotes their pages to the old generation.
    if (dev.pending.push(r) >= MAX_NOTIFICATIONS_PER_PUBLISH) this.flush(dev);
    else if (!dev.flushScheduled) {
      dev.flushScheduled = true;
      setImmediate(() => this.flush(dev));
    }
  }

  /** One emit per burst of notifications (one publish response, one poll). */
  private flush(dev: Device): void {
    dev.flushScheduled = false;
    if (dev.pending.length === 0 || this.emit === undefined) return;
    const readings = dev.pending;
    const count = readings.length;
    dev.pending = [];
    this.emit(readings).then(
      () => {
        dev.stats.readings += count;
        if (dev.refusing) {
          dev.refusing = false;
          this.log.info({ device: dev.id }, "opcua readings accepted by the buffer again");
        }
      },
      (e: unknown) => {
        dev.stats.emitFailures++;
        if (!dev.refusing) {
          dev.refusing = true;
          this.log.warn(
            { device: dev.id, err: errorText(e), readings: count },
            "opcua readings not accepted by the buffer; the subscription goes on and counts what is lost",
          );
        }
      },
    );
  }

  // ---- writing ----------------------------------------------------------------------------------

  async write(target: PointRef, value: WriteValue): Promise<void> {
    const dev = this.mustDevice(target.device);
    const p = dev.points.find((x) => x.cfg.name === target.point);
    if (!p) throw new Error(`opcua device ${dev.id} has no point named ${target.point}`);
    const where = `${dev.id}/${p.cfg.name}`;
    if (!p.cfg.write)
      throw new Error(`point ${where} is not writable (the config declares no write: for it)`);
    const range: { min?: number | undefined; max?: number | undefined } =
      p.cfg.write === true ? {} : p.cfg.write;
    // The declared range first: it needs no connection.
    if (typeof value === "number" || typeof value === "bigint") {
      const { min, max } = range;
      if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
        throw new Error(
          `cannot write ${where}: ${String(value)} is outside the allowed range ${min ?? "-inf"}..${max ?? "+inf"}`,
        );
      }
    }
    const session = dev.session;
    if (!session || !this.states.isUp(dev.id) || p.nodeId === undefined) {
      throw new Error(`cannot write ${where}: the device is not connected`);
    }
    const type = p.type ?? (await this.readType(dev, session, p));
    let v: NodeValue;
    try {
      v = coerceForWrite(where, type, value, range, p.cfg.scale, p.cfg.offset);
    } catch (e) {
      if (e instanceof CoercionError) throw new Error(e.message);
      throw e;
    }
    dev.stats.writes++;
    let status;
    try {
      status = await session.write({
        nodeId: p.nodeId,
        attributeId: AttributeIds.Value,
        value: {
          value: new Variant({
            dataType: DataType[type],
            arrayType: VariantArrayType.Scalar,
            value: wireValue(v),
          }),
        },
      });
    } catch (e) {
      dev.stats.writeFailures++;
      throw new Error(`write of ${where} failed: ${errorText(e)}`, { cause: e });
    }
    if (!status.isGood()) {
      dev.stats.writeFailures++;
      throw new Error(`write of ${where} failed: the server answered ${status.name}`);
    }
    this.log.info({ device: dev.id, point: p.cfg.name, value: String(value), type }, "opcua write done");
  }

  /** The node's DataType, read once (a subtype of a built-in type counts as what its value is). */
  private async readType(dev: Device, session: ClientSession, p: Point): Promise<OpcuaType> {
    const where = `${dev.id}/${p.cfg.name}`;
    const dt = await session.read({ nodeId: p.nodeId!, attributeId: AttributeIds.DataType });
    let name: string | undefined;
    const id = dt.value.value as NodeId | null;
    if (dt.statusCode.isGood() && id && id.namespace === 0 && typeof id.value === "number")
      name = DataType[id.value];
    if (name === undefined || !(OPCUA_TYPES as readonly string[]).includes(name)) {
      const cur = await session.read({ nodeId: p.nodeId!, attributeId: AttributeIds.Value });
      name = DataType[cur.value.dataType];
    }
    if (!(OPCUA_TYPES as readonly string[]).includes(name)) {
      throw new Error(`cannot write ${where}: the node's DataType ${name} is not one iggy-edge writes`);
    }
    p.type = name as OpcuaType;
    return p.type;
  }

  // ---- ending -----------------------------------------------------------------------------------

  private async teardown(dev: Device): Promise<void> {
    const { client, session, subscription } = dev;
    if (dev.rebuildTimer) clearTimeout(dev.rebuildTimer);
    dev.rebuildTimer = null;
    dev.client = null;
    dev.session = null;
    dev.subscription = null;
    dev.stats.monitoredItems = 0;
    if (!client) return;
    const connected = client.isReconnecting === false;
    if (connected) {
      if (subscription) await withLimit(subscription.terminate(), 2000);
      if (session) await withLimit(session.close(), 2000);
    }
    await withLimit(client.disconnect(), 5000);
  }

  private mustDevice(id: string): Device {
    const d = this.devices.get(id);
    if (!d) throw new Error(`no enabled opcua device named ${id}`);
    return d;
  }
}

function mergedTags(
  device: Record<string, string> | undefined,
  point: Record<string, string> | undefined,
): Readonly<Record<string, string>> | undefined {
  const tags = { ...device, ...point };
  return Object.keys(tags).length > 0 ? Object.freeze(tags) : undefined;
}

function parseNodeId(device: string, p: OpcuaPointConfig): NodeId {
  try {
    return resolveNodeId(p.node!);
  } catch (e) {
    throw new Error(`opcua device ${device} point ${p.name}: ${errorText(e)}`);
  }
}

/** Int64/UInt64 travel in node-opcua as [high, low] 32-bit halves. */
function wireValue(v: NodeValue): unknown {
  if (typeof v !== "bigint") return v;
  const u = BigInt.asUintN(64, v);
  return [Number(u >> 32n), Number(u & 0xffffffffn)];
}

function outsideDeadband(prev: ReadingValue | undefined, next: ReadingValue, deadband: number): boolean {
  if (typeof prev !== "number" && typeof prev !== "bigint") return prev !== next;
  if (typeof next !== "number" && typeof next !== "bigint") return true;
  return Math.abs(Number(next) - Number(prev)) >= deadband;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** Waits for `p` at most `ms`; what it does after that is left to it (errors swallowed). */
async function withLimit(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    p.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
