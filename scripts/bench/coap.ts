// CoAP: confirmable POSTs from 10 concurrent clients (each one request at a time; the load generator
// is scripts/coap-load.ts, raw datagrams over UDP sockets) to the gateway's CoAP server, answered after
// the durable commit (the real buffer, sync full), in a child process, with the default commit policy
// (ack_commit_early on), with ack_commit_early off (every commit waits out the gap) and with
// ack_commit_gap_ms 0; beside it, in the same run, a bare `coap` package server answering at
// once, with the package's default response cache and with the gateway's bounded one. Reports
// requests/s, CPU time per request (server process and generator), requests per buffer commit, and
// each server's RSS sampled every second: the bare default server's RSS grows with every request (the
// cache keeps each response with its retransmission state for EXCHANGE_LIFETIME, up to 32 MiB of
// response bytes), the bounded ones stay flat. Bounded in count and time.
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { Benchmark, Figure } from "../bench-kit.js";
import { withPeer } from "../bench-kit.js";
import { coapLoad, type LoadResult } from "../coap-load.js";

const CHILD_FLAG = "--coap-bench-child";
const CLIENTS = 10;
const MAX_REQUESTS = 5_000_000;
const BOUNDED_CACHE_BYTES = 65_536;

type Kind = "gateway" | "gateway-gap-only" | "gateway-gap0" | "bare-default" | "bare-bounded";

interface ChildStats {
  served: number;
  rss: number;
  /** CPU time the process used so far (user + system), µs. */
  cpu: number;
  /** The gateway's buffer commits so far (0 for a bare server). */
  commits: number;
}

async function child(kind: Kind, dir: string): Promise<void> {
  let served = 0;
  let port: number;
  let commits = async (): Promise<number> => 0;
  if (kind.startsWith("gateway")) {
    const pino = (await import("pino")).default;
    const { openBuffer } = await import("../../buffer/index.js");
    const [{ configSchema }, { protocolContext }] = await Promise.all([
      import("../../protocols/config-schema.js"),
      import("../../protocols/registry.js"),
    ]);
    const { CoapAdapter } = await import("../../protocols/coap/adapter.js");
    const buffer = await openBuffer({
      dir: join(dir, kind),
      sync: "full",
      maxBytes: 4 * 1024 ** 3,
      ...(kind === "gateway-gap0" ? { ackCommitGapMs: 0 } : {}),
      ...(kind === "gateway-gap-only" ? { ackCommitEarly: false } : {}),
    });
    const config = configSchema.parse({
      gateway: { id: "bench", data_dir: dir },
      coap: { source_rate: 1_000_000, source_burst: 1_000_000 },
      devices: [{ id: "dev", protocol: "coap", points: [{ name: "v", path: "/d/dev/v" }] }],
    });
    if (config.devices[0]?.protocol !== "coap") throw new Error("unreachable");
    const adapter = new CoapAdapter(
      [config.devices[0]],
      protocolContext(config, "coap"),
      { log: pino({ level: "warn" }), reject: () => {} },
      { listen: "127.0.0.1:0" },
    );
    await adapter.start(async (rs, options) => {
      await buffer.append(rs, options);
      served += rs.length;
    });
    port = adapter.serverAddress()!.port;
    commits = async () => (await buffer.stats()).commits;
  } else {
    const { createServer } = await import("coap");
    const server = createServer(kind === "bare-bounded" ? { cacheSize: BOUNDED_CACHE_BYTES } : {});
    server.on("request", (_req, res) => {
      served++;
      res.code = "2.04";
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    port = (server._sock as unknown as { address(): { port: number } }).address().port;
  }
  process.send!({ port });
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd !== "stats") return;
    void commits().then((n) => {
      const cpu = process.cpuUsage();
      const stats: ChildStats = {
        served,
        rss: process.memoryUsage().rss,
        cpu: cpu.user + cpu.system,
        commits: n,
      };
      process.send!(stats);
    });
  });
  process.on("disconnect", () => process.exit(0));
}

if (process.argv[2] === CHILD_FLAG) await child(process.argv[3] as Kind, process.argv[4]!);

