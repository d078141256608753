// Iggy client send throughput and latency, the three wire generations side by side: to dev-iggy (a
// child process on loopback serving 0.8, 0.9 and 0.10 on one port) with protocol 0.8, 0.9 and 0.10,
// and, when IGGY_E2E_ADDR is set (with IGGY_E2E_USERNAME / IGGY_E2E_PASSWORD, and
// IGGY_E2E_PROTOCOL=0.9 or 0.10 for a server of that line; 0.8 otherwise), to a real Iggy server.
// Then the XXH3-64 checksum implementations side by side on message-sized and 1 MiB inputs: the
// choice in use (gateway/iggy/hash/xxh3.ts), @node-rs/xxhash and hash-wasm, each against our pure JavaScript.
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { randomBytes } from "node:crypto";
import {
  IggyClient,
  type OutgoingMessage,
  type Credentials,
  type WireVersion,
} from "../../gateway/iggy/index.js";
import { xxh3_64Js } from "../../gateway/iggy/hash/xxh3-js.js";
import {
  loadFastXxh3,
  WASM_FROM_BYTES,
  xxh3_64,
  xxh3Candidates,
  xxh3Implementation,
} from "../../gateway/iggy/hash/xxh3.js";
import { percentile, withPeer, type Benchmark, type BenchContext, type Figure } from "../bench-kit.js";

const DEV_MAIN = resolve(import.meta.dirname, "../../gateway/iggy/dev-server/main.js");
const MB = 1024 * 1024;

interface Target {
  label: string;
  address: string;
  credentials: Credentials;
  protocol: WireVersion;
}

interface Measured {
  bigBatchMBps: number;
  smallBatchMBps: number;
  smallBatchMsgps: number;
  rttP50us: number;
  rttP99us: number;
}

async function startDev(): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [DEV_MAIN, "--port", "0", "--password", "bench-pw"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("dev-iggy did not start within 15 s")), 15_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    child.once("exit", (code) => fail(new Error(`dev-iggy exited with ${code}`)));
  });
  return { child, port };
}

/** Sends `batch` repeatedly, one request at a time, up to `maxBatches` or `maxMs`; returns bytes/s and batches/s. */
async function throughput(
  client: IggyClient,
  stream: string,
  topic: string,
  batch: OutgoingMessage[],
  maxBatches: number,
  maxMs: number,
): Promise<{ bytesPerSec: number; batchesPerSec: number }> {
  const bytes = batch.reduce((n, m) => n + m.payload.length, 0);
  const start = performance.now();
  let sent = 0;
  while (sent < maxBatches && performance.now() - start < maxMs) {
    const out = await client.send(stream, topic, batch, { partitioning: { kind: "partition", id: 0 } });
    if (out.status !== "confirmed") throw new Error(`send was ${out.status}: ${out.error.message}`);
    sent++;
  }
  const secs = (performance.now() - start) / 1000;
  return { bytesPerSec: (bytes * sent) / secs, batchesPerSec: sent / secs };
}

