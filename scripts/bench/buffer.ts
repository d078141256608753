// The durable buffer beside a bare better-sqlite3 loop over the same rows (same table, same stored
// bytes, same transaction size, same sync mode), measured in the same run: durable append
// throughput with many concurrent appenders, the event-loop delay and append latency while doing
// it, the drain of a backlog, RSS while a large backlog builds on disk, bytes on disk per reading,
// and bytes written to the device per reading (from /proc/self/io, WAL and checkpoints included).
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import pino from "pino";
import { ByteWriter } from "../../buffer/bytes.js";
import { openBuffer, type BufferOptions, type ReadingBuffer } from "../../buffer/index.js";
import { writeReading } from "../../buffer/reading-codec.js";
import type { Reading } from "../../protocols/adapter.js";
import { percentile, withPeer, type Benchmark, type BenchContext, type Figure } from "../bench-kit.js";

const quiet = pino({ level: "silent" });
const TX_ROWS = 1000;
/** Concurrent appenders of the main append figures: two transactions' worth in flight, so encoding and committing overlap. */
const APPENDERS = 2000;

/** 500 devices, a few points each, float values with decimals, the unit from the device map. */
function reading(k: number): Reading {
  return {
    device: `line-3/dev-${k % 500}`,
    point: ["temperature", "pressure", "flow"][k % 3]!,
    ts: 1_764_000_000_000 + k,
    value: Math.round((50 + 25 * Math.sin(k / 11)) * 1000) / 1000,
    quality: "good",
    unit: ["degC", "bar", "l/min"][k % 3]!,
  };
}

/** The bodies the buffer stores for readings 0..n-1 (names in the dictionary), for the bare loop. */
function storedRows(n: number): { bytes: Uint8Array; offsets: Uint32Array } {
  const ids = new Map<string, number>();
  const w = new ByteWriter(n * 24);
  const offsets = new Uint32Array(n + 1);
  for (let k = 0; k < n; k++) {
    const r = reading(k);
    const key = `${r.device}\0${r.point}\0${r.unit}`;
    let id = ids.get(key);
    if (id === undefined) ids.set(key, (id = ids.size + 1));
    writeReading(w, r, id);
    offsets[k + 1] = w.pos;
  }
  return { bytes: w.bytes, offsets };
}

function bareDb(file: string, sync: "full" | "normal"): Database.Database {
  const db = new Database(file);
  db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("cache_size = -8000");
  db.exec("CREATE TABLE readings (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)");
  return db;
}

/** The ceiling: rows inserted in one loop on one thread, TX_ROWS per transaction. */
function bareInsert(
  db: Database.Database,
  rows: ReturnType<typeof storedRows>,
  from: number,
  n: number,
): number {
  const insert = db.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
  const tx = db.transaction((a: number, b: number) => {
    for (let k = a; k < b; k++)
      insert.run(k + 1, rows.bytes.subarray(rows.offsets[k]!, rows.offsets[k + 1]!));
  });
  const t0 = performance.now();
  for (let k = from; k < from + n; k += TX_ROWS) tx(k, Math.min(k + TX_ROWS, from + n));
  return n / ((performance.now() - t0) / 1000);
}

interface Load {
  rate: number;
  latencies: Float64Array;
  avgTxRows: number;
}

/** `appenders` loops, each appending `perCall` readings and awaiting the commit before the next call. */
async function appendLoad(
  b: ReadingBuffer,
  total: number,
  appenders: number,
  perCall: number,
  onProgress?: (n: number) => void,
  make: (k: number) => Reading = reading,
): Promise<Load> {
  const before = await b.stats();
  // Not kept while a large backlog builds: the array itself would grow RSS.
  const latencies = onProgress
    ? new Float64Array(0)
    : new Float64Array(Math.ceil(total / perCall) + appenders);
  let calls = 0;
  let next = 0;
  let reported = 0;
  const t0 = performance.now();
  const appender = async () => {
    while (next < total) {
      const batch: Reading[] = [];
      for (let i = 0; i < perCall; i++) batch.push(make(next++));
      const started = performance.now();
      await b.append(batch);
      if (calls < latencies.length) latencies[calls] = performance.now() - started;
      calls++;
      if (onProgress && next >= reported + 100_000) onProgress((reported = next));
    }
  };
  await Promise.all(Array.from({ length: appenders }, appender));
  const seconds = (performance.now() - t0) / 1000;
  const after = await b.stats();
  return {
    rate: next / seconds,
    latencies: latencies.slice(0, Math.min(calls, latencies.length)).sort(),
    avgTxRows:
      (after.committedReadings - before.committedReadings) / Math.max(1, after.commits - before.commits),
  };
}

