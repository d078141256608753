// Simulated MQTT devices: each connects where the device map says it publishes (the gateway's
// embedded broker, or its site broker), publishes every point at a rate with changing values, takes
// commands on the points' command topics, and misbehaves on demand. They speak MQTT 3.1.1 or 5; in
// MQTT 5 they answer a command that carries a response topic, and send the user properties their
// points map to tags.
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { Logger } from "pino";
import pino from "pino";
import type { ProtocolContext, Simulator } from "../adapter.js";
import { parseFaultSpec, type FaultKind } from "../fault-spec.js";
import { compileDecoder, ParsedPayload } from "./decode.js";
import type { MqttPointConfig } from "./routes.js";
import type { MqttDeviceConfig, MqttSectionConfig } from "./schema.js";

/** What a simulated device does wrong until cleared. */
export type SimFault =
  /** Every payload is bytes no decoder accepts. */
  | { kind: "garbage" }
  /** Each tick sends `count` messages per topic at once instead of one. */
  | { kind: "burst"; count: number }
  /** Drops its connection every `everyMs` (and reconnects). */
  | { kind: "disconnect"; everyMs: number };

export interface MqttSimulatorOptions {
  /** Messages per second per topic. Default 1; 0: only what `publish` asks for. */
  ratePerPoint?: number;
  /** Pause before a dropped device connects again. Default 500 ms. */
  reconnectMs?: number;
  faults?: Record<string, SimFault>;
  /** Login at the embedded broker; default: the first broker user with a plain password. */
  credentials?: { username: string; password: string } | undefined;
  /** Overrides the embedded broker's address (tests). */
  brokerUrl?: string;
  /** 4: MQTT 3.1.1 (the default), 5: MQTT 5. */
  protocolVersion?: 4 | 5;
  log?: Logger;
}

interface SimTopic {
  topic: string;
  points: MqttPointConfig[];
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT 5: user properties sent with each message (those the points map to tags). */
  userProperties?: Record<string, string>;
}

interface SimDevice {
  cfg: MqttDeviceConfig;
  client: MqttClient | null;
  topics: SimTopic[];
  values: Map<string, number | boolean | string>;
  sent: number;
  /** QoS1/2 publishes the broker acknowledged (PUBACK, or PUBCOMP for QoS2). */
  acked: number;
  /** MQTT 5: QoS1/2 publishes the broker refused with a reason code, by code. */
  refused: Map<number, number>;
  /** MQTT 5: commands answered on their response topic. */
  answered: number;
  commands: number;
  /** Connections made (the first and every reconnect). */
  connects: number;
  /** Connected, and subscribed to its command topics. */
  ready: boolean;
  /** Waiting for the device to be ready. */
  readyWaiters: (() => void)[];
  dropTimer: ReturnType<typeof setInterval> | null;
}

/** `+name` and `+` levels filled in, `#` cut to one level: a concrete topic to publish on. */
export function concreteTopic(pattern: string, device: string, point: string): string {
  return pattern
    .split("/")
    .map((l) =>
      l === "+device" ? device : l === "+point" ? point : l.startsWith("+") || l === "#" ? "sim" : l,
    )
    .join("/");
}

export class MqttSimulator implements Simulator {
  private readonly devices = new Map<string, SimDevice>();
  private readonly faults: Map<string, SimFault>;
  private readonly log: Logger;
  private timer: ReturnType<typeof setInterval> | null = null;
  private tick = 0;