async function measure(target: Target, ctx: BenchContext): Promise<Measured> {
  const client = new IggyClient({
    address: target.address,
    credentials: target.credentials,
    protocol: target.protocol,
    requestTimeoutMs: 30_000,
  });
  const stream = `bench-${randomBytes(3).toString("hex")}`;
  try {
    await client.connect();
    await client.createStream(stream);
    for (const t of ["big", "small", "rtt"]) await client.createTopic(stream, t, { partitions: 1 });
    const q = ctx.quick;

    ctx.log(`${target.label}: 1 MiB batches`);
    const big = [{ id: 1n, payload: randomBytes(MB) }];
    await throughput(client, stream, "big", big, 3, 5_000);
    const bigRun = await throughput(client, stream, "big", big, q ? 40 : 400, q ? 2_000 : 10_000);

    ctx.log(`${target.label}: 1,000-message batches (100-byte payloads)`);
    const small = Array.from({ length: 1000 }, (_, i) => ({ id: BigInt(i + 1), payload: randomBytes(100) }));
    await throughput(client, stream, "small", small, 3, 5_000);
    const smallRun = await throughput(client, stream, "small", small, q ? 100 : 2_000, q ? 2_000 : 10_000);

    ctx.log(`${target.label}: round trips of a single 100-byte send`);
    const one = [{ id: 1n, payload: randomBytes(100) }];
    const rtts: number[] = [];
    const n = q ? 300 : 5_000;
    const until = performance.now() + (q ? 3_000 : 20_000);
    for (let i = 0; i < n && performance.now() < until; i++) {
      const t0 = performance.now();
      const out = await client.send(stream, "rtt", one, { partitioning: { kind: "partition", id: 0 } });
      if (out.status !== "confirmed") throw new Error(`send was ${out.status}`);
      rtts.push((performance.now() - t0) * 1000);
    }
    rtts.sort((a, b) => a - b);
    await client.deleteStream(stream).catch(() => undefined);
    return {
      bigBatchMBps: bigRun.bytesPerSec / MB,
      smallBatchMBps: smallRun.bytesPerSec / MB,
      smallBatchMsgps: smallRun.batchesPerSec * 1000,
      rttP50us: percentile(rtts, 50),
      rttP99us: percentile(rtts, 99),
    };
  } finally {
    await client.close();
  }
}

type Row = [name: string, unit: string, pick: (m: Measured) => number, target?: string];

const ROWS: Row[] = [
  ["send 1 MiB batches", "MB/s", (m) => m.bigBatchMBps, ">= 100"],
  ["send 1,000 x 100 B batches", "MB/s", (m) => m.smallBatchMBps],
  ["send 1,000 x 100 B batches", "messages/s", (m) => m.smallBatchMsgps],
  ["single 100 B send round trip p50", "µs", (m) => m.rttP50us],
  ["single 100 B send round trip p99", "µs", (m) => m.rttP99us],
];

const round = (v: number): number => Math.round(v * 10) / 10;

/**
 * 0.8 rows (names as before; peer: a real 0.8 server when given), then 0.9 and 0.10 rows with the
 * 0.8 figure as peer (the generations side by side), then a real 0.9 or 0.10 server's rows with
 * dev-iggy of the same protocol as peer when one is given.
 */
function figures(
  dev: Record<WireVersion, Measured>,
  real: Measured | null,
  realProtocol: WireVersion,
): Figure[] {
  const dev08 = dev["0.8"];
  const out: Figure[] = [];
  for (const [name, unit, pick, target] of ROWS) {
    const n = `${name}, dev-iggy`;
    const v = round(pick(dev08));
    out.push(
      real && realProtocol === "0.8"
        ? withPeer(n, v, unit, "real Iggy server, same client", round(pick(real)), target)
        : { name: n, value: v, unit, ...(target ? { target } : {}) },
    );
  }
  for (const protocol of ["0.9", "0.10"] as const) {
    for (const [name, unit, pick, target] of ROWS) {
      out.push(
        withPeer(
          `${name}, dev-iggy, protocol ${protocol}`,
          round(pick(dev[protocol])),
          unit,
          "protocol 0.8, same client and dev-iggy",
          round(pick(dev08)),
          target,
        ),
      );
    }
  }
  if (real && realProtocol !== "0.8") {
    for (const [name, unit, pick, target] of ROWS) {
      out.push(
        withPeer(
          `${name}, real Iggy ${realProtocol}`,
          round(pick(real)),
          unit,
          `dev-iggy, protocol ${realProtocol}`,
          round(pick(dev[realProtocol])),
          target,
        ),
      );
    }
  }
  return out;
}

type Hash = (input: Uint8Array) => bigint;

/**
 * MiB/s of each hash over `input`, measured in interleaved rounds (about `ms` each in all), so a
 * machine whose load changes during the run treats every implementation alike.
 */
