// The schema of the one YAML file: every key, its type, its default. Unknown keys are errors.
// config/schema.json (for editors) is generated from this by `npm run schema`.
import { z } from "zod";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const name = (what: string) =>
  z
    .string()
    .min(1)
    .max(128)
    .regex(NAME_RE, {
      message: `a ${what} is letters, digits, '.', '_' or '-', starting with a letter or digit`,
    });

export const port = z.number().int().min(1).max(65535);

/** `host:port` or `[ipv6]:port`. */
export const hostPort = z.string().superRefine((s, ctx) => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s);
  if (!m) ctx.addIssue({ code: "custom", message: "expected HOST:PORT (e.g. 127.0.0.1:9100, [::1]:9100)" });
  else if (Number(m[2]) < 1 || Number(m[2]) > 65535)
    ctx.addIssue({ code: "custom", message: "the port must be from 1 to 65535" });
});

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A byte count: an integer, or a string such as `512MiB`, `64 MB`, `1GiB`. */
export const byteSize = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*([kKmMgG]i?[bB]|[bB])?\s*$/, {
      message: "expected a byte size such as 536870912, 512MiB or 64MB",
    })
    .transform((s) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(s)!;
      return Math.round(Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!);
    }),
]);

const positiveMs = z.number().int().positive();

// YAML reads `0.8` as a number and `0.10` as the number 0.1; both mean a protocol generation here.
export const iggyProtocol = z.preprocess(
  (v) => (v === 0.8 ? "0.8" : v === 0.1 ? "0.10" : v),
  z.enum(["auto", "0.8", "0.10"]),
);

const gateway = z.strictObject({
  id: name("gateway id"),
  data_dir: z.string().min(1).default("./data"),
});

const iggy = z
  .strictObject({
    address: hostPort.default("127.0.0.1:8090"),
    protocol: iggyProtocol.default("auto"),
    username: z.string().min(1).optional(),
    password: z.string().optional(),
    token: z.string().min(1).optional(),
    tls: z
      .strictObject({
        ca: z.string().min(1).optional(),
        server_name: z.string().min(1).optional(),
      })
      .optional(),
    stream: name("stream name").default("iot"),
    topics: z
      .strictObject({
        telemetry: name("topic name").default("telemetry"),
        commands: name("topic name").default("commands"),
        results: name("topic name").default("command-results"),
      })
      .default({ telemetry: "telemetry", commands: "commands", results: "command-results" }),
    create_missing: z.boolean().default(true),
    partitions: z.number().int().min(1).max(1000).default(1),
    codec: z.enum(["flatbuffers", "msgpack", "json"]).default("flatbuffers"),
    batch: z
      .strictObject({
        max_readings: z.number().int().min(1).max(1_000_000).default(1000),
        max_bytes: byteSize.default(1048576),
        linger_ms: z.number().int().min(0).max(60_000).default(20),
      })
      .default({ max_readings: 1000, max_bytes: 1048576, linger_ms: 20 }),
    connect_timeout_ms: positiveMs.default(5000),
    request_timeout_ms: positiveMs.default(10000),
  })
  .superRefine((v, ctx) => {
    if (v.token !== undefined && (v.username !== undefined || v.password !== undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["token"],
        message: "give either token or username/password, not both",
      });
    } else if (v.token === undefined && (v.username === undefined) !== (v.password === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: [v.username === undefined ? "password" : "username"],
        message: "username and password go together",
      });
    }
  });

const buffer = z.strictObject({
  max_bytes: byteSize.default(536870912),
  max_rows: z.number().int().positive().optional(),
  on_full: z.enum(["reject_new", "drop_oldest"]).default("reject_new"),
  sync: z.enum(["full", "normal"]).default("full"),
  commit_interval_ms: z.number().int().min(0).max(10_000).default(50),
});

const http = z.strictObject({
  listen: hostPort.default("127.0.0.1:9100"),
});

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

const mqtt = z.strictObject({
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
      // a connection that sends more is disconnected.
      max_inflight: z.number().int().min(1).max(65535).default(1000),
      // Retained messages and persistent sessions (subscriptions, queued QoS1/2 messages) under
      // <gateway.data_dir>/mqtt-broker, so they survive a restart.
      persist: z.boolean().default(true),
    })
    .optional(),
});

const coap = z.strictObject({
  listen: hostPort.default("127.0.0.1:5683"),
});

// ---- points -------------------------------------------------------------------------------------