async function startChild(kind: Kind, dir: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = fork(new URL(import.meta.url).pathname, [CHILD_FLAG, kind, dir], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  try {
    const { port } = await new Promise<{ port: number }>((res, rej) => {
      const t = setTimeout(() => rej(new Error(`${kind} child did not start in 30 s`)), 30_000);
      proc.once("message", (m) => {
        clearTimeout(t);
        res(m as { port: number });
      });
      proc.once("exit", (c) => rej(new Error(`${kind} child exited (${c})`)));
    });
    return { proc, port };
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
}

function statsOf(proc: ChildProcess): Promise<ChildStats> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error("no stats from the child in 10 s")), 10_000);
    proc.once("message", (m) => {
      clearTimeout(t);
      res(m as ChildStats);
    });
    proc.send({ cmd: "stats" });
  });
}

interface LoadRun extends LoadResult {
  /** RSS samples (bytes), one a second. */
  rss: number[];
  /** CPU time per answered request (µs): the server's process, and this one's (the generator). */
  serverCpu: number;
  loadCpu: number;
  /** Requests answered per buffer commit (0 for a bare server). */
  perCommit: number;
}

/** `clients` loops of confirmable POSTs for `seconds` (and at most MAX_REQUESTS in all). */
async function load(proc: ChildProcess, port: number, clients: number, seconds: number): Promise<LoadRun> {
  const rss: number[] = [];
  const before = await statsOf(proc);
  const loadBefore = process.cpuUsage();
  const sampler = setInterval(() => void statsOf(proc).then((s) => rss.push(s.rss)), 1000);
  let result: LoadResult;
  try {
    result = await coapLoad({
      port,
      path: ["d", "dev", "v"],
      payload: Buffer.from("21.5"),
      clients,
      seconds,
      maxRequests: MAX_REQUESTS,
    });
  } finally {
    clearInterval(sampler);
  }
  const loadCpu = process.cpuUsage(loadBefore);
  const after = await statsOf(proc);
  rss.push(after.rss);
  const n = Math.max(1, result.answered);
  return {
    ...result,
    rss,
    serverCpu: (after.cpu - before.cpu) / n,
    perCommit: after.commits === before.commits ? 0 : result.answered / (after.commits - before.commits),
    loadCpu: (loadCpu.user + loadCpu.system) / n,
  };
}

const MB = 1024 * 1024;

function describe(r: LoadRun): string {
  const codes = Object.entries(r.codes)
    .map(([c, n]) => `${c}: ${n}`)
    .join(", ");
  return (
    `${r.rate.toFixed(0)} req/s (${codes}; ${r.failed} failed, ${r.retransmits} retransmitted), ` +
    `latency p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms, ` +
    `CPU per request ${r.serverCpu.toFixed(0)} µs server ${r.loadCpu.toFixed(0)} µs generator, ` +
    (r.perCommit > 0 ? `${r.perCommit.toFixed(1)} requests per commit, ` : "") +
    `RSS ${r.rss.map((x) => (x / MB).toFixed(0)).join(",")} MB`
  );
}

/**
 * RSS growth late in the run (MB): the largest sample of the last quarter minus that of the second
 * quarter. Peaks, not single samples: RSS saws up and down with V8's old-generation collections (a
 * cycle of a few seconds at thousands of requests/s), so two single samples differ by a cycle's
 * height without any growth. Flat is close to 0, whatever the warm-up took.
 */
function lateGrowth(rss: number[]): number {
  const q = Math.floor(rss.length / 4);
  if (q < 1) return 0;
  const peak = (from: number, to: number) => Math.max(...rss.slice(from, to));
  return (peak(rss.length - q, rss.length) - peak(q, 2 * q)) / MB;
}