function open(ctx: BenchContext, name: string, options: Partial<BufferOptions> = {}): Promise<ReadingBuffer> {
  return openBuffer({ dir: join(ctx.tmpDir, name), maxBytes: 64 * 1024 ** 3, log: quiet, ...options });
}

function deviceWrites(): number {
  const io = Object.fromEntries(
    readFileSync("/proc/self/io", "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(": ") as [string, string]),
  );
  return Number(io.write_bytes) - Number(io.cancelled_write_bytes);
}

/** Leases and releases until empty; each release goes out together with the next lease, as a forwarder can do. */
async function drainAll(b: ReadingBuffer, maxReadings: number): Promise<number> {
  let n = 0;
  let batch = await b.lease({ maxReadings });
  while (batch !== null) {
    n += batch.readings.length;
    const [, next] = await Promise.all([b.release(batch.id), b.lease({ maxReadings })]);
    batch = next;
  }
  return n;
}

async function appendFigures(ctx: BenchContext, n: number): Promise<Figure[]> {
  const figures: Figure[] = [];
  const rows = storedRows(n);
  for (const sync of ["full", "normal"] as const) {
    ctx.log(`append, sync ${sync}: ${n} readings from ${APPENDERS} appenders of 1 reading`);
    const b = await open(ctx, `append-${sync}`, { sync, commitMaxRows: TX_ROWS });
    const load = await appendLoad(b, n, APPENDERS, 1);
    const s = await b.stats();
    await b.close();
    const bare = bareDb(join(ctx.tmpDir, `bare-append-${sync}.db`), sync);
    const bareRate = bareInsert(bare, rows, 0, n);
    bare.close();
    figures.push(
      withPeer(
        `durable append, sync ${sync}, ${APPENDERS} concurrent appenders x 1 reading`,
        load.rate,
        "readings/s",
        `bare better-sqlite3 loop, ${TX_ROWS}-row transactions`,
        bareRate,
        sync === "full" ? ">= 100000 and >= 0.5x" : undefined,
      ),
    );
    if (sync === "full") {
      figures.push(
        {
          name: "  its append latency p50 (awaited commit)",
          value: percentile([...load.latencies], 50),
          unit: "ms",
        },
        { name: "  its append latency p99", value: percentile([...load.latencies], 99), unit: "ms" },
        { name: "  its readings per transaction (group commit)", value: load.avgTxRows, unit: "readings" },
        { name: "bytes on disk per reading (database pages in use)", value: s.bytes / s.readings, unit: "B" },
      );
    }
  }

  for (const [appenders, perCall] of [
    [1000, 1],
    [100, 10],
  ] as const) {
    ctx.log(`append, sync full: ${n} readings from ${appenders} appenders of ${perCall} readings`);
    const b = await open(ctx, `append-${appenders}x${perCall}`, { commitMaxRows: TX_ROWS });
    const load = await appendLoad(b, n, appenders, perCall);
    await b.close();
    figures.push({
      name: `durable append, sync full, ${appenders} appenders x ${perCall} reading${perCall > 1 ? "s" : ""}`,
      value: load.rate,
      unit: "readings/s",
    });
  }

  ctx.log("append, sync full: closed loops of few appenders (bound by the commit interval)");
  for (const [appenders, intervalMs] of [
    [64, 50],
    [64, 5],
    [1, 50],
    [1, 0],
  ] as const) {
    const b = await open(ctx, `append-${appenders}-${intervalMs}`, { commitIntervalMs: intervalMs });
    const seconds = ctx.quick ? 0.5 : 2;
    let total = appenders * 20;
    let load = await appendLoad(b, total, appenders, 1);
    total = Math.max(total, Math.round(load.rate * seconds));
    load = await appendLoad(b, total, appenders, 1);
    await b.close();
    figures.push({
      name: `durable append, sync full, ${appenders} appender${appenders > 1 ? "s" : ""} x 1 reading, commit_interval_ms ${intervalMs}`,
      value: load.rate,
      unit: "readings/s",
    });
  }
  {
    const bare = bareDb(join(ctx.tmpDir, "bare-single.db"), "full");
    const insert = bare.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
    const count = ctx.quick ? 500 : 3000;
    const t0 = performance.now();
    for (let k = 0; k < count; k++)
      insert.run(k + 1, rows.bytes.subarray(rows.offsets[k]!, rows.offsets[k + 1]!));
    const rate = count / ((performance.now() - t0) / 1000);
    bare.close();
    figures.push({
      name: "bare better-sqlite3 single-row commits, sync full (for scale)",
      value: rate,
      unit: "rows/s",
    });
  }
  return figures;
}

/**
 * What the devices' event loop feels: readings arrive at a steady 20,000/s; the buffer commits them
 * in its worker, the bare loop commits them on the main thread every 50 ms (the default commit
 * interval), fsync included. The delay of a 1 ms timer is measured in both.
 */
async function loopDelayFigures(ctx: BenchContext): Promise<Figure[]> {
  const seconds = ctx.quick ? 1 : 3;
  const perTick = 20;
  const sleep = () => new Promise((r) => setTimeout(r, 1));
  ctx.log(
    `event loop: ${perTick} readings per 1 ms tick for ${seconds} s, buffer vs bare loop on the main thread`,
  );
  const b = await open(ctx, "loop-delay");
  await b.append(Array.from({ length: 1500 }, (_, i) => reading(i)));
  const ours = monitorEventLoopDelay({ resolution: 1 });
  const pending: Promise<unknown>[] = [];
  let k = 1500;
  ours.enable();
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let i = 0; i < perTick; i++) pending.push(b.append([reading(k++)]));
    await sleep();
  }
  ours.disable();
  const rate = (k - 1500) / ((performance.now() - t0) / 1000);
  await Promise.all(pending);
  await b.close();

  const rows = storedRows(k + 10_000);
  const bare = bareDb(join(ctx.tmpDir, "bare-loop-delay.db"), "full");
  const insert = bare.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
  const commit = bare.transaction((a: number, z: number) => {
    for (let q = a; q < z; q++)
      insert.run(q + 1, rows.bytes.subarray(rows.offsets[q]!, rows.offsets[q + 1]!));
  });
  const theirs = monitorEventLoopDelay({ resolution: 1 });
  let next = 0;
  let committed = 0;
  let lastCommit = performance.now();
  theirs.enable();
  const b0 = performance.now();
  while (performance.now() - b0 < seconds * 1000) {
    next += perTick;
    if (performance.now() - lastCommit >= 50) {
      commit(committed, next);
      committed = next;
      lastCommit = performance.now();
    }
    await sleep();
  }
  theirs.disable();
  bare.close();
  return [
    withPeer(
      `main event loop delay p99, ${Math.round(rate).toLocaleString("en-US")} readings/s arriving, sync full`,
      ours.percentile(99) / 1e6,
      "ms",
      "bare loop committing on the main thread every 50 ms",
      theirs.percentile(99) / 1e6,
    ),
    withPeer("  its maximum", ours.max / 1e6, "ms", "bare loop", theirs.max / 1e6),
  ];
}

