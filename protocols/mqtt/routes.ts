// From a message (topic, payload) to readings: which points listen on the topic, what the named
// wildcards bind, the decoded, scaled value, and the deadband. Undecodable payloads come back as
// problems for the caller to count and log; they never throw.
import type { MqttDeviceConfig } from "./schema.js";
import type { Quality, Reading, ReadingValue } from "../adapter.js";
import { compileDecoder, DecodeError, ParsedPayload, type PointDecoder } from "./decode.js";
import { bindPattern, compilePattern, type TopicPattern } from "./topic.js";

export type MqttPointConfig = MqttDeviceConfig["points"][number];

export interface RoutePoint {
  device: MqttDeviceConfig;
  point: MqttPointConfig;
  pattern: TopicPattern;
  decode: PointDecoder;
  /** MQTT 5: decoders chosen by the message's content type. */
  decodeByType?: Map<string, PointDecoder>;
}

/** What an MQTT 5 message carries besides topic and payload that the points can use. */
export interface MessageProperties {
  contentType?: string | undefined;
  userProperties?: Record<string, string | string[]> | undefined;
}

export interface Problem {
  /** The config device id of the point that failed. */
  device: string;
  point: string;
  reason: string;
  message: string;
}

export interface Routed {
  readings: Reading[];
  problems: Problem[];
  /** Some point listens on this topic. */
  matched: boolean;
  /** Deadband references to remember once the readings are committed. */
  deadband?: [string, number][];
  /** Config ids of the devices the readings came from. */
  sources?: Set<string>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface Binding {
  rp: RoutePoint;
  /** Shared by every message on the topic: read, never changed. */
  bound: Readonly<Record<string, string>> | undefined;
}
const NONE: Binding[] = [];
/** Distinct wildcard topics whose matching points are remembered. */
const MATCH_CACHE_LIMIT = 10_000;

export class Router {
  private readonly exact = new Map<string, Binding[]>();
  private readonly wild: RoutePoint[] = [];
  /** Per wildcard topic seen: the wildcard points it matches, with what their named levels bind. */
  private readonly cache = new Map<string, Binding[]>();
  private readonly lastValue = new Map<string, number>();

  constructor(devices: MqttDeviceConfig[]) {
    for (const device of devices) {
      for (const point of device.points) {
        const pattern = compilePattern(point.topic);
        const rp: RoutePoint = { device, point, pattern, decode: compileDecoder(point.decode) };
        if (point.decode_by_content_type !== undefined) {
          rp.decodeByType = new Map(
            Object.entries(point.decode_by_content_type).map(([type, spec]) => [type, compileDecoder(spec)]),
          );
        }
        if (pattern.exact) {
          const list = this.exact.get(pattern.filter) ?? [];
          list.push({ rp, bound: undefined });
          this.exact.set(pattern.filter, list);
        } else {
          this.wild.push(rp);
        }
      }
    }
  }

  /** Every point, for subscriptions and lookups. */
  points(): RoutePoint[] {
    return [...[...this.exact.values()].flat().map((b) => b.rp), ...this.wild];
  }

  match(topic: string): RoutePoint[] {
    return this.bindings(topic).map((b) => b.rp);
  }

  /** The points `topic` reaches, each with its named levels' values (undefined: none named). */
  private bindings(topic: string): Binding[] {
    const plain = this.exact.get(topic) ?? NONE;
    if (this.wild.length === 0) return plain;
    let wild = this.cache.get(topic);
    if (wild === undefined) {
      wild = [];
      for (const rp of this.wild) {
        const bound = bindPattern(rp.pattern, topic);
        if (bound !== null) wild.push({ rp, bound: rp.pattern.names.size === 0 ? undefined : bound });
      }
      if (this.cache.size >= MATCH_CACHE_LIMIT) this.cache.clear();
      this.cache.set(topic, wild);
    }
    if (plain.length === 0) return wild;
    return wild.length === 0 ? plain : [...plain, ...wild];
  }

