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
export const collectDefaultMetrics =
  require("prom-client/lib/defaultMetrics") as typeof Prom.collectDefaultMetrics;