async function drainFigures(ctx: BenchContext, n: number): Promise<Figure[]> {
  ctx.log(`drain: building a ${n}-reading backlog`);
  let b = await open(ctx, "drain", { sync: "normal" });
  for (let k = 0; k < n; k += 10_000)
    await b.append(Array.from({ length: Math.min(10_000, n - k) }, (_, i) => reading(k + i)));
  await b.close();
  b = await open(ctx, "drain");
  ctx.log(`drain: lease ${TX_ROWS} + release until empty, sync full`);
  const t0 = performance.now();
  const drained = await drainAll(b, TX_ROWS);
  const rate = drained / ((performance.now() - t0) / 1000);
  await b.close();
  const fileAfter = statSync(join(ctx.tmpDir, "drain", "buffer.db")).size;

  ctx.log("drain: the bare read-and-delete loop of the same batches");
  const rows = storedRows(n);
  const bare = bareDb(join(ctx.tmpDir, "bare-drain.db"), "normal");
  bareInsert(bare, rows, 0, n);
  bare.pragma("synchronous = FULL");
  const select = bare.prepare("SELECT seq, body FROM readings WHERE seq > ? ORDER BY seq LIMIT ?").raw(true);
  const del = bare.prepare("DELETE FROM readings WHERE seq BETWEEN ? AND ?");
  const step = bare.transaction((after: number) => {
    const got = select.all(after, TX_ROWS) as [number, Buffer][];
    if (got.length === 0) return -1;
    const last = got[got.length - 1]![0];
    del.run(got[0]![0], last);
    return last;
  });
  const b0 = performance.now();
  for (let after = 0; after >= 0;) after = step(after);
  const bareRate = n / ((performance.now() - b0) / 1000);
  bare.close();
  return [
    withPeer(
      `drain of a ${n.toLocaleString("en-US")}-reading backlog (lease ${TX_ROWS} + decode + release, sync full)`,
      rate,
      "readings/s",
      `bare select + delete of the same ${TX_ROWS}-row batches`,
      bareRate,
      ">= 0.6x",
    ),
    {
      name: "  buffer file after the drain and close (space reclaimed)",
      value: fileAfter / 1024,
      unit: "KiB",
    },
  ];
}