const writeRange = z.union([
  z.literal(true),
  z
    .strictObject({
      min: z.number().optional(),
      max: z.number().optional(),
      readback: z.boolean().default(false),
    })
    .refine((w) => w.min === undefined || w.max === undefined || w.min <= w.max, {
      message: "write range has min greater than max",
      path: ["min"],
    }),
]);

const pointCommon = {
  name: name("point name"),
  unit: z.string().min(1).optional(),
  scale: z.number().default(1),
  offset: z.number().default(0),
  deadband: z.number().min(0).optional(),
  write: writeRange.optional(),
  tags: z.record(z.string(), z.string()).optional(),
};

/** A field path into a JSON or MessagePack document: `a.b`, `values[2].v`, `["odd key"]`. */
const fieldPath = z
  .string()
  .min(1)
  .regex(/^([A-Za-z0-9_$-]+|\[\d+\]|\["[^"]*"\])((\.[A-Za-z0-9_$-]+)|\[\d+\]|\["[^"]*"\])*$/, {
    message: 'expected a field path such as a.b, values[2].v or ["odd key"]',
  });

const payloadDecode = z.union([
  z.enum(["number", "boolean", "string", "raw", "msgpack"]),
  z.strictObject({ json: z.string().min(1) }),
]);

const mqttPayloadDecode = z.union([
  z.enum(["number", "boolean", "string", "raw", "msgpack"]),
  // `ts`: a field holding the source timestamp (ms since the epoch, or an ISO 8601 string).
  z.strictObject({ json: fieldPath, ts: fieldPath.optional() }),
  z.strictObject({ msgpack: fieldPath, ts: fieldPath.optional() }),
]);

export const MODBUS_TYPES = [
  "bool",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
  "float32",
  "float64",
  "string",
] as const;
const byteOrder = z.enum(["ABCD", "CDAB", "BADC", "DCBA"]);

const modbusPoint = z
  .strictObject({
    ...pointCommon,
    address: z.string().superRefine((a, ctx) => {
      const m = /^(coil|discrete|input|holding):(\d{1,5})$/.exec(a);
      if (!m) {
        ctx.addIssue({
          code: "custom",
          message:
            "expected TABLE:ADDRESS with TABLE one of coil, discrete, input, holding (e.g. holding:100)",
        });
      } else if (Number(m[2]) > 65535) {
        ctx.addIssue({ code: "custom", message: "a Modbus address is from 0 to 65535" });
      }
    }),
    type: z.enum(MODBUS_TYPES).default("uint16"),
    order: byteOrder.optional(),
    length: z.number().int().min(1).max(125).optional(),
    bit: z.number().int().min(0).max(15).optional(),
    poll_ms: positiveMs.optional(),
  })
  .superRefine((p, ctx) => {
    const table = p.address.slice(0, p.address.indexOf(":"));
    if ((table === "coil" || table === "discrete") && p.type !== "bool") {
      ctx.addIssue({ code: "custom", path: ["type"], message: `a ${table} holds a bool, not ${p.type}` });
    }
    if (p.type === "string" && p.length === undefined) {
      ctx.addIssue({ code: "custom", path: ["type"], message: "a string point needs length (registers)" });
    }
    if (p.bit !== undefined && (table === "coil" || table === "discrete" || p.type !== "bool")) {
      ctx.addIssue({
        code: "custom",
        path: ["bit"],
        message: "bit selects a bit of a register: use it with type bool on holding or input",
      });
    }
    if (p.write !== undefined && (table === "discrete" || table === "input")) {
      ctx.addIssue({
        code: "custom",
        path: ["write"],
        message: `${table} ${table === "input" ? "registers" : "inputs"} are read-only in Modbus`,
      });
    }
  });

const mqttPoint = z
  .strictObject({
    ...pointCommon,
    topic: mqttTopicPattern,
    decode: mqttPayloadDecode.default("number"),
    qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    command_topic: z.string().min(1).optional(),
    command_qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
    command_retain: z.boolean().default(false),
  })
  .refine((p) => p.write === undefined || p.command_topic !== undefined, {
    message: "a writable MQTT point needs command_topic",
    path: ["write"],
  });

