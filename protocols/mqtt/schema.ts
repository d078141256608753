// The MQTT plug-in's part of the file: the embedded broker (`mqtt.broker`), and the device map of an
// MQTT device (topics with named wildcards, payload decoders, command topics), with the checks
// across keys that the schema alone cannot make.
import { z } from "../../config/zod.cjs";
import {
  byteSize,
  defineProtocolConfig,
  deviceCommon,
  fieldPath,
  hostPort,
  pointCommon,
  points,
  positiveMs,
  type CheckContext,
  type RuleIssue,
} from "../../config/schema.js";

const mqttTopicFilter = z
  .string()
  .min(1)
  .refine(
    (t) =>
      t
        .split("/")
        .every((level, i, all) => (level.startsWith("#") ? i === all.length - 1 && level === "#" : true)),
    {
      message: "'#' may only stand alone as the last topic level",
    },
  );

/** A topic name to publish to: no wildcards. */
const mqttTopicName = z
  .string()
  .min(1)
  .refine((t) => !t.includes("+") && !t.includes("#"), { message: "a topic name has no '+' or '#'" });

/**
 * A point's topic: an MQTT filter whose `+` levels may carry a name (`plant/+site/+device/temp`).
 * `+device` sets the reading's device id, `+point` its point name; other names become tags.
 */
const mqttTopicPattern = mqttTopicFilter.superRefine((t, ctx) => {
  const seen = new Set<string>();
  for (const level of t.split("/")) {
    if (level.startsWith("+")) {
      const label = level.slice(1);
      if (label !== "" && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(label)) {
        ctx.addIssue({
          code: "custom",
          message: `'${level}': a named wildcard is '+' and a name of letters, digits and '_'`,
        });
      } else if (label !== "" && seen.has(label)) {
        ctx.addIssue({ code: "custom", message: `the wildcard name '+${label}' is used twice` });
      }
      seen.add(label);
    } else if (level !== "#" && level.includes("+")) {
      ctx.addIssue({ code: "custom", message: `'${level}': '+' may only start a topic level` });
    }
  }
});

/** `scrypt$N$r$p$SALT$HASH` (base64), as printed by `node dist/protocols/mqtt/hash-password.js`. */
const SCRYPT_HASH_RE = /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/;

const brokerUser = z
  .strictObject({
    username: z.string().min(1),
    password: z.string().min(1).optional(),
    password_hash: z
      .string()
      .regex(SCRYPT_HASH_RE, {
        message: "expected scrypt$N$r$p$SALT$HASH (make one with: node dist/protocols/mqtt/hash-password.js)",
      })
      .optional(),
    publish: z.array(mqttTopicFilter).default(["#"]),
    subscribe: z.array(mqttTopicFilter).default([]),
  })
  .refine((u) => (u.password === undefined) !== (u.password_hash === undefined), {
    message: "a broker user has exactly one of password or password_hash",
  });

export const mqttSection = z.strictObject({
  broker: z
    .strictObject({
      listen: hostPort.default("127.0.0.1:1883"),
      users: z.array(brokerUser).default([]),
      allow_anonymous: z.boolean().default(false),
      tls: z
        .strictObject({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().optional() })
        .optional(),
      websocket: z.strictObject({ listen: hostPort }).optional(),
      max_connections: z.number().int().positive().default(1000),
      max_message_bytes: byteSize.default(262144),
      // QoS1/2 publishes of one connection waiting for their commit (and QoS2 awaiting PUBREL);
      // a connection that sends more is disconnected (MQTT 5: answered 0x97, and advertised as the
      // broker's Receive Maximum).
      max_inflight: z.number().int().min(1).max(65535).default(1000),
      // Retained messages and persistent sessions (subscriptions, queued QoS1/2 messages) under
      // <gateway.data_dir>/mqtt-broker, so they survive a restart.
      persist: z.boolean().default(true),
      // MQTT 5 besides 3.1.1: the broker runs on aedes 2.0.0-beta.1 instead of aedes 1.2.0 (see the
      // README). v5 refusals carry reason codes; 3.1.1 devices keep the 3.1.1 behaviour.
      mqtt5: z.boolean().default(false),
      // MQTT 5: topic aliases a device may set up per connection (0: none).
      topic_alias_maximum: z.number().int().min(0).max(65535).default(10),
      // MQTT 5: the longest session expiry interval a device gets (a longer request is shortened).
      session_expiry_max_s: z.number().int().min(1).max(4294967295).default(604800),
    })
    .optional(),
});