interface BacklogResult {
  rss: number[];
  heapUsed: number[];
  warmup: number;
  fileBytes: number;
  readings: number;
  openSeconds: number;
}

/**
 * Builds the backlog in a fresh process (this module run with BACKLOG_CHILD set), so its RSS is the
 * buffer's and not what the other figures of this run left in the heap.
 */
async function backlogChild(dir: string, n: number): Promise<BacklogResult> {
  const b = await openBuffer({ dir, maxBytes: 64 * 1024 ** 3, log: quiet, commitMaxRows: TX_ROWS });
  const rss: number[] = [];
  const heapUsed: number[] = [];
  const warmup = Math.min(500_000, n / 10);
  // The sources hand over readings from a pool, so what the heap does is the buffer's doing.
  const pool = Array.from({ length: 10_000 }, (_, k) => reading(k));
  const fromPool = (k: number) => pool[k % pool.length]!;
  await appendLoad(
    b,
    n,
    BACKLOG_APPENDERS,
    BACKLOG_PER_CALL,
    (done) => {
      const now = process.memoryUsage.rss();
      if (done >= warmup) {
        rss.push(now);
        heapUsed.push(process.memoryUsage().heapUsed);
      }
      if (done % 1_000_000 < 100_000)
        process.stderr.write(
          `  ${done.toLocaleString("en-US")} readings, RSS ${(now / 2 ** 20).toFixed(0)} MiB\n`,
        );
    },
    fromPool,
  );
  const s = await b.stats();
  await b.close();
  const t0 = performance.now();
  const again = await openBuffer({ dir, log: quiet });
  const openSeconds = (performance.now() - t0) / 1000;
  await again.close();
  return { rss, heapUsed, warmup, fileBytes: s.fileBytes, readings: s.readings, openSeconds };
}

const BACKLOG_CHILD = "IGGY_EDGE_BUFFER_BENCH_BACKLOG";
/**
 * Sources while the uplink is down: 100 appenders of 10 readings. (2,000 appenders of 1 reading at
 * full speed keep so many promises in flight that V8's old generation saws by ~50 MiB between
 * major collections, with no upward trend; the figure here is about the backlog, not that.)
 */
const BACKLOG_APPENDERS = 100;
const BACKLOG_PER_CALL = 10;

