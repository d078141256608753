// The schema of the one YAML file: the sections every gateway has (gateway, iggy, buffer, http), the
// building blocks that protocol plug-ins use for their device maps, and the function that puts a
// file schema together from the plug-ins it is given. Unknown keys are errors. config/ knows no
// protocol by name: protocols/registry.ts hands it their pieces.
import { z } from "./zod.cjs";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const name = (what: string) =>
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

export const positiveMs = z.number().int().positive();

// YAML reads `0.8` and `0.9` as numbers and `0.10` as the number 0.1; all mean a protocol generation here.
export const iggyProtocol = z.preprocess(
  (v) => (v === 0.8 ? "0.8" : v === 0.9 ? "0.9" : v === 0.1 ? "0.10" : v),
  z.enum(["auto", "0.8", "0.9", "0.10"]),
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
        /** Batches the forwarder holds at once: one in flight to Iggy, the next ones leased and encoded. */
        pipeline: z.number().int().min(1).max(64).default(8),
      })
      .default({ max_readings: 1000, max_bytes: 1048576, linger_ms: 20, pipeline: 8 }),
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
  ack_commit_gap_ms: z.number().int().min(0).max(1000).default(5),
  ack_commit_early: z.boolean().default(true),
});

const http = z.strictObject({
  listen: hostPort.default("127.0.0.1:9100"),
});

/** Commands from Iggy's commands topic to the devices (gateway/commands/). */
const commands = z.strictObject({
  enabled: z.boolean().default(true),
  /** Pause between polls of the commands topic while it has nothing new. */
  poll_ms: z.number().int().min(1).max(60_000).default(50),
  /** Commands read per poll. */
  poll_count: z.number().int().min(1).max(10_000).default(100),
  /** Time limit of one write to a device; the result is `failed` when it runs out. */
  timeout_ms: positiveMs.default(10_000),
  /** How long a command id is remembered, so a redelivered command is answered and not executed again. */
  idempotency_hours: z
    .number()
    .positive()
    .max(24 * 365)
    .default(168),
  /** Commands read and not yet answered, at most (polling pauses at this many). */
  max_pending: z.number().int().min(1).max(1_000_000).default(20_000),
});

// ---- building blocks of device maps ------------------------------------------------------------

/** `write: true` (any value of the point's type) or `write: { min, max, readback }`; absent: read-only. */
export const writeRange = z.union([
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

/** The keys every point has, whatever its protocol. */
export const pointCommon = {
  name: name("point name"),
  unit: z.string().min(1).optional(),
  scale: z.number().default(1),
  offset: z.number().default(0),
  deadband: z.number().min(0).optional(),
  write: writeRange.optional(),
  tags: z.record(z.string(), z.string()).optional(),
};

/** A field path into a JSON or MessagePack document: `a.b`, `values[2].v`, `["odd key"]`. */
export const fieldPath = z
  .string()
  .min(1)
  .regex(/^([A-Za-z0-9_$-]+|\[\d+\]|\["[^"]*"\])((\.[A-Za-z0-9_$-]+)|\[\d+\]|\["[^"]*"\])*$/, {
    message: 'expected a field path such as a.b, values[2].v or ["odd key"]',
  });

/** The keys every device has, whatever its protocol (besides `protocol`, `connection` and `points`). */
export const deviceCommon = {
  id: name("device id"),
  enabled: z.boolean().default(true),
  tags: z.record(z.string(), z.string()).optional(),
};

export const points = <T extends z.ZodType>(p: T) =>
  z.array(p).min(1, { message: "a device needs at least one point" });

// ---- the file, from the plug-ins ---------------------------------------------------------------

export type ConfigPath = (string | number)[];

export interface RuleIssue {
  path: ConfigPath;
  message: string;
}

/** A device schema of a plug-in: an object whose `protocol` is the plug-in's name. */
export type DeviceSchema = z.ZodObject<{ protocol: z.ZodLiteral<string> } & z.ZodRawShape>;

/**
 * What a protocol plug-in contributes to the file: its device schema, optionally a top-level
 * section named after it (`mqtt:`, `coap:`), checks across keys that its schema cannot express,
 * and the addresses it listens on (checked for clashes with every other listener).
 */
export interface ProtocolConfigSpec<
  N extends string = string,
  D extends DeviceSchema = DeviceSchema,
  S extends z.ZodType | undefined = z.ZodType | undefined,
> {
  name: N;
  device: D;
  section?: S;
  check?(ctx: CheckContext<z.output<D>, SectionOutput<S>>): RuleIssue[];
  listeners?(section: SectionOutput<S> | undefined): { address: string; path: ConfigPath }[];
}

type SectionOutput<S> = S extends z.ZodType ? z.output<S> : undefined;

/** Keeps a plug-in's precise types (its name literal, its schemas) for the tuple given to configSchemaOf. */
export function defineProtocolConfig<
  const N extends string,
  D extends DeviceSchema,
  S extends z.ZodType | undefined = undefined,
>(spec: ProtocolConfigSpec<N, D, S>): ProtocolConfigSpec<N, D, S> {
  return spec;
}

export interface CheckContext<D, S> {
  /** This protocol's devices, each with its index in `devices`. */
  devices: { device: D; index: number }[];
  /** This protocol's top-level section, if the file has it. */
  section: S | undefined;
}

// Plug-ins are held as the widest spec; the precise types come from the tuple given to configSchemaOf.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnySpec = ProtocolConfigSpec<string, DeviceSchema, any>;

type SectionOf<S> = S extends { section?: infer X } ? (X extends z.ZodType ? X : never) : never;
type SectionShape<P extends readonly AnySpec[]> = {
  [S in P[number] as [SectionOf<S>] extends [never] ? never : S["name"]]: z.ZodOptional<SectionOf<S>>;
};
type DeviceUnion<P extends readonly AnySpec[]> = z.ZodDiscriminatedUnion<P[number]["device"][]>;

const coreShape = {
  gateway,
  iggy: iggy.default(() => iggy.parse({})),
  buffer: buffer.default(() => buffer.parse({})),
  http: http.default(() => http.parse({})),
  commands: commands.default(() => commands.parse({})),
};

/** The schema of the whole file, for the given plug-ins. */
export function configSchemaOf<const P extends readonly [AnySpec, ...AnySpec[]]>(plugins: P) {
  const sections: Record<string, z.ZodType> = {};
  for (const p of plugins) if (p.section) sections[p.name] = p.section.optional();
  const devices = z.discriminatedUnion(
    "protocol",
    plugins.map((p) => p.device) as unknown as [DeviceSchema, ...DeviceSchema[]],
  ) as unknown as DeviceUnion<P>;
  return z.strictObject({
    ...coreShape,
    ...(sections as SectionShape<P>),
    devices: z.array(devices).default([]),
  });
}

/** The sections every config has, whatever its devices. */
export type CoreConfig = z.output<z.ZodObject<typeof coreShape>>;
/** What every device config has, whatever its protocol. */
export interface AnyDeviceConfig {
  id: string;
  protocol: string;
  enabled: boolean;
  tags?: Record<string, string> | undefined;
  points: { name: string; unit?: string | undefined; write?: z.output<typeof writeRange> | undefined }[];
}
export type WriteRange = z.output<typeof writeRange>;