const coapPoint = z.strictObject({
  ...pointCommon,
  path: z.string().regex(/^\/[^\s?#]*$/, { message: "expected a CoAP path starting with '/'" }),
  decode: payloadDecode.default("number"),
  method: z.enum(["PUT", "POST"]).default("PUT"),
});

const opcuaPoint = z.strictObject({
  ...pointCommon,
  node: z
    .string()
    .regex(/^(ns=\d+;)?[isgb]=.+$/, { message: "expected an OPC-UA NodeId such as ns=2;s=Speed" }),
  sampling_ms: positiveMs.default(1000),
  type: z
    .enum([
      "Boolean",
      "SByte",
      "Byte",
      "Int16",
      "UInt16",
      "Int32",
      "UInt32",
      "Int64",
      "UInt64",
      "Float",
      "Double",
      "String",
    ])
    .optional(),
});

// ---- devices ------------------------------------------------------------------------------------

const deviceCommon = {
  id: name("device id"),
  enabled: z.boolean().default(true),
  tags: z.record(z.string(), z.string()).optional(),
};

const points = <T extends z.ZodType>(p: T) =>
  z.array(p).min(1, { message: "a device needs at least one point" });

const serial = z.strictObject({
  path: z.string().min(1),
  baud: z.number().int().positive().default(9600),
  parity: z.enum(["none", "even", "odd"]).default("none"),
  data_bits: z.union([z.literal(7), z.literal(8)]).default(8),
  stop_bits: z.union([z.literal(1), z.literal(2)]).default(1),
});

const modbusDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("modbus"),
  connection: z
    .strictObject({
      transport: z.enum(["tcp", "rtu", "rtu_over_tcp"]).default("tcp"),
      host: z.string().min(1).optional(),
      port: port.default(502),
      serial: serial.optional(),
      unit_id: z.number().int().min(0).max(255).default(1),
      timeout_ms: positiveMs.default(1000),
      retries: z.number().int().min(0).max(10).default(1),
      max_gap: z.number().int().min(0).max(125).default(10),
      // Some devices answer fewer than the spec's 125 registers / 2000 bits per read.
      max_registers_per_read: z.number().int().min(1).max(125).default(125),
      max_bits_per_read: z.number().int().min(1).max(2000).default(2000),
    })
    .superRefine((c, ctx) => {
      if (c.transport === "rtu" && c.serial === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["serial"],
          message: "transport rtu needs serial: { path, baud, ... }",
        });
      }
      if (c.transport !== "rtu" && c.host === undefined) {
        ctx.addIssue({ code: "custom", path: ["host"], message: `transport ${c.transport} needs host` });
      }
    }),
  poll_ms: positiveMs.default(1000),
  order: byteOrder.default("ABCD"),
  points: points(modbusPoint),
});

const mqttDevice = z.strictObject({
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
    })
    .optional(),
  points: points(mqttPoint),
});

const coapDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("coap"),
  connection: z
    .strictObject({
      mode: z.enum(["server", "observe", "poll"]).default("server"),
      url: z
        .string()
        .regex(/^coaps?:\/\/[^\s/]+/, { message: "expected a CoAP URL such as coap://127.0.0.1:5683" })
        .optional(),
    })
    .refine((c) => c.mode === "server" || c.url !== undefined, {
      message: "modes observe and poll need url",
      path: ["url"],
    })
    .default({ mode: "server" }),
  poll_ms: positiveMs.default(1000),
  points: points(coapPoint),
});

const opcuaDevice = z.strictObject({
  ...deviceCommon,
  protocol: z.literal("opcua"),
  connection: z.strictObject({
    endpoint: z
      .string()
      .regex(/^opc\.tcp:\/\/[^\s]+$/, { message: "expected an endpoint such as opc.tcp://127.0.0.1:4840" }),
    security_mode: z.enum(["None", "Sign", "SignAndEncrypt"]).default("None"),
    security_policy: z
      .enum(["None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"])
      .default("None"),
    username: z.string().optional(),
    password: z.string().optional(),
  }),
  points: points(opcuaPoint),
});

export const device = z.discriminatedUnion("protocol", [modbusDevice, mqttDevice, coapDevice, opcuaDevice]);

export const PROTOCOLS = ["modbus", "mqtt", "coap", "opcua"] as const;

export const configSchema = z.strictObject({
  gateway,
  iggy: iggy.default(() => iggy.parse({})),
  buffer: buffer.default(() => buffer.parse({})),
  http: http.default(() => http.parse({})),
  mqtt: mqtt.optional(),
  coap: coap.optional(),
  devices: z.array(device).default([]),
});

export type Config = z.output<typeof configSchema>;
export type DeviceConfig = z.output<typeof device>;
export type ModbusDeviceConfig = z.output<typeof modbusDevice>;
export type MqttDeviceConfig = z.output<typeof mqttDevice>;
export type CoapDeviceConfig = z.output<typeof coapDevice>;
export type OpcuaDeviceConfig = z.output<typeof opcuaDevice>;
export type PointConfig = DeviceConfig["points"][number];
export type WriteRange = z.output<typeof writeRange>;