function runBacklogChild(dir: string, n: number, nodeFlags: string[]): Promise<BacklogResult> {
  return new Promise<BacklogResult>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url)], {
      env: { ...process.env, [BACKLOG_CHILD]: JSON.stringify({ dir, n }) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (d: Buffer) => void (text += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve(JSON.parse(text) as BacklogResult)
        : reject(new Error(`backlog child exited ${code}`)),
    );
  });
}

async function backlogFigures(ctx: BenchContext, n: number): Promise<Figure[]> {
  const mib = (x: number) => x / 2 ** 20;
  const spread = (r: BacklogResult) => mib(Math.max(...r.rss) - Math.min(...r.rss));
  // V8 sizes its young generation up in steps while allocation runs fast (two steps of ~14 MiB
  // here); pinned at its default maximum from the start, what remains is what the backlog does.
  ctx.log(`backlog: ${n} readings onto disk in a fresh process (young generation pinned), RSS every 100,000`);
  const r = await runBacklogChild(join(ctx.tmpDir, "backlog"), n, ["--min-semi-space-size=16"]);
  ctx.log(`backlog: again with V8's default young-generation sizing`);
  const unpinned = await runBacklogChild(join(ctx.tmpDir, "backlog-unpinned"), n, []);
  return [
    {
      name: `RSS spread (max - min) while a ${n.toLocaleString("en-US")}-reading backlog builds (${BACKLOG_APPENDERS} appenders x ${BACKLOG_PER_CALL}), after ${r.warmup.toLocaleString("en-US")}`,
      value: spread(r),
      unit: "MiB",
      target: "<= 30",
    },
    { name: "  RSS when the warm-up ended", value: mib(r.rss[0]!), unit: "MiB" },
    { name: "  RSS at the end", value: mib(r.rss[r.rss.length - 1]!), unit: "MiB" },
    {
      name: "  main-thread V8 heap in use, largest sample",
      value: mib(Math.max(...r.heapUsed)),
      unit: "MiB",
    },
    { name: "  the same with V8's default young-generation sizing", value: spread(unpinned), unit: "MiB" },
    {
      name: `  bytes on disk per reading at ${n.toLocaleString("en-US")} (files)`,
      value: r.fileBytes / r.readings,
      unit: "B",
    },
    { name: "  opening that backlog (quick_check, counting, recovery)", value: r.openSeconds, unit: "s" },
  ];
}

