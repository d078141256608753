// The parts of prom-client the gateway uses, each required from its own file. prom-client's index
// also loads Summary (with tdigest), the Pushgateway client (http, https) and the cluster
// aggregator, about 1.5 MiB of an idle gateway's memory that nothing here uses. The classes are
// the same ones the index exports (one module cache), so a Registry from "prom-client" takes them.
import { createRequire } from "node:module";
import type * as Prom from "prom-client";

const require = createRequire(import.meta.url);

export const Registry = require("prom-client/lib/registry") as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = require("prom-client/lib/counter") as typeof Prom.Counter;
export type Counter<T extends string = string> = Prom.Counter<T>;
export const Gauge = require("prom-client/lib/gauge") as typeof Prom.Gauge;
export type Gauge<T extends string = string> = Prom.Gauge<T>;
export const Histogram = require("prom-client/lib/histogram") as typeof Prom.Histogram;
export type Histogram<T extends string = string> = Prom.Histogram<T>;

// prom-client's default metrics, each from its own file, but the process CPU counters written here:
// prom-client's own file loads @opentelemetry/api (about a hundred modules, for exemplars that the
// gateway never enables). Same metric names, types and help as prom-client's.
const DEFAULT_METRICS = [
  "processStartTime",
  "osMemoryHeap",
  "processOpenFileDescriptors",
  "processMaxFileDescriptors",
  "eventLoopLag",
  ...(typeof (process as { getActiveResourcesInfo?: unknown }).getActiveResourcesInfo === "function"
    ? ["processResources"]
    : []),
  "processHandles",
  "processRequests",
  "heapSizeAndUsed",
  "heapSpacesSizeAndUsed",
  "version",
  "gc",
];

type MetricFile = (
  register: Prom.Registry,
  config: { prefix: string; eventLoopMonitoringPrecision: number },
) => void;

/** prom-client's `collectDefaultMetrics({ register, prefix })`, without loading OpenTelemetry. */
export function collectDefaultMetrics(options: { register: Prom.Registry; prefix: string }): void {
  const config = { prefix: options.prefix, eventLoopMonitoringPrecision: 10 };
  processCpuCounters(options.register, options.prefix);
  for (const name of DEFAULT_METRICS) {
    (require(`prom-client/lib/metrics/${name}`) as MetricFile)(options.register, config);
  }
}

function processCpuCounters(register: Prom.Registry, prefix: string): void {
  let last = process.cpuUsage();
  const registers = [register];
  // Registered first, so that a scrape runs its collect (which sets all three) before reading the others.
  new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: "Total user CPU time spent in seconds.",
    registers,
    collect() {
      const now = process.cpuUsage();
      const user = (now.user - last.user) / 1e6;
      const sys = (now.system - last.system) / 1e6;
      last = now;
      this.inc(user);
      system.inc(sys);
      total.inc(user + sys);
    },
  });
  const system = new Counter({
    name: `${prefix}process_cpu_system_seconds_total`,
    help: "Total system CPU time spent in seconds.",
    registers,
  });
  const total = new Counter({
    name: `${prefix}process_cpu_seconds_total`,
    help: "Total user and system CPU time spent in seconds.",
    registers,
  });
}
