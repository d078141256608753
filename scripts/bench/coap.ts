// CoAP: confirmable POSTs from 10 concurrent clients (each one request at a time) to the gateway's
// CoAP server, answered after the durable commit (the real buffer, sync full), in a child process;
// beside it, in the same run, a bare `coap` package server answering at once, with the package's
// default response cache and with the gateway's bounded one. Reports requests/s and each server's RSS
// sampled every second: the bare default server's RSS grows with every request (the cache keeps each
// response with its retransmission state for EXCHANGE_LIFETIME, up to 32 MiB of response bytes), the
// bounded ones stay flat. Bounded in count and time.
import { fork, type ChildProcess } from "node:child_process";
import { Agent } from "coap";
import { exchange } from "../../protocols/coap/exchange.js";
import type { Benchmark, Figure } from "../bench-kit.js";
import { withPeer } from "../bench-kit.js";

const CHILD_FLAG = "--coap-bench-child";
const CLIENTS = 10;
const MAX_REQUESTS = 5_000_000;
const BOUNDED_CACHE_BYTES = 65_536;

type Kind = "gateway" | "bare-default" | "bare-bounded";

interface ChildStats {
  served: number;
  rss: number;
}

async function child(kind: Kind, dir: string): Promise<void> {
  let served = 0;
  let port: number;
  if (kind === "gateway") {
    const pino = (await import("pino")).default;
    const { openBuffer } = await import("../../buffer/index.js");
    const { configSchema, protocolContext } = await import("../../protocols/registry.js");
    const { CoapAdapter } = await import("../../protocols/coap/adapter.js");
    const buffer = await openBuffer({ dir, sync: "full", maxBytes: 4 * 1024 ** 3 });
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
    if (m.cmd === "stats") process.send!({ served, rss: process.memoryUsage().rss } satisfies ChildStats);
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

interface LoadRun {
  rate: number;
  answered: number;
  failed: number;
  /** RSS samples (bytes), one a second. */
  rss: number[];
}

/** `clients` loops of confirmable POSTs for `seconds` (and at most MAX_REQUESTS in all). */
async function load(proc: ChildProcess, port: number, clients: number, seconds: number): Promise<LoadRun> {
  const agents = Array.from({ length: clients }, () => new Agent({ type: "udp4" }));
  const end = performance.now() + seconds * 1000;
  let answered = 0;
  let failed = 0;
  let sent = 0;
  const rss: number[] = [];
  const sampler = setInterval(() => void statsOf(proc).then((s) => rss.push(s.rss)), 1000);
  const t0 = performance.now();
  try {
    await Promise.all(
      agents.map(async (agent) => {
        while (performance.now() < end && sent < MAX_REQUESTS) {
          sent++;
          const x = exchange(
            agent,
            { host: "127.0.0.1", port },
            {
              method: "POST",
              path: "/d/dev/v",
              payload: Buffer.from("21.5"),
              timeoutMs: 10_000,
            },
          );
          try {
            const res = await x.answer;
            if (res.code.startsWith("2.")) answered++;
            else failed++;
          } catch {
            failed++;
          }
        }
      }),
    );
  } finally {
    clearInterval(sampler);
    for (const a of agents) a.close();
  }
  const rate = answered / ((performance.now() - t0) / 1000);
  rss.push((await statsOf(proc)).rss);
  return { rate, answered, failed, rss };
}

const MB = 1024 * 1024;

/** RSS growth over the run's second half (MB): flat is close to 0, whatever the warm-up took. */
function lateGrowth(rss: number[]): number {
  if (rss.length < 2) return 0;
  const mid = rss[Math.floor(rss.length / 2)]!;
  return (rss.at(-1)! - mid) / MB;
}

const bench: Benchmark = {
  description:
    "CoAP: confirmable POSTs from 10 clients answered after the durable commit vs a bare coap server, RSS sampled over the run",
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
      ctx.log(
        `bare coap server (default cache): ${bareRun.rate.toFixed(0)} req/s, RSS ${bareRun.rss.map((r) => (r / MB).toFixed(0)).join(",")} MB`,
      );

      const bareBounded = await startChild("bare-bounded", ctx.tmpDir);
      procs.push(bareBounded.proc);
      const boundedRun = await load(bareBounded.proc, bareBounded.port, CLIENTS, bareS);
      bareBounded.proc.kill("SIGKILL");
      ctx.log(
        `bare coap server (cacheSize ${BOUNDED_CACHE_BYTES}): ${boundedRun.rate.toFixed(0)} req/s, RSS ${boundedRun.rss.map((r) => (r / MB).toFixed(0)).join(",")} MB`,
      );

      const gw = await startChild("gateway", ctx.tmpDir);
      procs.push(gw.proc);
      const gwRun = await load(gw.proc, gw.port, CLIENTS, gatewayS);
      const gwStats = await statsOf(gw.proc);
      ctx.log(
        `gateway: ${gwRun.rate.toFixed(0)} req/s (${gwStats.served} committed, ${gwRun.failed} failed), RSS ${gwRun.rss.map((r) => (r / MB).toFixed(0)).join(",")} MB`,
      );

      figures.push(
        withPeer(
          "confirmable POSTs answered after commit, 10 clients",
          gwRun.rate,
          "req/s",
          "bare coap server, same load",
          bareRun.rate,
          ">= 5000",
        ),
        { name: "gateway RSS at the end", value: gwRun.rss.at(-1)! / MB, unit: "MB" },
        {
          name: "gateway RSS growth over the second half of the run",
          value: lateGrowth(gwRun.rss),
          unit: "MB",
          target: "~0",
        },
        { name: "requests failed or unanswered", value: gwRun.failed, unit: "requests", target: "0" },
        {
          name: "bare coap server (default cache) RSS at the end",
          value: bareRun.rss.at(-1)! / MB,
          unit: "MB",
        },
        {
          name: "bare coap server (default cache) RSS growth over the second half",
          value: lateGrowth(bareRun.rss),
          unit: "MB",
        },
        {
          name: `bare coap server (cacheSize ${BOUNDED_CACHE_BYTES}) RSS growth over the second half`,
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