async function writeFigures(ctx: BenchContext, n: number): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const sync of ["full", "normal"] as const) {
    ctx.log(
      `device writes, sync ${sync}: ${n} readings flowing through (${APPENDERS} appenders, a forwarder draining)`,
    );
    const b = await open(ctx, `writes-${sync}`, { sync, commitMaxRows: TX_ROWS });
    const w0 = deviceWrites();
    let appending = true;
    const forwarder = (async () => {
      while (appending || (await b.stats()).readings > 0) {
        const batch = await b.lease({ maxReadings: TX_ROWS });
        if (batch === null) await new Promise((r) => setTimeout(r, 5));
        else await b.release(batch.id);
      }
    })();
    await appendLoad(b, n, APPENDERS, 1);
    appending = false;
    await forwarder;
    await b.close();
    const written = deviceWrites() - w0;
    const rows = storedRows(n);
    const bare = bareDb(join(ctx.tmpDir, `bare-writes-${sync}.db`), sync);
    const bw0 = deviceWrites();
    const insert = bare.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
    const del = bare.prepare("DELETE FROM readings WHERE seq BETWEEN ? AND ?");
    const fill = bare.transaction((a: number, z: number) => {
      for (let k = a; k < z; k++)
        insert.run(k + 1, rows.bytes.subarray(rows.offsets[k]!, rows.offsets[k + 1]!));
    });
    for (let k = 0; k < n; k += TX_ROWS) {
      fill(k, Math.min(k + TX_ROWS, n));
      bare.transaction(() => del.run(k + 1, Math.min(k + TX_ROWS, n)))();
    }
    bare.close();
    const bareWritten = deviceWrites() - bw0;
    figures.push(
      withPeer(
        `bytes written to the device per reading, sync ${sync}, high rate (append + drain)`,
        written / n,
        "B",
        "bare loop: insert then delete each 1000-row batch",
        bareWritten / n,
      ),
    );
  }
  // Polled readings (nobody waits for their commit) at three intervals, and readings devices wait
  // for (MQTT QoS1) at the default ack_commit_gap_ms.
  for (const [sync, intervalMs, awaited] of [
    ["full", 50, false],
    ["normal", 50, false],
    ["full", 5, false],
    ["full", 200, false],
    ["full", 50, true],
  ] as const) {
    const seconds = ctx.quick ? 1 : 5;
    const what = awaited ? "awaited (default ack_commit_gap_ms)" : "polled";
    ctx.log(
      `device writes, sync ${sync}, commit_interval_ms ${intervalMs}: 1,000 ${what} readings/s from 100 devices for ${seconds} s`,
    );
    const b = await open(ctx, `trickle-${sync}-${intervalMs}${awaited ? "-awaited" : ""}`, {
      sync,
      commitIntervalMs: intervalMs,
    });
    // Every series already in the dictionary, as in a gateway that has been running a while.
    await b.append(Array.from({ length: 1500 }, (_, i) => reading(i)));
    const w0 = deviceWrites();
    const s0 = await b.stats();
    let k = 1500;
    const pending: Promise<unknown>[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      // 100 devices, each sending one reading every 100 ms, spread over 10 ms ticks.
      for (let d = 0; d < 10; d++) pending.push(b.append([reading(k++)], { awaited }));
      await new Promise((r) => setTimeout(r, 10));
    }
    await Promise.all(pending);
    const s1 = await b.stats();
    await b.close();
    const written = deviceWrites() - w0;
    figures.push({
      name: awaited
        ? `bytes written per reading, sync ${sync}, 1,000 awaited readings/s (ack_commit_gap_ms default), commit_interval_ms ${intervalMs}`
        : `bytes written per reading, sync ${sync}, 1,000 readings/s trickle, commit_interval_ms ${intervalMs}`,
      value: written / (k - 1500),
      unit: "B",
      ...(awaited || sync !== "full" || intervalMs !== 50 ? {} : { target: "<= 350" }),
    });
    figures.push({
      name: `  its readings per commit`,
      value: (s1.committedReadings - s0.committedReadings) / Math.max(1, s1.commits - s0.commits),
      unit: "readings",
    });
  }
  return figures;
}

async function encodingFigures(ctx: BenchContext, n: number): Promise<Figure[]> {
  ctx.log(`stored size with names in the dictionary vs inline: ${n} readings each`);
  const size = async (name: string, seriesLimit: number) => {
    const b = await open(ctx, name, { seriesLimit, sync: "normal" });
    for (let k = 0; k < n; k += 10_000)
      await b.append(Array.from({ length: Math.min(10_000, n - k) }, (_, i) => reading(k + i)));
    const s = await b.stats();
    await b.close();
    return s.bytes / s.readings;
  };
  const dict = await size("dict", 65536);
  const inline = await size("inline", 0);
  return [
    withPeer(
      "bytes on disk per reading, names in the series dictionary",
      dict,
      "B",
      "names stored in every reading",
      inline,
    ),
  ];
}

const benchmark: Benchmark = {
  description:
    "durable buffer vs a bare better-sqlite3 loop: append, drain, RSS under a large backlog, bytes on disk and written",
  async run(ctx) {
    const q = ctx.quick;
    return [
      ...(await appendFigures(ctx, q ? 100_000 : 2_000_000)),
      ...(await loopDelayFigures(ctx)),
      ...(await drainFigures(ctx, q ? 100_000 : 1_000_000)),
      ...(await backlogFigures(ctx, q ? 500_000 : 10_000_000)),
      ...(await writeFigures(ctx, q ? 50_000 : 500_000)),
      ...(await encodingFigures(ctx, q ? 50_000 : 200_000)),
    ];
  },
};

export default benchmark;

const child = process.env[BACKLOG_CHILD];
if (child !== undefined) {
  const { dir, n } = JSON.parse(child) as { dir: string; n: number };
  process.stdout.write(JSON.stringify(await backlogChild(dir, n)));
}