const bench: Benchmark = {
  description:
    "CoAP: confirmable POSTs from 10 clients (one in flight each) answered after the durable commit, default commit policy, ack_commit_early off and ack_commit_gap_ms 0, vs a bare coap server; CPU per request, RSS sampled over the run",
  async run(ctx) {
    const gatewayS = ctx.quick ? 6 : 60;
    const bareS = ctx.quick ? 6 : 20;
    const figures: Figure[] = [];
    const procs: ChildProcess[] = [];
    try {
      const bareDefault = await startChild("bare-default", ctx.tmpDir);
      procs.push(bareDefault.proc);
      const bareRun = await load(bareDefault.proc, bareDefault.port, CLIENTS, bareS);
      bareDefault.proc.kill("SIGKILL");
      ctx.log(`bare coap server (default cache): ${describe(bareRun)}`);

      const bareBounded = await startChild("bare-bounded", ctx.tmpDir);
      procs.push(bareBounded.proc);
      const boundedRun = await load(bareBounded.proc, bareBounded.port, CLIENTS, bareS);
      bareBounded.proc.kill("SIGKILL");
      ctx.log(`bare coap server (cacheSize ${BOUNDED_CACHE_BYTES}): ${describe(boundedRun)}`);

      const gw = await startChild("gateway", ctx.tmpDir);
      procs.push(gw.proc);
      const gwRun = await load(gw.proc, gw.port, CLIENTS, gatewayS);
      const gwStats = await statsOf(gw.proc);
      ctx.log(`gateway: ${describe(gwRun)}; ${gwStats.served} readings committed`);
      gw.proc.kill("SIGKILL");

      const free = await startChild("gateway-gap0", ctx.tmpDir);
      procs.push(free.proc);
      const freeRun = await load(free.proc, free.port, CLIENTS, bareS);
      free.proc.kill("SIGKILL");
      ctx.log(`gateway, ack_commit_gap_ms 0: ${describe(freeRun)}`);

      const gapOnly = await startChild("gateway-gap-only", ctx.tmpDir);
      procs.push(gapOnly.proc);
      const gapOnlyRun = await load(gapOnly.proc, gapOnly.port, CLIENTS, bareS);
      gapOnly.proc.kill("SIGKILL");
      ctx.log(`gateway, ack_commit_early false: ${describe(gapOnlyRun)}`);

      figures.push(
        withPeer(
          "confirmable POSTs answered after commit, 10 clients",
          gwRun.rate,
          "req/s",
          "bare coap server, same load",
          bareRun.rate,
          ">= 5000",
        ),
        withPeer(
          "the same, buffer.ack_commit_gap_ms 0 (a commit as soon as the store is free)",
          freeRun.rate,
          "req/s",
          "bare coap server, same load",
          bareRun.rate,
        ),
        withPeer(
          "the same, buffer.ack_commit_early false (every commit waits out the 5 ms gap)",
          gapOnlyRun.rate,
          "req/s",
          "bare coap server, same load",
          bareRun.rate,
        ),
        { name: "requests per commit, default policy", value: gwRun.perCommit, unit: "requests" },
        withPeer(
          "gateway CPU per request (main thread and buffer worker)",
          gwRun.serverCpu,
          "µs",
          `bare coap server (cacheSize ${BOUNDED_CACHE_BYTES})`,
          boundedRun.serverCpu,
        ),
        { name: "gateway RSS, largest sample", value: Math.max(...gwRun.rss) / MB, unit: "MB" },
        {
          name: "gateway RSS growth, last quarter's peak minus the second quarter's",
          value: lateGrowth(gwRun.rss),
          unit: "MB",
          target: "~0",
        },
        {
          name: "requests failed or unanswered",
          value: gwRun.failed + freeRun.failed + gapOnlyRun.failed,
          unit: "requests",
          target: "0",
        },
        {
          name: "bare coap server (default cache) RSS at the end",
          value: bareRun.rss.at(-1)! / MB,
          unit: "MB",
        },
        {
          name: "bare coap server (default cache) RSS growth, the same peaks",
          value: lateGrowth(bareRun.rss),
          unit: "MB",
        },
        {
          name: `bare coap server (cacheSize ${BOUNDED_CACHE_BYTES}) RSS growth, the same peaks`,
          value: lateGrowth(boundedRun.rss),
          unit: "MB",
        },
        {
          name: `bare coap server (cacheSize ${BOUNDED_CACHE_BYTES})`,
          value: boundedRun.rate,
          unit: "req/s",
        },
      );
    } finally {
      for (const p of procs) p.kill("SIGKILL");
    }
    return figures;
  },
};

export default bench;
