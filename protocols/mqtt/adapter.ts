// The MQTT adapter: every mqtt device of the config. Devices without `connection` publish to the
// embedded broker this adapter owns; the others are read from site brokers over mqtt.js. Both paths
// acknowledge a QoS1/2 publish only after its readings are committed (see broker.ts, site-client.ts).
import { join } from "node:path";
import type { Client, PublishPacket } from "aedes";
import { BurstLog } from "../burst-log.js";
import { DeviceStates } from "../device-state.js";
import type {
  AdapterDeps,
  AdapterHealth,
  DeviceHealth,
  Emit,
  EmitOptions,
  PointRef,
  ProtocolAdapter,
  ProtocolContext,
  WriteValue,
} from "../adapter.js";
import { EmbeddedBroker, PayloadRefused } from "./broker.js";
import {
  answerError,
  checkRange,
  CommandError,
  commandProperties,
  encodeCommand,
  NoAnswerError,
} from "./commands.js";
import { openBrokerStore, type BrokerStore } from "./persistence.js";
import { Router, type MessageProperties, type MqttPointConfig, type Problem, type Routed } from "./routes.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";
import { connectionKey, loadMqttClient, SiteConnection, type InboundMessage } from "./site-client.js";

export interface MqttAdapterOptions {
  /** Overrides mqtt.broker.listen (tests: "127.0.0.1:0"). */
  listen?: string;
  /** Where retained messages and sessions persist; default <gateway.data_dir>/mqtt-broker. */
  brokerStateDir?: string;
}

export interface MqttStats {
  /** Messages on a point's topic. */
  messages: number;
  readings: number;
  /** Undecodable payloads (per point). */
  problems: number;
  /** QoS1/2 publishes not acknowledged because the buffer refused them. */
  refused: number;
  /** QoS0 readings the buffer refused (lost, as QoS0 allows). */
  qos0Dropped: number;
  /** Client mode: answers on a command response topic that matched no waiting command. */
  unmatchedAnswers: number;
}

const LOG_QUIET_MS = 10_000;

export class MqttAdapter implements ProtocolAdapter {
  readonly protocol = "mqtt";
  private emit: Emit | null = null;
  private readonly embeddedDevices: MqttDeviceConfig[];
  private readonly embeddedRouter: Router;
  private broker: EmbeddedBroker | null = null;
  private store: BrokerStore | null = null;
  private readonly sites: SiteConnection[] = [];
  private readonly siteOf = new Map<string, SiteConnection>();
  private readonly devices = new Map<string, MqttDeviceConfig>();
  /**
   * Devices at the embedded broker: up from their first committed reading until the last connection
   * that delivered their readings fails (closed without DISCONNECT; one that says goodbye, such as a
   * sensor that sleeps between readings, leaves the device up).
   */
  private readonly embeddedStates: DeviceStates;
  private readonly linksOf = new Map<string, Set<Client>>();
  private readonly devicesOf = new WeakMap<Client, Set<string>>();
  /** Connections the broker closed because the buffer refused their publish: not a device failure. */
  private readonly refusedClients = new WeakSet<Client>();
  /** Connections that ended without DISCONNECT. */
  private readonly failedClients = new WeakSet<Client>();
  private readonly problemLog: BurstLog;
  private readonly refusalLog: BurstLog;
  private readonly counters: Omit<MqttStats, "unmatchedAnswers"> = {
    messages: 0,
    readings: 0,
    problems: 0,
    refused: 0,
    qos0Dropped: 0,
  };

