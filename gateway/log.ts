// Structured logging: JSON lines on stdout (journald keeps them), or a readable form in a terminal.
// Secrets are removed twice: by key name (password, token, ...) and by value (every value that came
// from ${env:...} or ${file:...}), so a secret inside an error message or a URL is caught too.
import { createRequire } from "node:module";
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from "pino";
import type PinoPretty from "pino-pretty";

// pino-pretty is loaded only when a logger is pretty: a service logging JSON lines never needs it.
const require = createRequire(import.meta.url);
const loadPretty = (): typeof PinoPretty => require("pino-pretty") as typeof PinoPretty;

export type LogFormat = "json" | "pretty";

export interface LogOptions {
  level?: LevelWithSilent;
  format?: LogFormat;
  /** Where lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

const REDACT_KEYS = ["password", "token", "secret", "password_hash", "authorization", "private_key"];
const REDACT_PATHS = REDACT_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
export const REDACTED = "[redacted]";

const secretValues = new Set<string>();
let scrubPattern: RegExp | null = null;

/** Values that must never appear in a log line, whatever key or message carries them. */
export function registerSecrets(values: Iterable<string>): void {
  for (const v of values) {
    // Very short values would blank out ordinary words; config secrets are not that short.
    if (v.length >= 4) {
      secretValues.add(v);
      secretValues.add(JSON.stringify(v).slice(1, -1));
    }
  }
  const alternatives = [...secretValues]
    .sort((a, b) => b.length - a.length)
    .map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  scrubPattern = alternatives.length ? new RegExp(alternatives.join("|"), "g") : null;
}

export function scrub(line: string): string {
  return scrubPattern ? line.replace(scrubPattern, REDACTED) : line;
}

function defaultFormat(): LogFormat {
  const env = process.env.IGGY_EDGE_LOG_FORMAT;
  if (env === "json" || env === "pretty") return env;
  // Under systemd stdout is the journal, not a terminal.
  return process.stdout.isTTY && !process.env.JOURNAL_STREAM ? "pretty" : "json";
}

export function createLogger(options: LogOptions = {}): Logger {
  const format = options.format ?? defaultFormat();
  const out = options.destination ?? process.stdout;
  const sink: NodeJS.WritableStream =
    format === "pretty"
      ? loadPretty()({
          destination: out as never,
          sync: true,
          colorize: (out as { isTTY?: boolean }).isTTY === true,
          singleLine: true,
          translateTime: "SYS:HH:MM:ss.l",
        })
      : out;
  const scrubbing: DestinationStream = { write: (line: string) => void sink.write(scrub(line)) };
  return pino(
    {
      level: options.level ?? (process.env.IGGY_EDGE_LOG_LEVEL as LevelWithSilent | undefined) ?? "info",
      base: undefined,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbing,
  );
}
