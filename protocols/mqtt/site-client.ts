// Client mode: one mqtt.js connection to a site broker for the devices that share its settings.
// Subscribes to their topics, reconnects with jittered backoff, keeps a persistent session.
//
// Holding the acknowledgement: mqtt.js asks `customHandleAcks` before it sends PUBACK (QoS1) or
// PUBREC (QoS2), and sends nothing when that callback reports an error. So QoS1/2 readings are
// committed there (handleMessage would be too late for QoS2: its PUBREC goes before handleMessage).
// A refused append drops the connection; the broker sends the unacknowledged publishes again once
// the persistent session is resumed.
// mqtt.js hands a connection's messages over one at a time, each after the previous was
// acknowledged, so one connection ingests at most one QoS1/2 message per commit.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IClientOptions, IPublishPacket, MqttClient } from "mqtt";
import type { Logger } from "pino";
import type { MqttDeviceConfig } from "./schema.js";
import type { DeviceHealth } from "../adapter.js";
import { Backoff } from "../backoff.js";
import { Router } from "./routes.js";

export type SiteConnectionConfig = NonNullable<MqttDeviceConfig["connection"]>;

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

/** Returns a promise when the message must not be acknowledged before it settles. */
export type SiteIngest = (
  router: Router,
  topic: string,
  payload: Buffer,
  packet: IPublishPacket,
) => Promise<void> | undefined;

export interface SiteOptions {
  connection: SiteConnectionConfig;
  devices: MqttDeviceConfig[];
  gatewayId: string;
  log: Logger;
  ingest: SiteIngest;
}

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

export class SiteConnection {
  readonly router: Router;
  readonly clientId: string;
  private client: MqttClient | null = null;
  private stopping = false;
  private readonly backoff: Backoff;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private up = false;
  private since = Date.now();
  private error: string | undefined = "not connected yet";
  private subscribedOnce = false;

  constructor(private readonly opts: SiteOptions) {
    this.router = new Router(opts.devices);
    this.clientId = opts.connection.client_id ?? defaultClientId(opts.gatewayId, opts.connection);
    this.backoff = new Backoff({
      initialMs: opts.connection.reconnect_min_ms,
      maxMs: opts.connection.reconnect_max_ms,
    });
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
      protocolVersion: 4,
      manualConnect: true,
    };
    if (c.username !== undefined) options.username = c.username;
    if (c.password !== undefined) options.password = c.password;
    if (c.ca) options.ca = readFileSync(c.ca);
    if (c.cert) options.cert = readFileSync(c.cert);
    if (c.key) options.key = readFileSync(c.key);
    const client = mqttClient().connect(c.url, options);
    this.client = client;
    // mqtt.js takes customHandleAcks from the options only for MQTT 5, but asks options.customHandleAcks
    // before every PUBACK/PUBREC whatever the version: set it on the client, before connecting.
    client.options.customHandleAcks = (topic, message, packet: IPublishPacket, done) => {
      const pending = this.opts.ingest(this.router, topic, message, packet);
      if (pending === undefined) return done(0);
      pending.then(
        () => done(0),
        (err: Error) => {
          done(err);
          this.dropConnection(err);
        },
      );
    };
    client.handleMessage = (packet, callback) => {
      // QoS1/2 were ingested in customHandleAcks.
      if (packet.qos === 0) this.opts.ingest(this.router, packet.topic, packet.payload as Buffer, packet);
      callback();
    };
    client.on("connect", (connack) => {
      this.backoff.reset();
      this.setState(true, undefined);
      this.opts.log.info(
        { url: c.url, client_id: this.clientId, session_present: connack.sessionPresent },
        "connected to the site MQTT broker",
      );
      if (!connack.sessionPresent || !this.subscribedOnce) this.subscribe(client);
    });

    client.on("error", (err) => {
      // Failed connects and refused publishes land here; `close` follows and schedules the retry.
      if (this.error !== err.message)
        this.opts.log.warn({ url: c.url, err: err.message }, "site MQTT connection error");
      this.setState(false, err.message);
    });
    client.on("close", () => {
      if (this.up) this.opts.log.warn({ url: c.url }, "site MQTT connection closed; reconnecting");
      this.setState(false, this.error ?? "connection closed");
      this.scheduleReconnect();
    });
    client.connect();
  }

  connected(): boolean {
    return this.client?.connected === true;
  }

  async publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean): Promise<void> {
    const client = this.client;
    if (client === null || !client.connected) {
      throw new Error(`not connected to the site broker ${this.opts.connection.url}`);
    }
    await client.publishAsync(topic, payload, { qos, retain });
  }

  health(): DeviceHealth[] {
    return this.opts.devices.map((d) => ({
      device: d.id,
      up: this.up,
      since: this.since,
      ...(this.error !== undefined ? { error: this.error } : {}),
    }));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const client = this.client;
    this.client = null;
    if (client) await client.endAsync(true);
  }

  private subscribe(client: MqttClient): void {
    const filters = new Map<string, 0 | 1 | 2>();
    for (const rp of this.router.points()) {
      const q = filters.get(rp.pattern.filter);
      if (q === undefined || rp.point.qos > q) filters.set(rp.pattern.filter, rp.point.qos);
    }
    const request = Object.fromEntries([...filters].map(([f, qos]) => [f, { qos }]));
    client.subscribe(request, (err, granted) => {
      if (err) {
        this.opts.log.error({ err: err.message }, "subscribing at the site MQTT broker failed");
        return;
      }
      this.subscribedOnce = true;
      const refused = (granted ?? []).filter((g) => g.qos === 128).map((g) => g.topic);
      if (refused.length > 0) {
        this.opts.log.error({ filters: refused }, "the site MQTT broker refused these subscriptions");
        this.setState(true, `subscription refused: ${refused.join(", ")}`);
      }
    });
  }

  /** Drops the connection without acknowledging what is in flight; the broker resends it later. */
  private dropConnection(err: Error): void {
    this.opts.log.warn(
      { url: this.opts.connection.url, err: err.message },
      "the buffer refused readings: dropping the site connection so the broker sends them again",
    );
    this.client?.stream.destroy();
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