  constructor(
    devices: MqttDeviceConfig[],
    private readonly context: ProtocolContext<MqttSectionConfig>,
    private readonly deps: AdapterDeps,
    private readonly options: MqttAdapterOptions = {},
  ) {
    for (const d of devices) this.devices.set(d.id, d);
    this.embeddedDevices = devices.filter((d) => d.connection === undefined);
    this.embeddedRouter = new Router(this.embeddedDevices);
    this.embeddedStates = new DeviceStates(
      "mqtt",
      this.embeddedDevices.map((d) => d.id),
      deps.log,
      "no message yet",
    );
    const groups = new Map<string, MqttDeviceConfig[]>();
    for (const d of devices) {
      if (d.connection === undefined) continue;
      const key = connectionKey(d.connection);
      groups.set(key, [...(groups.get(key) ?? []), d]);
    }
    for (const group of groups.values()) {
      const site: SiteConnection = new SiteConnection({
        connection: group[0]!.connection!,
        devices: group,
        gatewayId: context.gatewayId,
        log: deps.log.child({ site: group[0]!.connection!.url }),
        commit: (router, messages, marks) => this.commitSite(router, messages, marks),
        reject: (reason, device) => deps.reject(reason, device),
        ackDelay: (seconds) => deps.ackDelay?.(site.name, seconds),
        ...(deps.readMarks !== undefined ? { readMarks: deps.readMarks } : {}),
      });
      this.sites.push(site);
      for (const d of group) this.siteOf.set(d.id, site);
    }
    // Two connections to one broker (different client ids) need different names.
    for (const site of this.sites) {
      if (this.sites.some((other) => other !== site && other.name === site.name)) {
        site.name = `${site.name} (${site.clientId})`;
      }
    }
    this.problemLog = new BurstLog({
      quietMs: LOG_QUIET_MS,
      onEnd: ({ key: device, total }) => {
        if (total > 1)
          deps.log.warn(
            { device, count: total },
            `${total} MQTT payloads of device ${device} did not decode in this burst`,
          );
      },
    });
    this.refusalLog = new BurstLog({
      quietMs: LOG_QUIET_MS,
      onEnd: ({ key: reason, total }) => {
        if (total > 1)
          deps.log.warn({ count: total, reason }, `the buffer refused ${total} MQTT messages in this burst`);
      },
    });
  }