const mqttPayloadDecode = z.union([
  z.enum(["number", "boolean", "string", "raw", "msgpack"]),
  // `ts`: a field holding the source timestamp (ms since the epoch, or an ISO 8601 string).
  z.strictObject({ json: fieldPath, ts: fieldPath.optional() }),
  z.strictObject({ msgpack: fieldPath, ts: fieldPath.optional() }),
]);

const mqttPoint = z
  .strictObject({
    ...pointCommon,
    topic: mqttTopicPattern,
    decode: mqttPayloadDecode.default("number"),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    command_topic: z.string().min(1).optional(),
    command_qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    command_retain: z.boolean().default(false),
    // MQTT 5 messages: a content type of the message picks the decoder (others use `decode`).
    decode_by_content_type: z.record(z.string().min(1), mqttPayloadDecode).optional(),
    // MQTT 5 messages: user property -> the reading's tag it fills (`{ line-id: line }`).
    user_property_tags: z.record(z.string().min(1), z.string().min(1)).optional(),
    // MQTT 5 devices (embedded broker with mqtt5, or a site broker over protocol_version: 5): a command
    // carries this response topic and fresh correlation data; the write succeeds once the device
    // answers there with the same data (and fails with its user property `error`, or after the timeout).
    command_response_topic: mqttTopicName.optional(),
    command_response_timeout_ms: positiveMs.default(10000),
    // MQTT 5: a command not delivered within this time is dropped from the broker's queue.
    command_expiry_s: z.number().int().min(1).max(4294967295).optional(),
  })
  .refine((p) => p.write === undefined || p.command_topic !== undefined, {
    message: "a writable MQTT point needs command_topic",
    path: ["write"],
  })
  .refine((p) => p.command_response_topic === undefined || p.command_topic !== undefined, {
    message: "command_response_topic needs command_topic",
    path: ["command_response_topic"],
  });

export const mqttDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("mqtt"),
  connection: z
    .strictObject({
      url: z.string().regex(/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/, {
        message: "expected an MQTT URL such as mqtt://host:1883",
      }),
      client_id: z.string().min(1).optional(),
      username: z.string().optional(),
      password: z.string().optional(),
      ca: z.string().optional(),
      cert: z.string().optional(),
      key: z.string().optional(),
      clean: z.boolean().default(false),
      keepalive_s: z.number().int().min(0).max(65535).default(30),
      // Reconnect delays grow from min to max, each with random jitter.
      reconnect_min_ms: positiveMs.default(500),
      reconnect_max_ms: positiveMs.default(30000),
      // 5: MQTT 5, where the gateway sets its own receive window; 4: MQTT 3.1.1, where the broker does.
      protocol_version: z.union([z.literal(4), z.literal(5)]).default(5),
      // MQTT 5: QoS1/2 messages the broker may send before it waits for acknowledgements. The gateway
      // holds at most max_inflight of them; the rest wait in the network (TCP flow control).
      receive_maximum: z.number().int().min(1).max(65535).optional(),
      // MQTT 5: how long the broker keeps the session while the gateway is away; 4294967295: for good
      // (as an MQTT 3.1.1 persistent session). Default: that, or 0 with clean: true.
      session_expiry_s: z.number().int().min(0).max(4294967295).optional(),
      // QoS1/2 messages (and QoS0 ones) the gateway holds at once while their commit is pending.
      max_inflight: z.number().int().min(1).max(65535).default(2000),
      // A larger message is acknowledged and counted (readings_rejected_total{reason="mqtt_too_large"}),
      // never buffered; MQTT 5 tells the broker not to send one.
      max_message_bytes: byteSize.default(262144),
    })
    .optional(),
  points: points(mqttPoint),
});

