// Client mode: one mqtt.js connection to a site broker for the devices that share its settings.
// Subscribes to their topics, reconnects with jittered backoff, keeps a persistent session.
//
// The incoming messages do not go through mqtt.js: an InboundSession (site-inbound.ts) taps its
// network stream, takes in many QoS1/2 messages at once, commits them in groups and acknowledges
// each after its commit, on the connection that delivered it. mqtt.js keeps connecting,
// subscribing, keepalive and the command publishes.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IClientOptions, MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { MqttDeviceConfig } from "./schema.js";
import type { ConnectionHealth, DeviceHealth, EmitOptions } from "../adapter.js";
import { Backoff } from "../backoff.js";
import { BurstLog } from "../burst-log.js";
import type { CommandProperties } from "./broker.js";
import { NoAnswerError } from "./commands.js";
import { Router } from "./routes.js";
import { InboundSession, type InboundMessage, type Qos2Changes, type StreamBuilder } from "./site-inbound.js";

export type SiteConnectionConfig = NonNullable<MqttDeviceConfig["connection"]>;
export type { InboundMessage } from "./site-inbound.js";

/**
 * Commits the readings of a group of messages, and `marks` in the same transaction; resolves after
 * the commit, rejects if none was stored.
 */
export type SiteCommit = (router: Router, messages: InboundMessage[], marks?: MarkChanges) => Promise<void>;
type MarkChanges = NonNullable<EmitOptions["marks"]>;

// mqtt.js (and its dependencies) take ~10 MiB of a gateway's memory: only a gateway with a site
// broker to read from loads it, before its first site connection starts.
let mqttJs: typeof import("mqtt") | undefined;
export async function loadMqttClient(): Promise<void> {
  mqttJs ??= await import("mqtt");
}
function mqttClient(): typeof import("mqtt") {
  if (mqttJs === undefined) throw new Error("mqtt.js is not loaded yet: await loadMqttClient() first");
  return mqttJs;
}

export interface SiteOptions {
  connection: SiteConnectionConfig;
  devices: MqttDeviceConfig[];
  gatewayId: string;
  log: Logger;
  commit: SiteCommit;
  /** Counts input refused before it became a reading (a message over max_message_bytes). */
  reject(reason: string, device?: string): void;
  /** A message acknowledged `seconds` after it arrived. */
  ackDelay?(seconds: number): void;
  /** The buffer's marks: given, the QoS2 ids awaiting PUBREL are kept there (exactly once across a crash). */
  readMarks?(prefix: string): Promise<string[]>;
}

/** Payload bytes of the messages one connection holds at once (one message always fits). */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
/** How long a stop waits for the commits of messages already taken, so they need not come again. */
const STOP_WAIT_MS = 5_000;
/** Larger than any MQTT fixed header: a packet of max_message_bytes of body still fits. */
const FIXED_HEADER_BYTES = 5;
const FOREVER_S = 4294967295;
/** How long a graceful DISCONNECT may take before the connection is cut. */
const DISCONNECT_WAIT_MS = 2_000;
const LOG_QUIET_MS = 10_000;

/** Devices with equal connection settings share one connection. */
export function connectionKey(c: SiteConnectionConfig): string {
  return JSON.stringify([
    c.url,
    c.client_id ?? null,
    c.username ?? null,
    c.ca,
    c.cert,
    c.key,
    c.clean,
    c.keepalive_s,
    c.protocol_version,
    c.receive_maximum ?? null,
    c.session_expiry_s ?? null,
    c.max_inflight,
    c.max_message_bytes,
  ]);
}

/** Stable across restarts and device map edits, so the broker keeps the session. */
export function defaultClientId(gatewayId: string, c: SiteConnectionConfig): string {
  const h = createHash("sha256")
    .update(`${c.url}\0${c.username ?? ""}`)
    .digest("hex")
    .slice(0, 8);
  return `iggy-edge-${gatewayId}-${h}`;
}

