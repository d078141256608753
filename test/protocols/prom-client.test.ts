import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import type * as Prom from "prom-client";
import { collectDefaultMetrics, Registry } from "../../protocols/prom-client.js";

const require = createRequire(import.meta.url);

function metricLines(text: string): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (m) byName.set(m[2]!, [...(byName.get(m[2]!) ?? []), `${m[1]} ${m[3]}`]);
  }
  return byName;
}

test(
  "the default metrics are prom-client's (names, types, help) without loading OpenTelemetry",
  { timeout: 30_000 },
  async () => {
    const ours = new Registry();
    collectDefaultMetrics({ register: ours, prefix: "t_" });
    const otel = Object.keys(require.cache).filter((k) => k.includes("@opentelemetry"));
    assert.deepEqual(otel, [], "nothing of @opentelemetry/api is loaded");

    const theirs = new Registry();
    (require("prom-client/lib/defaultMetrics") as typeof Prom.collectDefaultMetrics)({
      register: theirs,
      prefix: "t_",
    });
    const a = metricLines(await ours.metrics());
    const b = metricLines(await theirs.metrics());
    assert.ok(b.size > 10, `prom-client gives ${b.size} default metrics`);
    assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
    for (const [name, lines] of b) assert.deepEqual(a.get(name), lines, name);
  },
);

test(
  "the process CPU counters count the CPU used, user + system = total, from one scrape",
  { timeout: 30_000 },
  async () => {
    const r = new Registry();
    collectDefaultMetrics({ register: r, prefix: "c_" });
    const read = async () => {
      const text = await r.metrics();
      const value = (n: string) =>
        Number(new RegExp(`^c_process_cpu_${n}_total (\\S+)$`, "m").exec(text)![1]);
      return { user: value("user_seconds"), system: value("system_seconds"), total: value("seconds") };
    };
    const first = await read();
    const cpu0 = process.cpuUsage();
    // Work counted in operations: enough hashing to use some CPU time on any machine.
    const { createHash } = await import("node:crypto");
    let h = Buffer.alloc(64);
    for (let i = 0; i < 200_000; i++) h = createHash("sha256").update(h).digest();
    const used = process.cpuUsage(cpu0);
    const second = await read();
    const grew = second.user - first.user;
    assert.ok(
      grew >= used.user / 1e6 - 1e-6,
      `user counter grew by ${grew} s, the work used ${used.user / 1e6} s`,
    );
    assert.ok(Math.abs(second.total - (second.user + second.system)) < 1e-6, JSON.stringify(second));
  },
);