function hashRates(hashes: Hash[], input: Uint8Array, ms: number): number[] {
  const rounds = 5;
  const n = hashes.map(() => 0);
  const spent = hashes.map(() => 0);
  for (const hash of hashes) for (let i = 0; i < 3; i++) hash(input);
  for (let r = 0; r < rounds; r++) {
    hashes.forEach((hash, k) => {
      const start = performance.now();
      do {
        for (let i = 0; i < 8; i++) hash(input);
        n[k]! += 8;
      } while (performance.now() - start < ms / rounds);
      spent[k]! += performance.now() - start;
    });
  }
  return hashes.map((_, k) => (n[k]! * input.length) / MB / (spent[k]! / 1000));
}

/** The XXH3-64 implementations, each against our pure JavaScript, on the same inputs in one run. */
async function checksumFigures(ctx: BenchContext): Promise<Figure[]> {
  await loadFastXxh3();
  const others: [string, Hash][] = [
    [
      `in use (${xxh3Implementation.small} below ${WASM_FROM_BYTES} B, ${xxh3Implementation.large} from there)`,
      xxh3_64,
    ],
  ];
  for (const c of xxh3Candidates)
    if (c.hash) others.push([c.name, c.hash]);
    else ctx.log(`${c.name} did not load: its rows are skipped`);
  const ms = ctx.quick ? 200 : 2_000;
  const out: Figure[] = [];
  // A 100-byte reading with its 48-byte frame header and a few user headers; a 1 MiB frame.
  for (const [label, size] of [
    ["160 B message frame", 160],
    ["16 KiB frame", 16 * 1024],
    ["1 MiB frame", MB],
  ] as const) {
    const input = randomBytes(size);
    for (const [, hash] of others)
      if (hash(input) !== xxh3_64Js(input)) throw new Error("XXH3 implementations disagree");
    ctx.log(`XXH3-64 of a ${label}`);
    const [js, ...rates] = hashRates([xxh3_64Js, ...others.map(([, h]) => h)], input, ms);
    others.forEach(([name], k) =>
      out.push(
        withPeer(
          `XXH3-64 of a ${label}, ${name}`,
          round(rates[k]!),
          "MiB/s",
          "our pure JavaScript",
          round(js!),
        ),
      ),
    );
  }
  return out;
}

const bench: Benchmark = {
  description:
    "Iggy client: send throughput (1 MiB and 1,000-message batches) and small-send round trip, protocols 0.8, 0.9 and 0.10, dev-iggy and a real server; XXH3-64 implementations",
  async run(ctx) {
    const dev = await startDev();
    const measured: Partial<Record<WireVersion, Measured>> = {};
    try {
      const on = (protocol: WireVersion): Target => ({
        label: `dev-iggy, protocol ${protocol}`,
        address: `127.0.0.1:${dev.port}`,
        credentials: { username: "iggy", password: "bench-pw" },
        protocol,
      });
      for (const protocol of ["0.8", "0.9", "0.10"] as const)
        measured[protocol] = await measure(on(protocol), ctx);
    } finally {
      dev.child.kill("SIGTERM");
      await once(dev.child, "exit");
    }
    const addr = process.env.IGGY_E2E_ADDR;
    const asked = process.env.IGGY_E2E_PROTOCOL;
    const realProtocol: WireVersion = asked === "0.10" || asked === "0.9" ? asked : "0.8";
    let realResult: Measured | null = null;
    if (addr) {
      realResult = await measure(
        {
          label: `real Iggy ${realProtocol} at ${addr}`,
          address: addr,
          credentials: {
            username: process.env.IGGY_E2E_USERNAME ?? "iggy",
            password: process.env.IGGY_E2E_PASSWORD ?? "iggy",
          },
          protocol: realProtocol,
        },
        ctx,
      );
    } else {
      ctx.log("real Iggy server skipped: IGGY_E2E_ADDR not set");
    }
    return [
      ...figures(measured as Record<WireVersion, Measured>, realResult, realProtocol),
      ...(await checksumFigures(ctx)),
    ];
  },
};

export default bench;