  async start(emit: Emit): Promise<void> {
    this.emit = emit;
    if (this.sites.length > 0) await loadMqttClient();
    await Promise.all(this.sites.map((s) => s.restore()));
    const brokerConfig = this.context.section?.broker;
    if (brokerConfig !== undefined && (this.embeddedDevices.length > 0 || this.sites.length === 0)) {
      const cfg = this.options.listen ? { ...brokerConfig, listen: this.options.listen } : brokerConfig;
      if (cfg.persist) {
        this.store = await openBrokerStore(
          this.options.brokerStateDir ?? join(this.context.dataDir, "mqtt-broker"),
          this.deps.log,
        );
      }
      this.broker = new EmbeddedBroker({
        config: cfg,
        log: this.deps.log.child({ component: "mqtt-broker" }),
        onPublish: (packet: PublishPacket, client: Client) =>
          this.ingest(
            this.embeddedRouter,
            packet.topic,
            packet.payload as Buffer,
            packet.qos,
            false,
            client,
            packet.properties,
          ),
        onClientGone: (client, cleanly) => this.clientGone(client, cleanly),
        ...(this.store ? { persistence: this.store.persistence } : {}),
      });
      try {
        await this.broker.start();
      } catch (e) {
        await this.broker.stop().catch(() => {});
        this.broker = null;
        await this.store?.close();
        this.store = null;
        throw e;
      }
    }
    for (const s of this.sites) s.start();
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.sites.map((s) => s.stop()));
    if (this.broker) await this.broker.stop();
    this.broker = null;
    if (this.store) await this.store.close();
    this.store = null;
    this.problemLog.flush();
    this.refusalLog.flush();
  }

  /** The embedded broker's TCP address once started. */
  brokerAddress(): { host: string; port: number } | null {
    return this.broker?.address() ?? null;
  }

  websocketAddress(): { host: string; port: number } | null {
    return this.broker?.websocketAddress() ?? null;
  }

  stats(): MqttStats {
    return { ...this.counters, unmatchedAnswers: this.sites.reduce((n, s) => n + s.unmatchedAnswers, 0) };
  }

  async write(target: PointRef, value: WriteValue): Promise<void> {
    const device = this.devices.get(target.device);
    const point = device?.points.find((p) => p.name === target.point);
    if (device === undefined || point === undefined) {
      throw new CommandError(`no MQTT point ${target.device}/${target.point}`);
    }
    if (point.write === undefined) {
      throw new CommandError(
        `point ${device.id}/${point.name} is not writable (the config declares no write: for it)`,
      );
    }
    if (point.command_topic === undefined) {
      throw new CommandError(`point ${device.id}/${point.name} has no command_topic to write to`);
    }
    checkRange(point, value);
    const payload = encodeCommand(point, value);
    const site = this.siteOf.get(device.id);
    const properties = commandProperties(point);
    const { command_topic: topic, command_qos: qos, command_retain: retain } = point;
    if (site === undefined && this.broker === null)
      throw new Error("the embedded MQTT broker is not running");
    if (point.command_response_topic === undefined) {
      if (site !== undefined) return site.publish(topic, payload, qos, retain, properties);
      return this.broker!.publish(topic, payload, qos, retain, properties);
    }
    const request = { ...properties, responseTopic: point.command_response_topic };
    const timeoutMs = point.command_response_timeout_ms;
    let answer: { properties?: { userProperties?: Record<string, string | string[]> | undefined } };
    try {
      answer =
        site !== undefined
          ? await site.request(topic, payload, qos, retain, request, timeoutMs)
          : await this.broker!.request(topic, payload, qos, retain, request, timeoutMs);
    } catch (e) {
      if (!(e instanceof NoAnswerError)) throw e;
      e.message = `device ${device.id} did not answer the command to ${point.name}: ${e.message} (it may or may not have acted on it)`;
      throw e;
    }
    const refused = answerError(answer);
    if (refused !== undefined) throw new CommandError(`device ${device.id} refused the command: ${refused}`);
  }

  health(): AdapterHealth {
    const devices: DeviceHealth[] = [];
    const listening = this.broker?.listening === true;
    for (const d of this.embeddedDevices) {
      const h = this.embeddedStates.health(d.id);
      devices.push(
        listening
          ? h
          : { device: d.id, up: false, since: h.since, error: "the embedded broker is not running" },
      );
    }
    for (const s of this.sites) devices.push(...s.health());
    if (this.sites.length === 0) return { protocol: "mqtt", devices };
    return { protocol: "mqtt", devices, connections: this.sites.map((s) => s.connectionHealth()) };
  }

  /**
   * A round trip on the site connection of `device` (PINGREQ, PINGRESP), begun now: once it
   * resolves, the site broker has read every acknowledgement the gateway wrote to it before.
   */
  siteRoundTrip(device: string): Promise<void> {
    const site = this.siteOf.get(device);
    if (site === undefined)
      return Promise.reject(new Error(`device ${device} is not read from a site broker`));
    return site.roundTrip();
  }

  /** Readings of these embedded devices came through `client` and are committed: the devices are up. */
  private delivered(client: Client, ids: Iterable<string>): void {
    if (client.closed) {
      // Gone while its readings were being committed (a QoS0 publisher that said goodbye at once):
      // they count, the link does not; after a failed connection the device stays as that left it.
      if (this.failedClients.has(client)) return;
      for (const id of ids) this.embeddedStates.up(id, { client: client.id });
      return;
    }
    let mine = this.devicesOf.get(client);
    if (mine === undefined) this.devicesOf.set(client, (mine = new Set()));
    for (const id of ids) {
      if (mine.has(id)) continue;
      mine.add(id);
      let links = this.linksOf.get(id);
      if (links === undefined) this.linksOf.set(id, (links = new Set()));
      links.add(client);
    }
    for (const id of ids) this.embeddedStates.up(id, { client: client.id });
  }

  /** A connection at the embedded broker ended; a device whose last link failed is down. */
  private clientGone(client: Client, cleanly: boolean): void {
    const failed = !cleanly && !this.refusedClients.has(client) && this.broker?.listening === true;
    if (failed) this.failedClients.add(client);
    const ids = this.devicesOf.get(client);
    if (ids === undefined) return;
    this.devicesOf.delete(client);
    for (const id of ids) {
      const links = this.linksOf.get(id);
      links?.delete(client);
      if (failed && (links === undefined || links.size === 0)) {
        this.embeddedStates.down(id, "its MQTT connection was lost (closed without DISCONNECT)", {
          client: client.id,
        });
      }
    }
  }

  /**
   * One message on a point's topic to the buffer. Returns a promise (settling after the commit) when
   * the sender's acknowledgement must wait for it: QoS1/2 with readings.
   * `retainedDelivery`: a site broker handed over a stored retained message. At the embedded broker
   * (`client`), a QoS1/2 message none of whose points could decode it is refused (PayloadRefused).
   */
  private ingest(
    router: Router,
    topic: string,
    payload: Buffer,
    qos: number,
    retainedDelivery: boolean,
    client?: Client,
    properties?: MessageProperties,
  ): Promise<void> | undefined {
    const emit = this.emit;
    if (emit === null) return Promise.reject(new Error("the MQTT adapter is not started"));
    if (payload.length === 0 && retainedDelivery) return undefined; // a cleared retained message
    const routed = router.route(topic, payload, Date.now(), retainedDelivery, properties);
    if (!routed.matched) return undefined;
    this.counters.messages++;
    if (routed.readings.length === 0 && routed.problems.length > 0 && qos > 0 && client !== undefined) {
      for (const p of routed.problems) this.problem(p, topic);
      return Promise.reject(new PayloadRefused(routed.problems[0]!.message));
    }
    for (const p of routed.problems) this.problem(p, topic);
    if (routed.readings.length === 0) return undefined;
    const pending = emit(routed.readings, { awaited: qos > 0 }).then(() => {
      router.committed(routed);
      this.counters.readings += routed.readings.length;
      if (client !== undefined && routed.sources !== undefined) this.delivered(client, routed.sources);
    });
    if (qos === 0) {
      pending.catch((err: Error) => {
        this.counters.qos0Dropped += routed.readings.length;
        this.refusal(err, topic, 0);
      });
      return undefined;
    }
    return pending.catch((err: Error) => {
      const mqtt5 = this.broker?.mqtt5 === true && client?.version === 5;
      // The broker closes a 3.1.1 connection whose QoS1/2 publish was refused; MQTT 5 answers 0x97.
      if (client !== undefined && qos > 0 && !mqtt5) this.refusedClients.add(client);
      this.counters.refused++;
      this.refusal(err, topic, qos, mqtt5);
      throw err;
    });
  }

  /**
   * Messages from one site connection, in the order they arrived, to the buffer in one emit: all of
   * them are stored or none. A message whose reading the buffer can never store (InvalidReadingError)
   * is left out, counted by the buffer and logged, and the rest is emitted again.
   */
  private async commitSite(
    router: Router,
    messages: InboundMessage[],
    marks?: EmitOptions["marks"],
  ): Promise<void> {
    const emit = this.emit;
    if (emit === null) throw new Error("the MQTT adapter is not started");
    const now = Date.now();
    const parts: { routed: Routed; message: InboundMessage }[] = [];
    for (const message of messages) {
      if (message.payload.length === 0 && message.retain) continue; // a cleared retained message
      const routed = router.route(message.topic, message.payload, now, message.retain, message.properties);
      if (!routed.matched) continue;
      this.counters.messages++;
      for (const p of routed.problems) this.problem(p, message.topic);
      if (routed.readings.length > 0) parts.push({ routed, message });
    }
    for (;;) {
      const readings = parts.flatMap((p) => p.routed.readings);
      if (readings.length === 0 && marks === undefined) return;
      try {
        await emit(readings, {
          awaited: marks !== undefined || parts.some((p) => p.message.qos > 0),
          ...(marks !== undefined ? { marks } : {}),
        });
      } catch (e) {
        const err = e as Error & { code?: string; index?: number };
        const bad = err.code === "BUFFER_INVALID_READING" ? ownerOf(parts, err.index) : -1;
        if (bad >= 0) {
          const { message } = parts.splice(bad, 1)[0]!;
          this.deps.log.warn(
            { topic: message.topic, err: err.message },
            "the buffer cannot store this MQTT message's reading: acknowledged and not stored",
          );
          continue;
        }
        const waiting = parts.filter((p) => p.message.qos > 0);
        this.counters.refused += waiting.length;
        this.counters.qos0Dropped +=
          readings.length - waiting.reduce((n, p) => n + p.routed.readings.length, 0);
        const first = waiting[0]?.message ?? parts[0]?.message;
        if (first !== undefined) this.refusal(err, first.topic, first.qos);
        throw err;
      }
      for (const p of parts) router.committed(p.routed);
      this.counters.readings += readings.length;
      return;
    }
  }

  private problem(p: Problem, topic: string): void {
    this.counters.problems++;
    this.deps.reject(`mqtt_${p.reason}`, p.device);
    if (this.problemLog.note(p.device)) {
      this.deps.log.warn(
        { device: p.device, point: p.point, topic, reason: p.reason },
        `MQTT payload did not decode: ${p.message} (further ones in this burst are counted, not logged)`,
      );
    }
  }

  private refusal(err: Error, topic: string, qos: number, mqtt5 = false): void {
    const code = (err as { code?: string }).code ?? err.name;
    if (this.refusalLog.note(code)) {
      this.deps.log.warn(
        { topic, qos, code, err: err.message },
        qos === 0
          ? "the buffer refused a QoS0 MQTT message: it is lost, as QoS0 allows"
          : mqtt5
            ? "the buffer refused an MQTT 5 message: answered with reason code 0x97 (quota exceeded)"
            : "the buffer refused an MQTT message: not acknowledged, the device will send it again",
      );
    }
  }
}

export type { MqttPointConfig };

/** Which part holds the reading at `index` of their concatenated readings; -1 when none does. */
function ownerOf(parts: { routed: Routed }[], index: number | undefined): number {
  if (index === undefined || index < 0) return -1;
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    at += parts[i]!.routed.readings.length;
    if (index < at) return i;
  }
  return -1;
}