  constructor(
    devices: MqttDeviceConfig[],
    private readonly context: ProtocolContext<MqttSectionConfig>,
    private readonly opts: MqttSimulatorOptions = {},
  ) {
    this.log = opts.log ?? pino({ level: "silent" });
    this.faults = new Map(Object.entries(opts.faults ?? {}));
    for (const cfg of devices) {
      const byTopic = new Map<string, SimTopic>();
      for (const p of cfg.points) {
        const topic = concreteTopic(p.topic, cfg.id, p.name);
        const t = byTopic.get(topic) ?? { topic, points: [], qos: 0, retain: false };
        t.points.push(p);
        t.qos = Math.max(t.qos, p.qos) as 0 | 1 | 2;
        for (const property of Object.keys(p.user_property_tags ?? {}))
          (t.userProperties ??= {})[property] = `sim-${cfg.id}`;
        byTopic.set(topic, t);
      }
      this.devices.set(cfg.id, {
        cfg,
        client: null,
        topics: [...byTopic.values()],
        values: new Map(),
        sent: 0,
        acked: 0,
        refused: new Map(),
        answered: 0,
        commands: 0,
        connects: 0,
        ready: false,
        readyWaiters: [],
        dropTimer: null,
      });
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.devices.values()].map((d) => this.connect(d)));
    const rate = this.opts.ratePerPoint ?? 1;
    if (rate > 0) this.timer = setInterval(() => this.publishAll(), Math.max(1, Math.round(1000 / rate)));
    for (const [id, f] of this.faults) this.setFault(id, f);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(
      [...this.devices.values()].map(async (d) => {
        if (d.dropTimer !== null) clearInterval(d.dropTimer);
        d.dropTimer = null;
        await d.client?.endAsync(true);
        d.client = null;
      }),
    );
  }

  setFault(device: string, fault: SimFault | null): void {
    const d = this.devices.get(device);
    if (d === undefined) throw new Error(`no simulated device ${device}`);
    if (d.dropTimer !== null) clearInterval(d.dropTimer);
    d.dropTimer = null;
    if (fault === null) {
      this.faults.delete(device);
      return;
    }
    this.faults.set(device, fault);
    if (fault.kind === "disconnect") {
      d.dropTimer = setInterval(() => d.client?.stream.destroy(), fault.everyMs);
    }
  }

  /** The value a point holds now (set by commands, or animated). */
  value(device: string, point: string): number | boolean | string | undefined {
    return this.devices.get(device)?.values.get(point);
  }

  counts(): Record<string, SimCounts> {
    return Object.fromEntries(
      [...this.devices].map(([id, d]) => [
        id,
        {
          sent: d.sent,
          acked: d.acked,
          refused: Object.fromEntries(d.refused),
          answered: d.answered,
          commands: d.commands,
          connects: d.connects,
        },
      ]),
    );
  }

  /** The MQTT version the simulated devices speak. */
  get protocolVersion(): 4 | 5 {
    return this.opts.protocolVersion ?? 4;
  }

  /**
   * Sets a point's value and publishes its topic now (with the topic's QoS; queued while
   * disconnected); a device with the garbage fault sends garbage instead.
   */
  publish(device: string, point: string, value: number | boolean | string): void {
    const d = this.mustDevice(device);
    const t = d.topics.find((x) => x.points.some((p) => p.name === point));
    if (t === undefined) throw new Error(`simulated device ${device} has no point ${point}`);
    if (d.client === null) throw new Error(`simulated device ${device} is not running`);
    d.values.set(point, value);
    this.publishTopic(d, t, this.faults.get(device)?.kind === "garbage", false);
  }

  /**
   * A QoS1 publish on a topic no point reads, answered by the broker at once: once it resolves the
   * device is connected, and everything the broker sent it before this call has arrived.
   */
  async probe(device: string): Promise<void> {
    const d = this.mustDevice(device);
    const client = d.client;
    if (client === null) throw new Error(`simulated device ${device} is not running`);
    await client.publishAsync(`iggy-edge-sim/${device}/probe`, "", { qos: 1 });
  }

  /** Resolves once the device is connected and subscribed to its command topics (at once if it is). */
  async connected(device: string): Promise<void> {
    const d = this.mustDevice(device);
    if (d.client === null) throw new Error(`simulated device ${device} is not running`);
    if (!d.ready) await new Promise<void>((resolve) => d.readyWaiters.push(resolve));
  }

  private mustDevice(device: string): SimDevice {
    const d = this.devices.get(device);
    if (d === undefined) throw new Error(`no simulated device ${device}`);
    return d;
  }

  /** Publishes every topic of every device once now. */
  publishAll(): void {
    this.tick++;
    for (const d of this.devices.values()) {
      if (d.client === null || !d.client.connected) continue;
      const fault = this.faults.get(d.cfg.id);
      const n = fault?.kind === "burst" ? fault.count : 1;
      for (const t of d.topics) {
        for (let i = 0; i < n; i++) this.publishTopic(d, t, fault?.kind === "garbage");
      }
    }
  }

  private publishTopic(d: SimDevice, t: SimTopic, garbage: boolean, animate = true): void {
    for (const p of t.points)
      if (!d.values.has(p.name) || (animate && p.write === undefined)) d.values.set(p.name, this.animate(p));
    const payload = garbage ? Buffer.from([0xff, 0xfe, 0x00, 0x7b]) : this.payload(d, t);
    d.sent++;
    const properties =
      this.protocolVersion === 5 && t.userProperties !== undefined
        ? { properties: { userProperties: t.userProperties } }
        : {};
    d.client!.publish(t.topic, payload, { qos: t.qos, retain: t.retain, ...properties }, (err) => {
      if (t.qos === 0) return;
      if (!err) d.acked++;
      else {
        const code = (err as { code?: unknown }).code;
        if (typeof code === "number") d.refused.set(code, (d.refused.get(code) ?? 0) + 1);
      }
    });
  }

  private animate(p: MqttPointConfig): number | boolean | string {
    const phase = this.tick / 10 + p.name.length;
    const d = p.decode;
    if (d === "boolean") return Math.sin(phase) > 0;
    if (d === "string" || d === "raw") return `state-${this.tick % 5}`;
    const lo = typeof p.write === "object" ? (p.write.min ?? 0) : 0;
    const hi = typeof p.write === "object" ? (p.write.max ?? 100) : 100;
    return Math.round((lo + ((hi - lo) * (1 + Math.sin(phase))) / 2) * 100) / 100;
  }

  /** Engineering values back to raw (the gateway applies scale/offset), in the point's encoding. */
  private payload(d: SimDevice, t: SimTopic): Buffer {
    const raw = (p: MqttPointConfig) => {
      const v = d.values.get(p.name)!;
      return typeof v === "number" ? (v - p.offset) / p.scale : v;
    };
    const first = t.points[0]!;
    const dec = first.decode;
    if (typeof dec === "object") {
      const doc: Record<string, unknown> = {};
      for (const p of t.points) {
        if (typeof p.decode === "object")
          setPath(doc, "json" in p.decode ? p.decode.json : p.decode.msgpack, raw(p));
        if (typeof p.decode === "object" && p.decode.ts !== undefined) setPath(doc, p.decode.ts, Date.now());
      }
      return "json" in dec ? Buffer.from(JSON.stringify(doc)) : Buffer.from(msgpackEncode(doc));
    }
    if (dec === "msgpack") return Buffer.from(msgpackEncode(raw(first)));
    return Buffer.from(String(raw(first)));
  }

  private async connect(d: SimDevice): Promise<void> {
    const conn = d.cfg.connection;
    const broker = this.context.section?.broker;
    let url: string;
    const options: IClientOptions = {
      clientId: `sim-${d.cfg.id}`,
      clean: true,
      reconnectPeriod: this.opts.reconnectMs ?? 500,
      connectTimeout: 5000,
      protocolVersion: this.protocolVersion,
    };
    if (conn !== undefined) {
      url = conn.url;
      if (conn.username !== undefined) options.username = conn.username;
      if (conn.password !== undefined) options.password = conn.password;
    } else {
      url =
        this.opts.brokerUrl ?? `${broker?.tls ? "mqtts" : "mqtt"}://${broker?.listen ?? "127.0.0.1:1883"}`;
      const creds =
        this.opts.credentials ??
        broker?.users
          .filter((u) => u.password !== undefined)
          .map((u) => ({ username: u.username, password: u.password! }))[0];
      if (creds) {
        options.username = creds.username;
        options.password = creds.password;
      }
      if (broker?.tls) options.rejectUnauthorized = false;
    }
    const client = connect(url, options);
    d.client = client;
    const commandTopics = new Map<string, MqttPointConfig>();
    for (const p of d.cfg.points) if (p.command_topic !== undefined) commandTopics.set(p.command_topic, p);
    const becameReady = (): void => {
      if (!client.connected) return;
      d.ready = true;
      for (const w of d.readyWaiters.splice(0)) w();
    };
    client.on("connect", () => {
      d.connects++;
      if (commandTopics.size === 0) return becameReady();
      const filters = Object.fromEntries([...commandTopics].map(([t, p]) => [t, { qos: p.command_qos }]));
      client.subscribe(filters, (err) => {
        if (err === null) becameReady();
      });
    });
    client.on("close", () => (d.ready = false));
    client.on("message", (topic, payload, packet) => {
      const p = commandTopics.get(topic);
      if (p === undefined) return;
      d.commands++;
      const responseTopic = packet.properties?.responseTopic;
      const correlationData = packet.properties?.correlationData;
      const answer = (error?: string): void => {
        if (responseTopic === undefined || !client.connected) return;
        const userProperties = error === undefined ? {} : { userProperties: { error } };
        client.publish(
          responseTopic,
          error === undefined ? "ok" : "error",
          {
            qos: 1,
            properties: { ...(correlationData !== undefined ? { correlationData } : {}), ...userProperties },
          },
          (err) => {
            if (!err) d.answered++;
          },
        );
      };
      try {
        let v = compileDecoder(p.decode)(new ParsedPayload(payload)).value;
        if (typeof v === "number") v = v * p.scale + p.offset;
        if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") d.values.set(p.name, v);
        this.log.info({ device: d.cfg.id, point: p.name, value: v }, "simulated device took a command");
        answer();
        const t = d.topics.find((x) => x.points.includes(p));
        if (t !== undefined && client.connected) this.publishTopic(d, t, false);
      } catch (e) {
        this.log.warn(
          { device: d.cfg.id, point: p.name, err: (e as Error).message },
          "simulated device got a command it cannot read",
        );
        answer(`cannot read the command: ${(e as Error).message}`);
      }
    });
    client.on("error", (err) =>
      this.log.debug({ device: d.cfg.id, err: err.message }, "simulator connection error"),
    );
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 5000);
      d.readyWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
    if (!d.ready)
      this.log.warn({ device: d.cfg.id, url }, "simulated device not connected yet; it keeps trying");
  }
}