/** The URL without credentials, to name the connection in logs, the status page and metrics. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//");
  }
}

export class SiteConnection {
  readonly router: Router;
  readonly clientId: string;
  /** The connection's name on the status page and in metric labels. */
  name: string;
  private client: MqttClient | null = null;
  private stopping = false;
  private readonly backoff: Backoff;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private up = false;
  private since = Date.now();
  private error: string | undefined = "not connected yet";
  private subscribedOnce = false;
  private readonly inbound: InboundSession;
  private readonly oversizeLog: BurstLog;
  /** Response topics of the devices' commands (MQTT 5), subscribed with the points' topics. */
  private readonly responseTopics: Set<string>;
  /** Commands waiting for their device's answer, by response topic, then correlation data (hex). */
  private readonly answers = new Map<string, Map<string, Waiting>>();
  /** Answers on a response topic that matched no waiting command (wrong, late or no correlation data). */
  unmatchedAnswers = 0;
  private readonly unmatchedLog: BurstLog;

  constructor(private readonly opts: SiteOptions) {
    const c = opts.connection;
    this.router = new Router(opts.devices);
    this.clientId = c.client_id ?? defaultClientId(opts.gatewayId, c);
    this.name = displayUrl(c.url);
    this.backoff = new Backoff({ initialMs: c.reconnect_min_ms, maxMs: c.reconnect_max_ms });
    this.oversizeLog = new BurstLog({
      quietMs: LOG_QUIET_MS,
      onEnd: ({ key: topic, total }) => {
        if (total > 1)
          opts.log.warn(
            { url: this.name, topic, count: total },
            `${total} messages over max_message_bytes on ${topic} in this burst`,
          );
      },
    });
    this.responseTopics = new Set(
      opts.devices.flatMap((d) => d.points.flatMap((p) => p.command_response_topic ?? [])),
    );
    this.unmatchedLog = new BurstLog({
      quietMs: LOG_QUIET_MS,
      onEnd: ({ key: topic, total }) => {
        if (total > 1)
          opts.log.warn(
            { url: this.name, topic, count: total },
            `${total} answers on ${topic} matched no waiting command in this burst`,
          );
      },
    });
    this.inbound = new InboundSession({
      protocolVersion: c.protocol_version,
      maxInflight: c.max_inflight,
      maxHeldBytes: MAX_HELD_BYTES,
      maxPacketBytes: c.max_message_bytes,
      commit: (messages, qos2) => opts.commit(this.router, messages, qos2 && this.qos2Marks(qos2)),
      durableQos2: opts.readMarks !== undefined,
      taken: (message) => this.answer(message),
      oversize: (topic, bytes) => this.oversize(topic, bytes),
      acknowledged: (ms) => opts.ackDelay?.(ms / 1000),
      dropped: (err) => this.dropped(err),
    });
  }

  /**
   * The QoS2 ids an earlier run stored and whose PUBREL had not come: a copy the broker sends again
   * is answered, not stored again. Before start().
   */
  async restore(): Promise<void> {
    if (this.opts.readMarks === undefined) return;
    const prefix = this.qos2Prefix();
    const keys = await this.opts.readMarks(prefix);
    const ids = keys.map((k) => Number(k.slice(prefix.length))).filter((n) => Number.isInteger(n) && n > 0);
    this.inbound.restore(ids);
    if (ids.length > 0)
      this.opts.log.info(
        { url: this.name, client_id: this.clientId, ids: ids.length },
        "QoS2 messages stored before the restart and not yet released by the site broker: a copy sent again is acknowledged, not stored again",
      );
  }

  /** The buffer's marks of this session (broker and client id) start with this. */
  private qos2Prefix(): string {
    return `mqtt.qos2\u0000${displayUrl(this.opts.connection.url)}\u0000${this.clientId}\u0000`;
  }

  private qos2Marks(q: Qos2Changes): MarkChanges {
    const prefix = this.qos2Prefix();
    return {
      ...(q.clearAll ? { clearPrefix: prefix } : {}),
      clear: q.clear.map((id) => prefix + id),
      set: q.set.map((id) => prefix + id),
    };
  }

  start(): void {
    const c = this.opts.connection;
    const options: IClientOptions = {
      clientId: this.clientId,
      clean: c.clean,
      keepalive: c.keepalive_s,
      reconnectPeriod: 0, // our own backoff, with jitter
      connectTimeout: 10_000,
      resubscribe: false,
      protocolVersion: c.protocol_version,
      manualConnect: true,
    };
    if (c.protocol_version === 5) {
      options.properties = {
        sessionExpiryInterval: c.session_expiry_s ?? (c.clean ? 0 : FOREVER_S),
        receiveMaximum: c.receive_maximum ?? 65535,
        maximumPacketSize: c.max_message_bytes + FIXED_HEADER_BYTES,
      };
    }
    if (c.username !== undefined) options.username = c.username;
    if (c.password !== undefined) options.password = c.password;
    if (c.ca) options.ca = readFileSync(c.ca);
    if (c.cert) options.cert = readFileSync(c.cert);
    if (c.key) options.key = readFileSync(c.key);
    const client = mqttClient().connect(c.url, options);
    this.client = client;
    // Every connection mqtt.js opens gets the inbound tap (streamBuilder is not in mqtt.js's typings).
    const builder = client as unknown as { streamBuilder: StreamBuilder<MqttClient> };
    builder.streamBuilder = this.inbound.wrap(builder.streamBuilder);
    client.on("connect", (connack) => {
      this.backoff.reset();
      this.setState(true, undefined);
      this.opts.log.info(
        {
          url: this.name,
          client_id: this.clientId,
          session_present: connack.sessionPresent,
          protocol_version: c.protocol_version,
        },
        "connected to the site MQTT broker",
      );
      if (!connack.sessionPresent || !this.subscribedOnce) this.subscribe(client);
    });

    client.on("error", (err) => {
      // Failed connects and refused publishes land here; `close` follows and schedules the retry.
      const message = explain(err, c.protocol_version);
      if (this.error !== message)
        this.opts.log.warn({ url: this.name, err: message }, "site MQTT connection error");
      this.setState(false, message);
    });
    client.on("close", () => {
      if (this.up) this.opts.log.warn({ url: this.name }, "site MQTT connection closed; reconnecting");
      this.setState(false, this.error ?? "connection closed");
      this.scheduleReconnect();
    });
    client.connect();
  }

  connected(): boolean {
    return this.client?.connected === true;
  }

  async publish(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties?: CommandProperties,
  ): Promise<void> {
    const client = this.client;
    if (client === null || !client.connected) {
      throw new Error(`not connected to the site broker ${this.name}`);
    }
    await client.publishAsync(topic, payload, {
      qos,
      retain,
      ...(properties !== undefined && this.opts.connection.protocol_version === 5 ? { properties } : {}),
    });
  }

  /**
   * Publishes a command that carries `responseTopic` and fresh correlation data (MQTT 5), and
   * resolves with the device's answer: the first message on `responseTopic` with the same
   * correlation data. Rejects when none came within `timeoutMs` of the call.
   */
  async request(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties: CommandProperties & { responseTopic: string },
    timeoutMs: number,
  ): Promise<InboundMessage> {
    if (this.opts.connection.protocol_version !== 5) {
      throw new Error("a command with a response topic needs an MQTT 5 connection (protocol_version: 5)");
    }
    const responseTopic = properties.responseTopic;
    if (!this.responseTopics.has(responseTopic)) {
      throw new Error(`${responseTopic} is not a response topic of this connection's devices`);
    }
    let waiting = this.answers.get(responseTopic);
    if (waiting === undefined) this.answers.set(responseTopic, (waiting = new Map()));
    const correlationData = randomBytes(16);
    const key = correlationData.toString("hex");
    let entry!: Waiting;
    const answered = new Promise<InboundMessage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new NoAnswerError(responseTopic, timeoutMs)), timeoutMs);
      entry = { resolve, reject, timer };
    });
    answered.catch(() => {}); // awaited after the publish, which may outlast the timeout
    waiting.set(key, entry);
    try {
      await this.publish(topic, payload, qos, retain, { ...properties, correlationData });
      return await answered;
    } finally {
      clearTimeout(entry.timer);
      waiting.delete(key);
    }
  }

  /**
   * A PINGREQ and its PINGRESP on the connection, begun now: once it resolves, the broker has read
   * everything the gateway wrote to it before (acknowledgements included).
   */
  roundTrip(): Promise<void> {
    const client = this.client;
    if (client === null || !client.connected) {
      return Promise.reject(new Error(`not connected to the site broker ${this.name}`));
    }
    return new Promise((resolve, reject) => {
      const onPacket = (p: { cmd: string }) => {
        if (p.cmd !== "pingresp") return;
        done();
        resolve();
      };
      const onClose = () => {
        done();
        reject(new Error(`the connection to ${this.name} closed before the PINGRESP`));
      };
      const done = () => {
        client.off("packetreceive", onPacket);
        client.off("close", onClose);
      };
      client.on("packetreceive", onPacket);
      client.on("close", onClose);
      client.sendPing();
    });
  }

  health(): DeviceHealth[] {
    return this.opts.devices.map((d) => ({
      device: d.id,
      up: this.up,
      since: this.since,
      ...(this.error !== undefined ? { error: this.error } : {}),
    }));
  }

  connectionHealth(): ConnectionHealth {
    return {
      name: this.name,
      up: this.up,
      inflight: this.inbound.inflight,
      inflight_limit: this.opts.connection.max_inflight,
      acknowledged: this.inbound.acknowledgedCount,
      ack_delay_ms: this.inbound.ackDelayMs === null ? null : Math.round(this.inbound.ackDelayMs * 10) / 10,
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    this.oversizeLog.flush();
    this.unmatchedLog.flush();
    for (const waiting of this.answers.values()) {
      for (const w of waiting.values()) w.reject(new Error("the gateway stopped before the device answered"));
    }
    if (client === null) return;
    await this.inbound.quiesce(STOP_WAIT_MS);
    if (client.connected) {
      // DISCONNECT, after the acknowledgements written so far.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.endAsync(false),
        new Promise((r) => (timer = setTimeout(r, DISCONNECT_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    await client.endAsync(true);
  }

  private subscribe(client: MqttClient): void {
    const filters = new Map<string, 0 | 1 | 2>();
    for (const rp of this.router.points()) {
      const q = filters.get(rp.pattern.filter);
      if (q === undefined || rp.point.qos > q) filters.set(rp.pattern.filter, rp.point.qos);
    }
    // Answers to commands arrive at least once (a write waits for one; a copy is ignored).
    for (const topic of this.responseTopics) {
      if ((filters.get(topic) ?? 0) < 1) filters.set(topic, 1);
    }
    const request = Object.fromEntries([...filters].map(([f, qos]) => [f, { qos }]));
    client.subscribe(request, (err, granted) => {
      if (err) {
        this.opts.log.error({ err: err.message }, "subscribing at the site MQTT broker failed");
        return;
      }
      this.subscribedOnce = true;
      const refused = (granted ?? []).filter((g) => g.qos >= 128).map((g) => g.topic);
      if (refused.length > 0) {
        this.opts.log.error({ filters: refused }, "the site MQTT broker refused these subscriptions");
        this.setState(true, `subscription refused: ${refused.join(", ")}`);
      }
    });
  }

  /** A message on a response topic settles the command waiting for its correlation data. */
  private answer(message: InboundMessage): void {
    if (!this.responseTopics.has(message.topic)) return;
    const data = message.properties?.correlationData;
    const waiting =
      data === undefined ? undefined : this.answers.get(message.topic)?.get(data.toString("hex"));
    if (waiting !== undefined) {
      waiting.resolve(message);
      return;
    }
    this.unmatchedAnswers++;
    if (this.unmatchedLog.note(message.topic)) {
      this.opts.log.warn(
        { url: this.name, topic: message.topic, correlation_data: data?.toString("hex") ?? null },
        data === undefined
          ? "an answer without correlation data on a command response topic: ignored"
          : "an answer whose correlation data matches no waiting command (a wrong id, or too late): ignored",
      );
    }
  }

  /** The inbound side dropped the connection without acknowledging what is in flight; the broker resends it. */
  private dropped(err: Error): void {
    const code = (err as { code?: string }).code;
    if (code !== undefined && code.startsWith("BUFFER_")) {
      this.opts.log.warn(
        { url: this.name, err: err.message },
        "the buffer refused readings: dropping the site connection so the broker sends them again",
      );
    } else {
      this.opts.log.error({ url: this.name, err: err.message }, "dropping the site connection");
    }
  }

  private oversize(topic: string, bytes: number): void {
    const device = this.router.match(topic)[0]?.device.id;
    this.opts.reject("mqtt_too_large", device);
    if (!this.oversizeLog.note(topic)) return;
    this.opts.log.warn(
      { url: this.name, topic, bytes, max_message_bytes: this.opts.connection.max_message_bytes },
      "a message from the site broker is larger than max_message_bytes: acknowledged and not stored (further ones in this burst are counted, not logged)",
    );
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.timer !== null) return;
    const delay = Math.round(this.backoff.next());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (!this.stopping) this.client?.reconnect();
    }, delay);
    this.timer.unref();
  }

  private setState(up: boolean, error: string | undefined): void {
    if (up !== this.up) this.since = Date.now();
    this.up = up;
    this.error = error;
  }
}

interface Waiting {
  resolve(answer: InboundMessage): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** A broker that speaks only MQTT 3.1.1 refuses an MQTT 5 CONNECT: say which setting helps. */
function explain(err: Error, version: 4 | 5): string {
  const code = (err as { code?: number }).code;
  if (
    version === 5 &&
    (code === 132 || code === 1 || /unsupported protocol|unacceptable protocol/i.test(err.message))
  ) {
    return `${err.message} (the broker does not take MQTT 5: set connection.protocol_version: 4)`;
  }
  return err.message;
}