export type MqttDeviceConfig = z.output<typeof mqttDevice>;
export type MqttSectionConfig = z.output<typeof mqttSection>;
export type BrokerConfig = NonNullable<MqttSectionConfig["broker"]>;

export function checkMqtt({
  devices,
  section,
}: CheckContext<MqttDeviceConfig, MqttSectionConfig>): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const broker = section?.broker;
  for (const { device, index } of devices) {
    if (device.connection === undefined && broker === undefined) {
      issues.push({
        path: ["devices", index],
        message: `device '${device.id}' publishes to the embedded broker, but mqtt.broker is not configured (or give the device connection: { url: ... } for a site broker)`,
      });
    }
  }
  // Two different site connections with one client id would take the session from each other in turn.
  const clientIds = new Map<string, { device: MqttDeviceConfig; index: number }>();
  for (const { device, index } of devices) {
    const c = device.connection;
    if (c === undefined) continue;
    if (c.reconnect_min_ms > c.reconnect_max_ms) {
      issues.push({
        path: ["devices", index, "connection", "reconnect_min_ms"],
        message: "reconnect_min_ms is greater than reconnect_max_ms",
      });
    }
    if (c.protocol_version === 4) {
      for (const key of ["receive_maximum", "session_expiry_s"] as const) {
        if (c[key] !== undefined) {
          issues.push({
            path: ["devices", index, "connection", key],
            message: `${key} is an MQTT 5 setting: it needs protocol_version: 5 (with protocol_version: 4 the site broker sets its own in-flight window)`,
          });
        }
      }
    }
    if (c.client_id === undefined) continue;
    const first = clientIds.get(c.client_id);
    if (first === undefined) clientIds.set(c.client_id, { device, index });
    else if (JSON.stringify(first.device.connection) !== JSON.stringify(c)) {
      issues.push({
        path: ["devices", index, "connection", "client_id"],
        message: `client_id '${c.client_id}' is also used by devices[${first.index}] with other connection settings: give each connection its own client_id, or the same settings`,
      });
    }
  }
  for (const { device, index } of devices) {
    device.points.forEach((p, i) => {
      if (device.connection?.protocol_version === 4) {
        for (const key of ["command_response_topic", "command_expiry_s"] as const) {
          if (p[key] === undefined) continue;
          issues.push({
            path: ["devices", index, "points", i, key],
            message: `${key} is MQTT 5: the connection to the site broker is MQTT 3.1.1 (protocol_version: 4); use protocol_version: 5, or leave ${key} out`,
          });
        }
        return;
      }
      if (p.command_response_topic === undefined) return;
      if (device.connection !== undefined) return;
      if (broker !== undefined && !broker.mqtt5) {
        issues.push({
          path: ["devices", index, "points", i, "command_response_topic"],
          message: "command_response_topic is MQTT 5: it needs mqtt.broker.mqtt5: true",
        });
      }
    });
  }
  if (broker && broker.users.length === 0 && !broker.allow_anonymous) {
    issues.push({
      path: ["mqtt", "broker"],
      message:
        "the embedded broker requires credentials: add users (or set allow_anonymous: true, which is not recommended)",
    });
  }
  return issues;
}

export function mqttListeners(
  section: MqttSectionConfig | undefined,
): { address: string; path: (string | number)[] }[] {
  const broker = section?.broker;
  if (!broker) return [];
  return [
    { address: broker.listen, path: ["mqtt", "broker", "listen"] },
    ...(broker.websocket
      ? [{ address: broker.websocket.listen, path: ["mqtt", "broker", "websocket", "listen"] }]
      : []),
  ];
}

/** MQTT's part of the file, for the file's schema (protocols/config-schema.ts). */
export const mqttConfig = defineProtocolConfig({
  name: "mqtt",
  device: mqttDevice,
  section: mqttSection,
  check: checkMqtt,
  listeners: mqttListeners,
});
