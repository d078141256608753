// GET /: the status for a person, plain HTML that refreshes itself; no script, no external files.
import type { ConnectionStatus, Status } from "./status.js";

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

/**
 * 1204 → "1,204". Not toLocaleString: that pages in about 5 MiB of ICU's locale data, which the
 * gateway would keep for good once its systemd STATUS= line had a count in it.
 */
export function count(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const [int, frac] = String(Math.abs(n)).split(".") as [string, string | undefined];
  const grouped = int.replace(/\B(?=(\d{3})+$)/g, ",");
  return `${n < 0 ? "-" : ""}${grouped}${frac === undefined ? "" : `.${frac}`}`;
}
const plural = (n: number, one: string, many = `${one}s`): string => `${count(n)} ${n === 1 ? one : many}`;

/** 2789248 → "2.7 MiB". */
export function byteSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** 200000 → "3.3 min". */
export function duration(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${(s / 60).toFixed(1)} min`;
  if (s < 86400) return `${(s / 3600).toFixed(1)} h`;
  return `${(s / 86400).toFixed(1)} d`;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);

function byReason(v: unknown): string {
  const entries = Object.entries((v ?? {}) as Record<string, number>).filter(([, n]) => n > 0);
  return entries.length === 0 ? "none" : entries.map(([k, n]) => `${k}: ${count(n)}`).join(", ");
}

function rows(list: [string, string | undefined][]): string {
  return `<table>${list
    .filter((r): r is [string, string] => r[1] !== undefined)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`)
    .join("")}</table>`;
}

/** The buffer's statistics in words (/api/status keeps the raw fields). */
function bufferTable(b: Record<string, unknown> | null): string {
  if (!b) return "<p>buffer not open</p>";
  const n = (k: string) => num(b[k]);
  const when = <T>(v: T | undefined, f: (v: T) => string) => (v === undefined ? undefined : f(v));
  const readings = n("readings");
  const leased = n("leasedReadings");
  const dead = n("deadLetterReadings");
  const quarantined = n("quarantinedOnDisk");
  return rows([
    ["State", b.state === "failed" ? `<b>failed</b>: ${esc(b.error)}` : when(b.state as string, esc)],
    ["Waiting for Iggy", when(readings, (r) => plural(r, "reading"))],
    [
      "Oldest reading",
      b.oldestAgeMs === null ? "none waiting" : when(n("oldestAgeMs"), (ms) => `${duration(ms)} old`),
    ],
    [
      "Sent, not yet confirmed",
      when(leased, (r) =>
        r === 0
          ? "none"
          : `${plural(r, "reading")} in ${plural(n("leasedBatches") ?? 0, "batch", "batches")}`,
      ),
    ],
    ["Waiting for their commit", when(n("pendingReadings"), (r) => plural(r, "reading"))],
    [
      "Size",
      when(
        n("bytes"),
        (v) => `${byteSize(v)} in use${when(n("fileBytes"), (f) => `, ${byteSize(f)} on disk`) ?? ""}`,
      ),
    ],
    [
      "Dead letters",
      when(dead, (r) =>
        r === 0
          ? "none"
          : `${plural(r, "reading")} in ${plural(n("deadLetterEntries") ?? 0, "entry", "entries")} (<code>iggy-edge buffer dead-letters list</code>)`,
      ),
    ],
    ["Dropped (buffer full)", "dropped" in b ? esc(byReason(b.dropped)) : undefined],
    ["Refused", "rejected" in b ? esc(byReason(b.rejected)) : undefined],
    [
      "Corrupt files set aside",
      when(quarantined, (q) =>
        q === 0 ? "none" : `<b>${count(q)}</b> on disk, ${count(n("quarantinedThisRun") ?? 0)} this run`,
      ),
    ],
    ["Commits", when(n("commits"), (c) => `${count(c)} (${plural(n("committedReadings") ?? 0, "reading")})`)],
    ["Next sequence number", when(n("nextSeq"), String)],
  ]);
}

/** The Iggy link and the forwarder in words. */
function iggyTable(i: Record<string, unknown> | null): string {
  if (!i) return "<p>no Iggy link</p>";
  const str = (k: string) => (typeof i[k] === "string" ? esc(i[k]) : undefined);
  const failure = i.last_failure as { kind: string; message: string; at: string } | null | undefined;
  const state = str("state");
  return rows([
    ["Address", str("address")],
    ["Protocol", str("protocol")],
    ["Connected", typeof i.connected === "boolean" ? (i.connected ? "yes" : "<b>no</b>") : undefined],
    ["Forwarder", state === undefined ? undefined : state === "running" ? state : `<b>${state}</b>`],
    [
      "Sending to",
      typeof i.stream === "string"
        ? `${esc(i.stream)} / ${esc(i.topic)}${i.partition === null ? "" : `, partition ${esc(i.partition)}`} (${esc(i.codec)})`
        : undefined,
    ],
    [
      "Sent",
      num(i.readings_sent) === undefined
        ? undefined
        : `${plural(num(i.readings_sent)!, "reading")} in ${plural(num(i.batches_sent) ?? 0, "batch", "batches")}`,
    ],
    [
      "Last confirmed",
      i.last_confirmed_at === undefined
        ? undefined
        : i.last_confirmed_at === null
          ? "not yet"
          : ago(Date.parse(String(i.last_confirmed_at))),
    ],
    ["Last error", i.last_error ? esc(i.last_error) : undefined],
    ["Restarts", num(i.restarts) === undefined ? undefined : count(num(i.restarts)!)],
    [
      "Last failure",
      failure ? `${esc(failure.kind)}: ${esc(failure.message)} (${ago(Date.parse(failure.at))})` : undefined,
    ],
  ]);
}

/** Connections kept for several devices (MQTT site brokers): what they hold and how fast they acknowledge. */
function connectionsTable(list: ConnectionStatus[]): string {
  if (list.length === 0) return "";
  const body = list
    .map(
      (c) =>
        `<tr class="${c.up ? "up" : "down"}"><td>${esc(c.name)}</td><td>${esc(c.protocol)}</td><td>${c.up ? "up" : "down"}</td><td>${count(c.inflight)} of ${count(c.inflight_limit)}</td><td>${count(c.acknowledged)}</td><td>${c.ack_delay_ms === null ? "none yet" : `${esc(c.ack_delay_ms)} ms`}</td></tr>`,
    )
    .join("");
  return `<h2>Connections</h2>
<table><tr><th>connection</th><th>protocol</th><th>state</th><th>in flight (of limit)</th><th>acknowledged</th><th>acknowledgement delay (recent average)</th></tr>${body}</table>
`;
}

/** The last commands from Iggy and what became of them. */
function commandsTable(c: Record<string, unknown> | null | undefined): string {
  if (!c) return "";
  const recent = (Array.isArray(c.recent) ? c.recent : []) as {
    id: string;
    device?: string;
    point?: string;
    value?: string;
    status: string;
    error?: string;
    at: number;
    repeat: boolean;
  }[];
  const body = [...recent]
    .reverse()
    .map(
      (r) =>
        `<tr class="${r.status === "ok" ? "up" : "down"}"><td>${esc(r.id)}</td><td>${esc(r.device ?? "")}/${esc(r.point ?? "")}</td><td>${esc(r.value ?? "")}</td><td>${esc(r.status)}${r.repeat ? " (seen before)" : ""}${r.error ? `: ${esc(r.error)}` : ""}</td><td>${ago(r.at)}</td></tr>`,
    )
    .join("");
  return `<h2>Commands</h2>
<p>partition ${esc(c.partition ?? "?")}, stored offset ${esc(c.stored_offset ?? "none")}, ${esc(c.pending)} pending${c.error ? `; <b>${esc(c.error)}</b>` : ""}</p>
${recent.length === 0 ? "<p>no command yet</p>" : `<table><tr><th>id</th><th>device/point</th><th>value</th><th>result</th><th>when</th></tr>${body}</table>`}
`;
}

export function statusPage(s: Status): string {
  const devices = s.devices
    .map((d) => {
      const state = d.up === null ? "unknown" : d.up ? "up" : "down";
      const points = Object.entries(d.points)
        .map(
          ([name, v]) =>
            `<li>${esc(name)}: <b>${esc(v.value)}</b>${v.unit ? ` ${esc(v.unit)}` : ""}${v.quality !== "good" ? ` (${esc(v.quality)})` : ""} <small>${ago(v.ts)}</small></li>`,
        )
        .join("");
      return `<tr class="${state}"><td>${esc(d.id)}</td><td>${esc(d.protocol)}</td><td>${state}${d.error ? `: ${esc(d.error)}` : ""}</td><td><ul>${points || "<li>no reading yet</li>"}</ul></td></tr>`;
    })
    .join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>iggy-edge ${esc(s.gateway)}</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}tr.down td{background:#fdd}tr.up td:nth-child(3){color:#070}ul{margin:0;padding-left:1.2em}</style>
</head><body>
<h1>iggy-edge <small>${esc(s.gateway)}</small></h1>
<p>version ${esc(s.version)}, up ${esc(s.uptime_s)} s, ${s.ready ? "ready" : `<b>not ready</b>: ${esc(s.not_ready.join("; "))}`}</p>
<h2>Devices</h2>
<table><tr><th>device</th><th>protocol</th><th>state</th><th>last values</th></tr>${devices}</table>
${connectionsTable(s.connections)}<h2>Buffer</h2>${bufferTable(s.buffer)}
<h2>Iggy</h2>${iggyTable(s.iggy)}
${commandsTable(s.commands)}</body></html>
`;
}
