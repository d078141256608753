// `iggy-edge status`: what the running gateway's /api/status says, for a person in a terminal, with
// an exit code a script or a monitoring check can use (the monitoring-plugin convention).
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { parse } from "yaml";
import { byteSize, count, duration } from "../status-page.js";
import type { DeviceStatus, Status } from "../status.js";
import { DEFAULT_CONFIG, configOption } from "./config-option.js";

/** 0: ready, every device up, Iggy connected. 1: running but degraded. 2: not ready. 3: no answer. */
export const STATUS_EXIT = { ok: 0, warning: 1, critical: 2, unknown: 3 } as const;

const DEFAULT_HTTP = "127.0.0.1:9100";

/** The base URL of the gateway's HTTP endpoint: `--http`, else http.listen from the config file. */
export function statusUrl(http: string | undefined, configFile: string): string {
  let address = http;
  if (address === undefined) {
    let text: string | null = null;
    try {
      text = readFileSync(configFile, "utf8");
    } catch (e) {
      // The default file may be absent or unreadable (it is root:iggy-edge 0640 on a Pi): the
      // default address then. A file named on purpose must be readable.
      if (configFile !== DEFAULT_CONFIG)
        throw new Error(`cannot read ${configFile}: ${(e as Error).message}`);
    }
    const listen =
      text === null ? undefined : (parse(text) as { http?: { listen?: unknown } } | null)?.http?.listen;
    address = typeof listen === "string" ? listen : DEFAULT_HTTP;
  }
  if (/^https?:\/\//.test(address)) return address.replace(/\/+$/, "");
  const i = address.lastIndexOf(":");
  let host = address.slice(0, i);
  const port = address.slice(i + 1);
  // A gateway listening on every address is asked on loopback.
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  if (host === "[::]" || host === "::") host = "[::1]";
  return `http://${host}:${port}`;
}

export interface Verdict {
  code: (typeof STATUS_EXIT)[keyof typeof STATUS_EXIT];
  word: "OK" | "WARNING" | "CRITICAL";
  reasons: string[];
}

export function verdict(s: Status): Verdict {
  if (!s.ready) return { code: STATUS_EXIT.critical, word: "CRITICAL", reasons: s.not_ready };
  const reasons: string[] = [];
  const down = s.devices.filter((d) => d.up === false).map((d) => d.id);
  if (down.length > 0)
    reasons.push(`${down.length} device${down.length === 1 ? "" : "s"} down: ${down.join(", ")}`);
  if (s.iggy && s.iggy.connected !== true) reasons.push("Iggy not connected");
  const dead = s.buffer?.deadLetterReadings;
  if (typeof dead === "number" && dead > 0) reasons.push(`${count(dead)} readings in dead letters`);
  return reasons.length > 0
    ? { code: STATUS_EXIT.warning, word: "WARNING", reasons }
    : { code: STATUS_EXIT.ok, word: "OK", reasons };
}

const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const ago = (ms: number, now: number): string => `${duration(Math.max(0, now - ms))} ago`;

function deviceLine(d: DeviceStatus, now: number, idWidth: number, protoWidth: number): string {
  const state = d.up === null ? "?" : d.up ? "up" : "DOWN";
  const head = `  ${d.id.padEnd(idWidth)}  ${d.protocol.padEnd(protoWidth)}  ${state.padEnd(4)}`;
  if (d.up === false && d.error) {
    const since = d.since === undefined ? "" : ` (since ${ago(d.since, now)})`;
    return `${head}  ${d.error}${since}`;
  }
  const points = Object.entries(d.points).map(([name, p]) => {
    const unit = p.unit ? ` ${p.unit}` : "";
    return `${name} ${String(p.value)}${unit} (${ago(p.ts, now)})`;
  });
  return points.length > 0 ? `${head}  ${points.join(", ")}` : head.trimEnd();
}

/** The status for a terminal; `now` is the caller's clock, for the ages. */
export function renderStatus(s: Status, now = Date.now()): string {
  const v = verdict(s);
  const lines = [
    `${v.word}: gateway ${s.gateway} (iggy-edge ${s.version}), up ${duration(s.uptime_s * 1000)}, ${s.ready ? "ready" : "NOT READY"}`,
  ];
  for (const r of v.reasons) lines.push(`  - ${r}`);

  const up = s.devices.filter((d) => d.up === true).length;
  lines.push(`devices: ${up}/${s.devices.length} up`);
  const idWidth = Math.max(0, ...s.devices.map((d) => d.id.length));
  const protoWidth = Math.max(0, ...s.devices.map((d) => d.protocol.length));
  for (const d of s.devices) lines.push(deviceLine(d, now, idWidth, protoWidth));

  const b = s.buffer;
  if (!b) lines.push("buffer: not open");
  else if (b.state === "failed") lines.push(`buffer: FAILED: ${String(b.error)}`);
  else {
    const parts: string[] = [];
    const readings = num(b.readings);
    if (readings !== undefined) parts.push(`${count(readings)} readings`);
    const bytes = num(b.bytes);
    if (bytes !== undefined) parts.push(byteSize(bytes));
    const oldest = num(b.oldestAgeMs);
    parts.push(oldest === undefined ? "empty" : `oldest ${duration(oldest)}`);
    const dead = num(b.deadLetterReadings);
    if (dead) parts.push(`${count(dead)} in dead letters`);
    lines.push(`buffer: ${parts.join(", ")}`);
  }

  const i = s.iggy;
  if (!i) lines.push("iggy: not started");
  else {
    const link = i.connected ? "connected" : "NOT CONNECTED";
    const proto = typeof i.protocol === "string" ? ` (protocol ${i.protocol})` : "";
    lines.push(
      `iggy: ${link} to ${String(i.address)}${proto}, ${String(i.stream)}/${String(i.topic)}, forwarder ${String(i.state)}`,
    );
    const sent = num(i.readings_sent);
    const batches = num(i.batches_sent);
    if (sent !== undefined) {
      const rate = s.uptime_s > 0 ? sent / s.uptime_s : 0;
      const confirmed =
        typeof i.last_confirmed_at === "string"
          ? `, last confirmed ${ago(Date.parse(i.last_confirmed_at), now)}`
          : "";
      lines.push(
        `  sent ${count(sent)} readings in ${count(batches ?? 0)} batches, ${rate.toFixed(1)} readings/s on average${confirmed}`,
      );
    }
    if (typeof i.last_error === "string" && i.last_error) lines.push(`  last error: ${i.last_error}`);
  }
  return lines.join("\n") + "\n";
}

export function statusCommand(): Command {
  return new Command("status")
    .description(
      "what the running gateway's /api/status says, for a person; exit 0 OK, 1 degraded, 2 not ready, 3 no answer",
    )
    .addOption(configOption())
    .option(
      "--http <address>",
      "the gateway's HTTP address, HOST:PORT or a URL (default: http.listen from the config)",
    )
    .addOption(new Option("--url <url>", "the same as --http").hideHelp())
    .option("--json", "print /api/status as it came")
    .option("--timeout <ms>", "how long to wait for the answer", (v) => Number(v), 5000)
    .action(
      async (opts: { config: string; http?: string; url?: string; json?: boolean; timeout: number }) => {
        let url: string;
        try {
          url = `${statusUrl(opts.http ?? opts.url, opts.config)}/api/status`;
        } catch (e) {
          console.error(`UNKNOWN: ${(e as Error).message}`);
          process.exitCode = STATUS_EXIT.unknown;
          return;
        }
        let status: Status;
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeout) });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          status = (await res.json()) as Status;
          if (typeof status.ready !== "boolean" || !Array.isArray(status.devices))
            throw new Error("not a gateway status");
        } catch (e) {
          const err = e as Error & { cause?: { code?: string; message?: string } };
          const why =
            err.cause?.code ??
            err.cause?.message ??
            (err.name === "TimeoutError" ? `no answer within ${opts.timeout} ms` : err.message);
          console.error(
            `UNKNOWN: cannot read ${url}: ${why} (is the gateway running? systemctl status iggy-edge)`,
          );
          process.exitCode = STATUS_EXIT.unknown;
          return;
        }
        process.stdout.write(opts.json ? JSON.stringify(status, null, 2) + "\n" : renderStatus(status));
        process.exitCode = verdict(status).code;
      },
    );
}