export interface SimCounts {
  sent: number;
  acked: number;
  /** MQTT 5 refusals by reason code (151: quota exceeded, ...). */
  refused: Record<number, number>;
  answered: number;
  commands: number;
  connects: number;
}

function setPath(doc: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path
    .replace(/\[(\d+)\]/g, ".$1")
    .replace(/\["([^"]*)"\]/g, ".$1")
    .split(".")
    .filter(Boolean);
  let cur: Record<string, unknown> = doc;
  parts.forEach((part, i) => {
    if (i === parts.length - 1) cur[part] = value;
    else cur = (cur[part] ??= /^\d+$/.test(parts[i + 1]!) ? [] : {}) as Record<string, unknown>;
  });
}

/** The MQTT simulator's fault kinds, for `DEVICE:KIND[=N]` specs (see fault-spec.ts). */
export const MQTT_FAULT_KINDS = {
  garbage: {},
  burst: { number: "N", min: 1 },
  disconnect: { number: "MS", min: 1 },
} satisfies Record<SimFault["kind"], FaultKind>;

/** `DEVICE:garbage`, `DEVICE:burst=N`, `DEVICE:disconnect=MS`, comma-separated. */
export function parseFaults(
  spec: string | undefined,
  source = "IGGY_EDGE_MQTT_FAULTS",
): Record<string, SimFault> {
  const out: Record<string, SimFault> = {};
  for (const { device, kind, value } of parseFaultSpec(spec, MQTT_FAULT_KINDS, source).values()) {
    out[device] =
      kind === "garbage" ? { kind } : kind === "burst" ? { kind, count: value! } : { kind, everyMs: value! };
  }
  return out;
}
