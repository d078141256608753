// GET /: the status for a person, plain HTML that refreshes itself; no script, no external files.
import type { Status } from "./status.js";

const esc = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 60 ? `${s} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function table(obj: Record<string, unknown> | null, empty: string): string {
  if (!obj) return `<p>${esc(empty)}</p>`;
  const rows = Object.entries(obj).map(
    ([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === "object" ? JSON.stringify(v) : v)}</td></tr>`,
  );
  return `<table>${rows.join("")}</table>`;
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
<p>version ${esc(s.version)}, up ${esc(s.uptime_s)} s, ${s.ready ? "ready" : "<b>not ready</b>"}</p>
<h2>Devices</h2>
<table><tr><th>device</th><th>protocol</th><th>state</th><th>last values</th></tr>${devices}</table>
<h2>Buffer</h2>${table(s.buffer, "buffer not open")}
<h2>Iggy</h2>${table(s.iggy, "no Iggy link")}
</body></html>
`;
}
