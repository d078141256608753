// OPC-UA: 10,000 monitored items sampled every 1 s, and 1,000 every 100 ms, on our simulator in a
// process of its own (protocols/opcua/sim-process.ts), whose values change once a sampling interval
// and which counts the changes it makes and the notifications its server sends. The gateway side,
// in a child process with the node flags of the bin's #! line and the systemd unit's environment
// (deploy/iggy-edge.service): the OPC-UA adapter loaded as the
// gateway loads it (the registry), the real buffer (the config's defaults) and the forwarder into
// dev-iggy. Beside it, in the same run and against the same simulator, a bare node-opcua client in
// a child process of its own subscribing to the same items in the same batches. For each: the time
// the monitored items took to create (and from connect), notifications received per second against
// the changes made (and the simulator's CPU meanwhile), changes not received (split into those the
// server's sampling skipped and notifications lost on the way), CPU (% of one core: the child's own
// process.cpuUsage, all its threads, over the measured window) and RSS (the largest sample of that
// window, and before connecting); for the gateway also the readings Iggy confirmed. The simulator
// is paused while items are created, so that every change it counts happens on items that exist.
// Each side runs three times, alternating with the other: CPU, rates, times and largest RSS are the
// medians of the runs, counts the sums of all runs. Bounded in count (the scenarios' items) and time
// (each phase has a deadline). At the largest RSS
// sample the log also breaks the child's memory down (its main thread's heap and external memory,
// the rest: code, the buffer's worker, native). For a breakdown by ablation, environment variables:
// OPCUA_BENCH_ITEMS=N runs only the scenario of N items, OPCUA_BENCH_SIDES=gateway skips the bare
// client, OPCUA_BENCH_STAGE=adapter (emit goes nowhere) or buffer (no forwarder) stops the gateway
// side's path early, OPCUA_BENCH_FLAGS="--trace-gc ..." adds node flags to both children (and lets
// their stdout through), OPCUA_BENCH_RUNS=N runs each side N times.
import { fork, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { OpcuaDeviceConfig } from "../../protocols/opcua/schema.js";
import { binNodeFlags, unitEnvironment } from "./footprint.js";
import {
  medianOf,
  startDevIggy,
  withPeer,
  type Benchmark,
  type BenchContext,
  type Figure,
} from "../bench-kit.js";

const CHILD_FLAG = "--opcua-bench-child";
const SIM_PROCESS = resolve(import.meta.dirname, "../../protocols/opcua/sim-process.js");
const MiB = 1024 * 1024;

type Kind = "gateway" | "bare";

interface Scenario {
  items: number;
  samplingMs: number;
}

/** What a child is given (as a JSON file). */
interface ChildSpec {
  endpoint: string;
  items: number;
  samplingMs: number;
  dataDir: string;
  iggyPort: number;
  /** One per run (and its stream): a run's fresh buffer starts its sequence at 0 again, in a dev-iggy the runs share. */
  gatewayId: string;
}

interface ChildStats {
  /** Notifications (values) received since the subscription was created, initial values included. */
  received: number;
  /** Gateway: readings the buffer committed; bare: as received. */
  committed: number;
  /** Gateway: readings Iggy confirmed; bare: 0. */
  confirmed: number;
  monitoredItems: number;
  /** CPU time of the whole process (all its threads), µs. */
  cpuUs: number;
  /** Of which in the kernel (system calls: the socket, fsync), µs. */
  cpuSystemUs: number;
  rss: number;
  /** process.memoryUsage() of the child's main thread. */
  mem: NodeJS.MemoryUsage;
}

// ---- the children -------------------------------------------------------------------------------

function pointNode(i: number): string {
  return `ns=1;s=v${i}`;
}

/** The device map both sides read: `items` Double points sampled every `samplingMs`. */
function deviceMap(endpoint: string, items: number, samplingMs: number): Record<string, unknown> {
  return {
    id: "plc",
    protocol: "opcua",
    connection: { endpoint },
    points: Array.from({ length: items }, (_, i) => ({
      name: `v${i}`,
      node: pointNode(i),
      type: "Double",
      sampling_ms: samplingMs,
    })),
  };
}

/** Milliseconds from connect to the last monitored item created, and of the creation calls alone. */
interface Created {
  connectToLastMs: number;
  createMs: number;
}

interface ChildSide {
  /** Connects, subscribes and creates every monitored item. */
  subscribe(): Promise<Created>;
  stats(): ChildStats;
  /** Closes the subscription and the session (so the server's counts are of the next side alone). */
  stop(): Promise<void>;
}

async function gatewaySide(spec: ChildSpec): Promise<ChildSide> {
  const pino = (await import("pino")).default;
  const { openBuffer } = await import("../../buffer/index.js");
  const [{ configSchema }, { loadProtocol, protocolContext }] = await Promise.all([
    import("../../protocols/config-schema.js"),
    import("../../protocols/registry.js"),
  ]);
  const { bufferOptions, forwarderOptions, iggyClient } = await import("../../gateway/runtime.js");
  const { Forwarder } = await import("../../gateway/forwarder.js");
  const log = pino({ level: "warn" }, pino.destination(2));
  const config = configSchema.parse({
    gateway: { id: spec.gatewayId, data_dir: spec.dataDir },
    // A stream of its own too: the tail check of a gateway new to a partition reads it back whole.
    iggy: {
      address: `127.0.0.1:${spec.iggyPort}`,
      username: "iggy",
      password: "iggy",
      stream: spec.gatewayId,
    },
    devices: [deviceMap(spec.endpoint, spec.items, spec.samplingMs)],
  });
  const buffer = await openBuffer({ ...bufferOptions(config), log: log.child({ component: "buffer" }) });
  let confirmed = 0;
  const forwarder = new Forwarder(buffer, iggyClient(config, log.child({ component: "iggy" })), {
    ...forwarderOptions(config, log),
    onConfirmed: (b) => void (confirmed += b.count),
  });
  if (process.env.OPCUA_BENCH_STAGE !== "buffer" && process.env.OPCUA_BENCH_STAGE !== "adapter")
    forwarder.start();
  // As the gateway's runtime does: the protocol's module imported from the registry, an adapter per
  // protocol made by it, readings appended to the buffer and the forwarder told.
  const mod = await loadProtocol("opcua");
  const devices = config.devices.flatMap((d) => (d.protocol === "opcua" ? [d] : []));
  const adapter = mod.createAdapter(devices, protocolContext(config, "opcua"), {
    log: log.child({ protocol: "opcua" }),
    reject: () => {},
    ackDelay: () => {},
    readMarks: (prefix) => buffer.readMarks(prefix),
  });
  let committed = 0;
  const deviceStats = () =>
    (
      adapter as unknown as {
        stats(): Record<string, { readings: number; monitoredItems: number; createCalls: number }>;
      }
    ).stats().plc!;
  return {
    async subscribe() {
      const t0 = performance.now();
      const stage = process.env.OPCUA_BENCH_STAGE;
      // The readings are not kept until the commit: only their count.
      await adapter.start((readings, options) => {
        const n = readings.length;
        if (stage === "adapter") {
          committed += n;
          return Promise.resolve();
        }
        return buffer.append(readings, { awaited: options?.awaited === true }).then(() => {
          committed += n;
          forwarder.notify(n);
        });
      });
      // The adapter counts its CreateMonitoredItems calls as it makes them and the items once created.
      const deadline = Date.now() + 300_000;
      const poll = async (what: string, cond: () => boolean) => {
        while (!cond()) {
          if (Date.now() > deadline) {
            throw new Error(`gateway: no ${what} in 300 s (${deviceStats().monitoredItems} items)`);
          }
          await new Promise((r) => setTimeout(r, 1));
        }
        return performance.now();
      };
      const first = await poll("create call", () => deviceStats().createCalls > 0);
      const last = await poll("last item", () => deviceStats().monitoredItems >= spec.items);
      return { connectToLastMs: last - t0, createMs: last - first };
    },
    async stop() {
      await adapter.stop();
      await forwarder.stop();
      await buffer.close();
    },
    stats: () => {
      const s = deviceStats();
      const cpu = process.cpuUsage();
      return {
        received: s.readings,
        committed,
        confirmed,
        monitoredItems: s.monitoredItems,
        cpuUs: cpu.user + cpu.system,
        cpuSystemUs: cpu.system,
        rss: process.memoryUsage().rss,
        mem: process.memoryUsage(),
      };
    },
  };
}

async function bareSide(spec: ChildSpec): Promise<ChildSide> {
  const { AttributeIds, OPCUAClient, TimestampsToReturn, readOperationLimits } =
    await import("node-opcua-client");
  type ClientSession = import("node-opcua-client").ClientSession;
  let received = 0;
  let monitoredItems = 0;
  const client = OPCUAClient.create({ endpointMustExist: false, connectionStrategy: { maxRetry: 1 } });
  let session: ClientSession | undefined;
  return {
    async subscribe() {
      const t0 = performance.now();
      await client.connect(spec.endpoint);
      const opened = await client.createSession();
      session = opened;
      // The same batches the adapter makes: the server's stated limit, else the config's default.
      const limit = (await readOperationLimits(opened)).maxMonitoredItemsPerCall ?? 0;
      const size = limit > 0 ? Math.min(limit, 10_000) : 500;
      const sub = await opened.createSubscription2({
        requestedPublishingInterval: Math.min(spec.samplingMs, 1000),
        requestedLifetimeCount: 600,
        requestedMaxKeepAliveCount: 20,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      });
      const first = performance.now();
      for (let i = 0; i < spec.items; i += size) {
        const n = Math.min(size, spec.items - i);
        const group = await sub.monitorItems(
          Array.from({ length: n }, (_, k) => ({
            nodeId: pointNode(i + k),
            attributeId: AttributeIds.Value,
          })),
          { samplingInterval: spec.samplingMs, queueSize: 10, discardOldest: true },
          TimestampsToReturn.Both,
        );
        group.on("changed", () => void received++);
        monitoredItems += group.monitoredItems.filter((m) => m.statusCode.isGood()).length;
      }
      const last = performance.now();
      return { connectToLastMs: last - t0, createMs: last - first };
    },
    async stop() {
      await session?.close(true);
      await client.disconnect();
    },
    stats: () => {
      const cpu = process.cpuUsage();
      return {
        received,
        committed: received,
        confirmed: 0,
        monitoredItems,
        cpuUs: cpu.user + cpu.system,
        cpuSystemUs: cpu.system,
        rss: process.memoryUsage().rss,
        mem: process.memoryUsage(),
      };
    },
  };
}

async function child(kind: Kind, specFile: string): Promise<void> {
  const { readFileSync } = await import("node:fs");
  const spec = JSON.parse(readFileSync(specFile, "utf8")) as ChildSpec;
  const side = kind === "gateway" ? await gatewaySide(spec) : await bareSide(spec);
  process.on("message", (m: { cmd: string }) => {
    if (m.cmd === "subscribe") {
      side.subscribe().then(
        (created) => process.send!({ created, stats: side.stats() }),
        (e: Error) => process.send!({ error: e.message }),
      );
    }
    if (m.cmd === "stats") process.send!({ stats: side.stats() });
    if (m.cmd === "stop") {
      side.stop().then(
        () => process.send!({ stopped: true }),
        (e: Error) => process.send!({ error: e.message }),
      );
    }
  });
  process.on("disconnect", () => process.exit(0));
  process.send!({ ready: true });
}

if (process.argv[2] === CHILD_FLAG) await child(process.argv[3] as Kind, process.argv[4]!);

// ---- the parent ---------------------------------------------------------------------------------

/** The next message from `proc` that has `key`; fails after `ms` or when the process exits. */
function next<T>(proc: ChildProcess, key: string, what: string, ms: number): Promise<T> {
  return new Promise((res, rej) => {
    const done = () => {
      clearTimeout(timer);
      proc.off("message", onMessage);
      proc.off("exit", onExit);
    };
    const timer = setTimeout(() => {
      done();
      rej(new Error(`${what}: nothing in ${ms / 1000} s`));
    }, ms);
    const onMessage = (m: Record<string, unknown>) => {
      if (typeof m.error === "string") {
        done();
        rej(new Error(`${what}: ${m.error}`));
      } else if (key in m) {
        done();
        res(m as T);
      }
    };
    const onExit = (code: number | null) => {
      done();
      rej(new Error(`${what}: the process exited (${code})`));
    };
    proc.on("message", onMessage);
    proc.once("exit", onExit);
  });
}

async function stats(proc: ChildProcess): Promise<ChildStats> {
  const p = next<{ stats: ChildStats }>(proc, "stats", "stats", 30_000);
  proc.send({ cmd: "stats" });
  return (await p).stats;
}

async function simCommand(sim: ChildProcess, cmd: "pause" | "resume"): Promise<number> {
  const p = next<{ changes: number }>(
    sim,
    cmd === "pause" ? "paused" : "resumed",
    `simulator ${cmd}`,
    30_000,
  );
  sim.send({ cmd });
  return (await p).changes;
}

async function until(ms: number, cond: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}

async function startSimulator(
  ctx: BenchContext,
  s: Scenario,
): Promise<{ sim: ChildProcess; endpoint: string }> {
  const { opcuaDevice } = await import("../../protocols/opcua/schema.js");
  const device = opcuaDevice.parse(
    deviceMap("opc.tcp://127.0.0.1:0", s.items, s.samplingMs),
  ) as OpcuaDeviceConfig;
  const file = join(ctx.tmpDir, `sim-${s.items}.json`);
  writeFileSync(file, JSON.stringify([device]));
  const sim = fork(SIM_PROCESS, [file], {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
    env: { ...process.env, SIM_ANIMATE_MS: String(s.samplingMs), SIM_START_PAUSED: "1" },
  });
  try {
    const ready = await next<{ endpoints: Record<string, string> }>(sim, "ready", "simulator start", 120_000);
    return { sim, endpoint: ready.endpoints.plc! };
  } catch (e) {
    sim.kill("SIGKILL");
    throw e;
  }
}

interface SimCounts {
  changes: number;
  cpu: NodeJS.CpuUsage;
  /** Data change notifications the server sent (the subscriptions open now, initial values included). */
  sent: number;
  sessions: Record<string, number>;
}

function cpuUs(u: NodeJS.CpuUsage): number {
  return u.user + u.system;
}

async function simCounts(sim: ChildProcess): Promise<SimCounts> {
  const p = next<SimCounts>(sim, "sent", "simulator counts", 30_000);
  sim.send({ cmd: "counts" });
  return p;
}

interface SideRun extends Created {
  /** Notifications received per second of the measured window. */
  rate: number;
  /** Changes the simulator made per second of the measured window. */
  changesRate: number;
  /** Changes made from resume to pause, and those received (notifications after the initial values). */
  changes: number;
  changesReceived: number;
  /** Change notifications the server sent (after the initial values). */
  changesSent: number;
  /** Notifications the server sent that did not arrive. */
  lost: number;
  /** The simulator's CPU over the measured window, % of one core. */
  simCpuPct: number;
  /** RSS with everything loaded, before connecting. */
  rssIdle: number;
  committed: number;
  confirmed: number;
  cpuPct: number;
  /** Of cpuPct, in the kernel. */
  cpuSystemPct: number;
  rssMax: number;
}

async function runSide(
  ctx: BenchContext,
  kind: Kind,
  s: Scenario,
  sim: ChildProcess,
  spec: ChildSpec,
  steadyS: number,
): Promise<SideRun> {
  // The server's notification count is of the subscriptions open now: the other side's must be gone.
  let sc = await simCounts(sim);
  if (!(await until(30_000, async () => (sc = await simCounts(sim)).sessions.plc === 0))) {
    throw new Error(`${kind}: the simulator still has ${sc.sessions.plc} sessions of the side before`);
  }
  const specFile = join(ctx.tmpDir, `${kind}-${s.items}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const proc = fork(new URL(import.meta.url).pathname, [CHILD_FLAG, kind, specFile], {
    stdio: ["ignore", process.env.OPCUA_BENCH_FLAGS ? "inherit" : "ignore", "inherit", "ipc"],
    // The gateway with the node flags of the bin's #! line and the environment of the systemd unit,
    // as `iggy-edge run` starts as a service; the bare client as plain `node` starts it.
    env: kind === "gateway" ? { ...process.env, ...unitEnvironment() } : process.env,
    execArgv: [
      ...(kind === "gateway" ? binNodeFlags() : []),
      ...(process.env.OPCUA_BENCH_FLAGS ?? "").split(" ").filter(Boolean),
    ],
  });
  try {
    await next(proc, "ready", `${kind} start`, 120_000);
    const rssIdle = (await stats(proc)).rss;
    const creating = next<{ created: Created }>(proc, "created", `${kind} subscribe`, 300_000);
    proc.send({ cmd: "subscribe" });
    const created = (await creating).created;
    let st = await stats(proc);
    if (st.monitoredItems !== s.items) {
      throw new Error(`${kind}: ${st.monitoredItems} of ${s.items} items created`);
    }
    // The initial value of every item first (the simulator is paused), so that what follows is changes.
    if (!(await until(60_000, async () => (st = await stats(proc)).received >= s.items))) {
      throw new Error(`${kind}: ${st.received} of ${s.items} initial values in 60 s`);
    }
    const initial = st.received;
    ctx.log(
      `${kind}: ${s.items} items created in ${created.createMs.toFixed(0)} ms ` +
        `(${created.connectToLastMs.toFixed(0)} ms from connect); ${initial} initial values`,
    );
    const c0 = await simCommand(sim, "resume");
    // A warm-up (values on their way: a sampling and a publishing interval), then the measured window.
    await new Promise((r) => setTimeout(r, 2 * s.samplingMs + 1000));
    const before = await stats(proc);
    const w0 = await simCounts(sim);
    const t0 = performance.now();
    let rssMax = before.rss;
    let memAtMax = before.mem;
    const end = t0 + steadyS * 1000;
    while (performance.now() < end) {
      await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, end - performance.now()))));
      const sample = await stats(proc);
      if (sample.rss > rssMax) {
        rssMax = sample.rss;
        memAtMax = sample.mem;
      }
    }
    const after = await stats(proc);
    const w1 = await simCounts(sim);
    const wallS = (performance.now() - t0) / 1000;
    const changes = (await simCommand(sim, "pause")) - c0;
    // The last changes are still on their way (a sampling interval, a publishing interval, and on a
    // loaded machine a backlog): wait for all of them, or, once the server had time to sample the
    // last, for every notification it sent.
    const paused = performance.now();
    await until(60_000, async () => {
      st = await stats(proc);
      sc = await simCounts(sim);
      if (st.received - initial >= changes) return true;
      return performance.now() - paused > 3 * s.samplingMs + 2000 && st.received >= sc.sent;
    });
    if (kind === "gateway" && process.env.OPCUA_BENCH_STAGE === undefined) {
      await until(60_000, async () => {
        st = await stats(proc);
        return st.confirmed >= st.committed;
      });
    }
    sc = await simCounts(sim);
    const run: SideRun = {
      ...created,
      rate: (after.received - before.received) / wallS,
      changesRate: (w1.changes - w0.changes) / wallS,
      changes,
      changesReceived: st.received - initial,
      changesSent: sc.sent - initial,
      lost: sc.sent - st.received,
      simCpuPct: (cpuUs(w1.cpu) - cpuUs(w0.cpu)) / 1e4 / wallS,
      rssIdle,
      committed: st.committed,
      confirmed: st.confirmed,
      cpuPct: ((after.cpuUs - before.cpuUs) / 1e6 / wallS) * 100,
      cpuSystemPct: ((after.cpuSystemUs - before.cpuSystemUs) / 1e6 / wallS) * 100,
      rssMax,
    };
    ctx.log(
      `${kind}: ${run.rate.toFixed(0)} notifications/s, ${run.changesRate.toFixed(0)} changes/s made; ` +
        `of ${changes} changes ${run.changesSent} sent by the server, ${run.changesReceived} received; ` +
        `CPU ${run.cpuPct.toFixed(1)} % (${run.cpuSystemPct.toFixed(1)} in the kernel; simulator ${run.simCpuPct.toFixed(1)} %), ` +
        `RSS ${(rssIdle / MiB).toFixed(0)} MiB before connecting, max ${(rssMax / MiB).toFixed(0)} MiB` +
        (kind === "gateway"
          ? `; ${run.confirmed} of ${run.committed} committed readings confirmed by Iggy`
          : ""),
    );
    ctx.log(`${kind}: at the largest RSS sample, the main thread's ${memText(memAtMax)}`);
    const stopping = next(proc, "stopped", `${kind} stop`, 30_000);
    proc.send({ cmd: "stop" });
    await stopping;
    await exited(proc, 10_000);
    return run;
  } finally {
    proc.kill("SIGKILL");
  }
}

/** Lets the child exit by itself (so that a --cpu-prof in OPCUA_BENCH_FLAGS is written); at most `ms`. */
async function exited(proc: ChildProcess, ms: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exit = new Promise<void>((res) => proc.once("exit", () => res()));
  proc.disconnect();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([exit, new Promise<void>((res) => (timer = setTimeout(res, ms)))]);
  clearTimeout(timer);
}

function memText(m: NodeJS.MemoryUsage): string {
  const f = (n: number) => (n / MiB).toFixed(1);
  return (
    `heap ${f(m.heapUsed)} used of ${f(m.heapTotal)} MiB, external ${f(m.external)} MiB ` +
    `(array buffers ${f(m.arrayBuffers)}); the rest of RSS (code, other threads, native) ${f(m.rss - m.heapTotal - m.external)} MiB`
  );
}

/**
 * Several runs of one side as one: rates, times, CPU and each run's largest RSS their median (the
 * machine's pace varies between runs, CPU most), counts of changes and readings their sums (every
 * run must receive every change).
 */
function combineRuns(runs: SideRun[]): SideRun {
  const median = (f: (r: SideRun) => number) => medianOf(runs.map(f));
  const sum = (f: (r: SideRun) => number) => runs.reduce((a, r) => a + f(r), 0);
  return {
    connectToLastMs: median((r) => r.connectToLastMs),
    createMs: median((r) => r.createMs),
    rate: median((r) => r.rate),
    changesRate: median((r) => r.changesRate),
    changes: sum((r) => r.changes),
    changesReceived: sum((r) => r.changesReceived),
    changesSent: sum((r) => r.changesSent),
    lost: sum((r) => r.lost),
    simCpuPct: median((r) => r.simCpuPct),
    rssIdle: median((r) => r.rssIdle),
    committed: sum((r) => r.committed),
    confirmed: sum((r) => r.confirmed),
    cpuPct: median((r) => r.cpuPct),
    cpuSystemPct: median((r) => r.cpuSystemPct),
    rssMax: median((r) => r.rssMax),
  };
}

function scenarioFigures(s: Scenario, gw: SideRun, bare: SideRun): Figure[] {
  const every = s.samplingMs >= 1000 ? `${s.samplingMs / 1000} s` : `${s.samplingMs} ms`;
  const at = `${s.items.toLocaleString("en-US")} items @ ${every}`;
  const peer = "bare node-opcua client";
  return [
    withPeer(
      `${at}: monitored items created (first create call to last)`,
      gw.createMs,
      "ms",
      peer,
      bare.createMs,
      "< 5000",
    ),
    // Also the connection, the session and the subscription; the gateway's first start also makes
    // its application certificate (an RSA key) under the data directory.
    withPeer(`${at}:   from connect to the last item`, gw.connectToLastMs, "ms", peer, bare.connectToLastMs),
    withPeer(`${at}: notifications received`, gw.rate, "/s", peer, bare.rate),
    withPeer(`${at}:   changes the simulator made meanwhile`, gw.changesRate, "/s", peer, bare.changesRate),
    // Below the items per sampling interval: the simulator did not get the CPU to keep its pace.
    withPeer(`${at}:   simulator CPU meanwhile`, gw.simCpuPct, "% of one core", peer, bare.simCpuPct),
    withPeer(
      `${at}:   changes not received (of all made while subscribed)`,
      gw.changes - gw.changesReceived,
      "changes",
      peer,
      bare.changes - bare.changesReceived,
      "0",
    ),
    // A change the server's sampling never saw (two changes inside one sampling interval, when the
    // simulator's timer and the server's sampling timer drift across each other) is not the client's.
    withPeer(
      `${at}:     of which the server's sampling skipped`,
      gw.changes - gw.changesSent,
      "changes",
      peer,
      bare.changes - bare.changesSent,
    ),
    withPeer(
      `${at}:     notifications the server sent that did not arrive`,
      gw.lost,
      "notifications",
      peer,
      bare.lost,
      "0",
    ),
    {
      name: `${at}:   readings committed but not confirmed by Iggy`,
      value: gw.committed - gw.confirmed,
      unit: "readings",
      target: "0",
    },
    { name: `${at}:   readings confirmed by Iggy`, value: gw.confirmed, unit: "readings" },
    withPeer(`${at}: CPU, steady phase`, gw.cpuPct, "% of one core", peer, bare.cpuPct, "< 25"),
    withPeer(
      `${at}: RSS, largest sample of the steady phase`,
      gw.rssMax / MiB,
      "MiB",
      peer,
      bare.rssMax / MiB,
      "< 164 (172 MB)",
    ),
    withPeer(`${at}:   RSS before connecting`, gw.rssIdle / MiB, "MiB", peer, bare.rssIdle / MiB),
  ];
}

const bench: Benchmark = {
  description:
    "OPC-UA: 10,000 items @ 1 s and 1,000 @ 100 ms on the simulator, the gateway (adapter, buffer, forwarder to dev-iggy) beside a bare node-opcua client: create time, notifications vs changes, CPU, RSS",
  async run(ctx) {
    const scenarios: Scenario[] = ctx.quick
      ? [
          { items: 500, samplingMs: 1000 },
          { items: 100, samplingMs: 100 },
        ]
      : [
          { items: 10_000, samplingMs: 1000 },
          { items: 1_000, samplingMs: 100 },
        ];
    const only = Number(process.env.OPCUA_BENCH_ITEMS ?? 0);
    if (only > 0) scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => s.items === only));
    const steadyS = ctx.quick ? 3 : 20;
    // Each side runs this many times, alternating with the other (OPCUA_BENCH_RUNS=N to change it).
    const runs = ctx.quick ? 1 : Number(process.env.OPCUA_BENCH_RUNS ?? 3);
    const figures: Figure[] = [];
    const iggy = await startDevIggy();
    try {
      for (const s of scenarios) {
        ctx.log(
          `${s.items} Double variables changing every ${s.samplingMs} ms, sampled as often; ${steadyS} s steady phase`,
        );
        const { sim, endpoint } = await startSimulator(ctx, s);
        try {
          const spec = (kind: Kind, run: number): ChildSpec => ({
            endpoint,
            items: s.items,
            samplingMs: s.samplingMs,
            dataDir: join(ctx.tmpDir, `${kind}-${s.items}-${run}`),
            iggyPort: iggy.port,
            gatewayId: `bench-opcua-${s.items}-${run}`,
          });
          const gw: SideRun[] = [];
          const bare: SideRun[] = [];
          const gatewayOnly = process.env.OPCUA_BENCH_SIDES === "gateway";
          for (let run = 0; run < runs; run++) {
            gw.push(await runSide(ctx, "gateway", s, sim, spec("gateway", run), steadyS));
            if (!gatewayOnly) bare.push(await runSide(ctx, "bare", s, sim, spec("bare", run), steadyS));
          }
          if (runs > 1) {
            const cpu = (rs: SideRun[]) => rs.map((r) => r.cpuPct.toFixed(1)).join(", ") || "-";
            const rss = (rs: SideRun[]) => rs.map((r) => (r.rssMax / MiB).toFixed(0)).join(", ") || "-";
            ctx.log(`  the ${runs} runs: CPU gateway ${cpu(gw)} %, bare ${cpu(bare)} %`);
            ctx.log(`  largest RSS gateway ${rss(gw)} MiB, bare ${rss(bare)} MiB`);
          }
          if (gatewayOnly) continue;
          figures.push(...scenarioFigures(s, combineRuns(gw), combineRuns(bare)));
        } finally {
          sim.kill("SIGKILL");
        }
      }
    } finally {
      iggy.child.kill("SIGKILL");
    }
    return figures;
  },
};

export default bench;