  /**
   * The readings of one message. `retainedDelivery`: a retained message the broker handed over on
   * subscribe, stored earlier, so its value is marked uncertain. `properties`: an MQTT 5 message's.
   */
  route(
    topic: string,
    payload: Buffer,
    now: number,
    retainedDelivery = false,
    properties?: MessageProperties,
  ): Routed {
    const points = this.bindings(topic);
    if (points.length === 0) return { readings: [], problems: [], matched: false };
    const parsed = new ParsedPayload(payload);
    const readings: Reading[] = [];
    const problems: Problem[] = [];
    let deadband: [string, number][] | undefined;
    let sources: Set<string> | undefined;
    for (const { rp, bound } of points) {
      const deviceId = bound?.device ?? rp.device.id;
      const pointName = bound?.point ?? rp.point.name;
      if (bound !== undefined && (!NAME_RE.test(deviceId) || !NAME_RE.test(pointName))) {
        problems.push({
          device: rp.device.id,
          point: rp.point.name,
          reason: "bad_topic_name",
          message: `topic ${topic} names device '${deviceId}', point '${pointName}': not a valid id`,
        });
        continue;
      }
      let value: ReadingValue;
      let ts = now;
      try {
        const contentType = properties?.contentType;
        const decode = (contentType !== undefined && rp.decodeByType?.get(contentType)) || rp.decode;
        const d = decode(parsed);
        value = d.value;
        if (d.ts !== undefined) ts = d.ts;
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        problems.push({ device: rp.device.id, point: rp.point.name, reason: e.reason, message: e.message });
        continue;
      }
      if (typeof value === "number" && (rp.point.scale !== 1 || rp.point.offset !== 0)) {
        value = value * rp.point.scale + rp.point.offset;
      }
      if (rp.point.deadband !== undefined && typeof value === "number") {
        const key = `${deviceId}\0${pointName}`;
        const last = this.lastValue.get(key);
        const band = rp.point.deadband;
        if (last !== undefined && (band === 0 ? value === last : Math.abs(value - last) < band)) continue;
        (deadband ??= []).push([key, value]);
      }
      const quality: Quality = value === null ? "bad" : retainedDelivery ? "uncertain" : "good";
      const r: Reading = { device: deviceId, point: pointName, ts, value, quality };
      if (rp.point.unit !== undefined) r.unit = rp.point.unit;
      const tags = mergeTags(
        rp.device.tags,
        rp.point.tags,
        bound,
        userPropertyTags(rp.point.user_property_tags, properties?.userProperties),
      );
      if (tags !== undefined) r.tags = tags;
      readings.push(r);
      (sources ??= new Set()).add(rp.device.id);
    }
    const out: Routed = { readings, problems, matched: true };
    if (deadband !== undefined) out.deadband = deadband;
    if (sources !== undefined) out.sources = sources;
    return out;
  }

  /**
   * The readings were committed: their values become the deadband's reference. Only then, so that a
   * publish the buffer refused is not suppressed as "unchanged" when the device sends it again.
   */
  committed(routed: Routed): void {
    if (routed.deadband === undefined) return;
    for (const [key, value] of routed.deadband) this.lastValue.set(key, value);
  }
}

/** The tags a point takes from the message's user properties (the first value of a repeated one). */
function userPropertyTags(
  wanted: Record<string, string> | undefined,
  given: Record<string, string | string[]> | undefined,
): Record<string, string> | undefined {
  if (wanted === undefined || given === undefined) return undefined;
  let out: Record<string, string> | undefined;
  for (const [property, tag] of Object.entries(wanted)) {
    if (!Object.hasOwn(given, property)) continue;
    const v = given[property];
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === "string") (out ??= {})[tag] = value;
  }
  return out;
}

function mergeTags(
  device: Record<string, string> | undefined,
  point: Record<string, string> | undefined,
  bound: Record<string, string> | undefined,
  fromProperties: Record<string, string> | undefined,
): Record<string, string> | undefined {
  let extra: Record<string, string> | undefined;
  if (bound !== undefined) {
    for (const [k, v] of Object.entries(bound)) {
      if (k === "device" || k === "point") continue;
      (extra ??= {})[k] = v;
    }
  }
  if (fromProperties !== undefined) extra = { ...extra, ...fromProperties };
  if (device === undefined && extra === undefined) return point;
  if (point === undefined && extra === undefined) return device;
  return { ...device, ...extra, ...point };
}
