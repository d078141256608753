// The disk under the gateway's data directory: full (a small tmpfs filled by another file while MQTT
// QoS1 publishers run and Iggy is away), read-only (at start and while running), and the buffer's
// database corrupted at random offsets while the gateway is stopped. Checked: no crash, /healthz
// answers throughout, /readyz says not ready while the disk refuses, nothing acknowledged that did
// not reach Iggy, recovery once the disk is usable again, and damage reported, never silent. An
// acknowledged reading lost at the instant ext4 fails is counted apart (ro_lost_at_error): there
// the kernel can report a write durable and lose it. A doubled reading is a finding wherever it is.
import { spawnSync } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  rmSync,
  statSync,
  statfsSync,
  writeSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { startIggyServer, type RealIggyServer } from "../../test/helpers/iggy-server.js";
import { hasPythonModule, requirePeer } from "../../test/helpers/peers.js";
import { freePort } from "../bench-kit.js";
import { GatewayProcess } from "./gateway-process.js";
import { readIggyWithPythonSdk, type StoredReading } from "./iggy-reader.js";
import { DrillContext, Rng, until, type Drill, type DrillOptions, type DrillResult } from "./kit.js";
import { AckLedger, judgeCounters } from "./loads/load.js";
import { RefusedPublisher } from "./refused-publisher.js";

const USER = { username: "disk-drill", password: "disk-drill-pw" };
const TOPIC = "telemetry";
/** Publishes each publisher has in flight. */
const WINDOW = 16;

interface Part {
  figures: Record<string, number>;
  findings: string[];
  details: Record<string, unknown>;
}

function sh(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  return r.status === 0 ? null : `${cmd} ${args.join(" ")}: ${(r.stderr || r.error?.message || "").trim()}`;
}

/** Mounts a tmpfs of `size` at `<tmpDir>/<name>` (unmounted at the end of the drill) and returns its path. */
function mountTmpfs(options: DrillOptions, ctx: DrillContext, name: string, size: string): string {
  const dir = join(options.tmpDir, name);
  mkdirSync(dir, { recursive: true });
  const err = sh("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (err !== null) throw new Error(`cannot mount the tmpfs: ${err}`);
  ctx.after(() => sh("umount", ["-l", dir]));
  return dir;
}

function canMount(dir: string): boolean {
  if (process.getuid?.() !== 0) return false;
  mkdirSync(dir, { recursive: true });
  if (sh("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]) !== null) return false;
  sh("umount", [dir]);
  return true;
}

function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes `file` until the file system has at most `leave` bytes free (or is full). */
function fillUntil(file: string, dir: string, leave: number): number {
  const fd = openSync(file, "a");
  let written = 0;
  try {
    const chunk = Buffer.alloc(64 * 1024, 0x5a);
    for (;;) {
      const free = freeBytes(dir);
      if (free <= leave) break;
      const n = Math.min(chunk.length, free - leave);
      try {
        written += writeSync(fd, chunk, 0, Math.max(4096, n));
      } catch {
        break; // ENOSPC: full
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function config(o: {
  id: string;
  dataDir: string;
  iggy: string;
  httpPort: number;
  mqttPort: number;
}): string {
  return [
    `gateway: { id: ${o.id}, data_dir: ${JSON.stringify(o.dataDir)} }`,
    `iggy: { address: ${o.iggy}, username: iggy, password: "\${env:IGGY_PASSWORD}", stream: ${o.id},` +
      ` topics: { telemetry: ${TOPIC} }, codec: msgpack, batch: { max_readings: 500, linger_ms: 5 } }`,
    "buffer: { on_full: reject_new, sync: full }",
    `http: { listen: 127.0.0.1:${o.httpPort} }`,
    "mqtt:",
    "  broker:",
    `    listen: 127.0.0.1:${o.mqttPort}`,
    "    mqtt5: true",
    `    users: [ { username: ${USER.username}, password: ${USER.password}, publish: ["disk/#"] } ]`,
    "devices:",
    "  - id: disk-publishers",
    "    protocol: mqtt",
    '    points: [ { name: seq, topic: "disk/+device/seq", decode: number } ]',
    "",
  ].join("\n");
}

interface Setup {
  gw: GatewayProcess;
  mqttUrl: string;
  stream: string;
}

async function gateway(
  options: DrillOptions,
  ctx: DrillContext,
  iggy: RealIggyServer,
  id: string,
  dataDir: string,
): Promise<Setup> {
  const [httpPort, mqttPort] = [await freePort(), await freePort()];
  const file = join(options.tmpDir, `${id}.yaml`);
  writeFileSync(file, config({ id, dataDir, iggy: iggy.address, httpPort, mqttPort }));
  const gw = new GatewayProcess(file, httpPort, { IGGY_PASSWORD: iggy.credentials.password });
  ctx.after(() => gw.kill9());
  return { gw, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, stream: id };
}

/** Waits until `cond` holds; fails at once when the gateway exited meanwhile. */
async function whileUp(
  gw: GatewayProcess,
  what: string,
  cond: () => boolean | Promise<boolean>,
): Promise<void> {
  await until(what, () => {
    if (!gw.running) throw new Error(`the gateway exited: ${gw.tail(10)}`);
    return cond();
  });
}

/** A publisher of `device` (topic disk/<device>/seq) publishing to the gateway, stopped at the end. */
function publishing(
  setup: Setup,
  ctx: DrillContext,
  device: string,
  cap: number,
  ledger = new AckLedger(),
): { pub: RefusedPublisher; ledger: AckLedger } {
  const pub = new RefusedPublisher(device, `disk/${device}/seq`, ledger, WINDOW, cap, USER);
  ctx.after(() => pub.stop());
  pub.start(setup.mqttUrl);
  return { pub, ledger };
}

async function readyz(gw: GatewayProcess): Promise<{ status: number; body: string }> {
  return gw.get("/readyz").catch((e: Error) => ({ status: 0, body: e.message }));
}

/** Waits for /readyz to answer 503 naming the buffer's refusal (its figures are a second old at most). */
async function notReadyFor(gw: GatewayProcess, what: RegExp): Promise<{ status: number; body: string }> {
  let last = { status: 0, body: "" };
  await until(
    `/readyz to answer 503 matching ${what}`,
    async () => {
      if (!gw.running) throw new Error(`the gateway exited: ${gw.tail(10)}`);
      last = await readyz(gw);
      return last.status === 503 && what.test(last.body);
    },
    60_000,
  ).catch(() => undefined);
  return last;
}

async function healthy(gw: GatewayProcess): Promise<boolean> {
  return (await gw.get("/healthz").catch(() => ({ status: 0 }))).status === 200;
}

function crashFindings(gw: GatewayProcess, part: string): string[] {
  return gw.crashes.map((c) => `${part}: the gateway exited on its own: ${c}`);
}

/**
 * Readings of the moment the file system failed: `atError` returns true for them. A commit whose
 * fdatasync was under way when ext4 aborted its journal can be reported durable and still be gone
 * after e2fsck (the kernel's answer, not the gateway's: scripts/drill/ext4-fsync-race.py shows it
 * with bare writes), so an append acknowledged at that moment may not survive: such a loss is
 * counted apart. A lease recorded at that moment may not survive either, but the forwarder finds
 * that batch in Iggy: a reading doubled there is a finding like any other.
 */
interface AtError {
  atError: (device: string, value: number) => boolean;
}

/** Every acknowledged reading in Iggy once, read back with Iggy's Python SDK. */
async function judgeInIggy(
  iggy: RealIggyServer,
  stream: string,
  part: string,
  ledger: AckLedger,
  out: Part,
  excused?: AtError,
): Promise<void> {
  const all = await readIggyWithPythonSdk({
    address: iggy.address,
    ...iggy.credentials,
    stream,
    topic: TOPIC,
    partition: 0,
  });
  const atError = (r: StoredReading): boolean =>
    excused !== undefined && typeof r.value === "number" && excused.atError(r.device, r.value);
  const stored = all.filter((r) => !atError(r));
  const judged = excused === undefined ? ledger : new AckLedger();
  let doubledAtError = 0;
  const doubledValues: string[] = [];
  if (excused !== undefined) {
    const copies = new Map<string, number>();
    for (const r of all) {
      const key = `${r.device}/${String(r.value)}`;
      if (atError(r)) copies.set(key, (copies.get(key) ?? 0) + 1);
    }
    let lost = 0;
    const lostValues: string[] = [];
    for (const device of ledger.devices())
      for (const value of ledger.values(device)) {
        if (!excused.atError(device, value)) judged.add(device, value);
        else if (!copies.has(`${device}/${value}`)) {
          lost++;
          lostValues.push(`${device}/${value}`);
        }
      }
    for (const [key, n] of copies)
      if (n > 1) {
        doubledAtError += n - 1;
        doubledValues.push(key);
      }
    out.figures[`${part}_lost_at_error`] = lost;
    out.details[`${part}_at_error`] = { lost: lostValues, doubled: doubledValues };
  }
  const v = judgeCounters(part, stored, () => true, judged, false);
  out.figures[`${part}_acknowledged`] = ledger.total;
  out.figures[`${part}_lost`] = v.lost;
  out.figures[`${part}_doubled`] = v.doubled + doubledAtError;
  if (v.lost)
    out.findings.push(`${part}: ${v.lost} acknowledged readings not in Iggy (${v.notes.join("; ")})`);
  if (v.doubled) out.findings.push(`${part}: ${v.doubled} readings doubled in Iggy`);
  if (doubledAtError)
    out.findings.push(
      `${part}: ${doubledAtError} readings doubled in Iggy at the moment the disk failed (${doubledValues.join(", ")})`,
    );
  if (v.outOfOrder) out.findings.push(`${part}: ${v.outOfOrder} readings out of order in Iggy`);
}

async function drained(gw: GatewayProcess): Promise<boolean> {
  return (await gw.metric("iggy_edge_buffer_readings")) === 0;
}

/** (a) The disk fills up while publishers run and Iggy is away; then Iggy drains and space is freed. */
async function fullDisk(
  options: DrillOptions,
  ctx: DrillContext,
  iggy: RealIggyServer,
  out: Part,
): Promise<void> {
  const { log } = options;
  const mnt = mountTmpfs(options, ctx, "full", "8m");
  const setup = await gateway(options, ctx, iggy, "disk-full", join(mnt, "data"));
  const { gw, stream } = setup;
  await gw.start();
  const ledger = new AckLedger();
  const cap = options.short ? 60_000 : 300_000;
  const pubs = [1, 2].map((k) => publishing(setup, ctx, `pub-${k}`, cap, ledger).pub);
  const acked = (): number => pubs.reduce((n, p) => n + p.acked, 0);
  const refused = (): number => pubs.reduce((n, p) => n + p.refused, 0);
  const outcomes = (): number => pubs.reduce((n, p) => n + p.outcomes, 0);
  await until("the first 500 acknowledgements", () => acked() >= 500);
  log(`full disk: ${acked()} acknowledged; Iggy stopped, the rest of the 8 MiB tmpfs filled by another file`);
  await iggy.stop("SIGTERM");
  const ballast = join(mnt, "other-program.data");
  const filled = fillUntil(ballast, mnt, 256 * 1024);
  await whileUp(gw, "a refusal (PUBACK 0x97) once the disk is full", () => refused() > 0);
  const fullAt = acked();
  await until("100 more refusals", () => refused() >= 100 + 1);
  const notReady = await notReadyFor(gw, /refusing new readings: disk full/);
  out.details.full_readyz = notReady;
  if (notReady.status !== 503 || !/disk full/.test(notReady.body))
    out.findings.push(`full disk: /readyz answered ${notReady.status} ${notReady.body.trim()}`);
  if (!(await healthy(gw))) out.findings.push("full disk: /healthz did not answer 200");
  log(`full disk: ${refused()} refused, ${fullAt} acknowledged before; /readyz ${notReady.status}`);

  await iggy.restart();
  // Iggy drains the backlog; what the publishers send meanwhile is refused or stored. Once the
  // buffer is empty, one more outcome of every publisher tells whether the drain alone was enough.
  await until("the backlog to drain into Iggy", () => drained(gw), 300_000, 100);
  const after = outcomes();
  await until("an outcome after the drain", () => outcomes() > after + 2 * 16);
  const byDrain = (await readyz(gw)).status === 200;
  out.figures.full_recovered_by_drain = byDrain ? 1 : 0;
  rmSync(ballast, { force: true });
  log(
    `full disk: drained; ${byDrain ? "ready again after the drain" : "still refusing after the drain"}; the other file (${filled} bytes) removed`,
  );
  await until("/readyz 200 once space is freed", async () => (await readyz(gw)).status === 200);
  const recoveredAt = acked();
  await until("500 acknowledgements after recovery", () => acked() >= recoveredAt + 500);
  for (const p of pubs) await p.stop();
  await until("the last readings into Iggy", () => drained(gw), 300_000, 100);
  await gw.stop();
  out.figures.full_refused = refused();
  out.figures.full_cut_off = pubs.reduce((n, p) => n + p.cut, 0);
  out.findings.push(...crashFindings(gw, "full disk"));
  await judgeInIggy(iggy, stream, "full", ledger, out);
}

/** (b) The data directory's file system read-only at start: empty, and with a buffer in it. */
async function readOnly(
  options: DrillOptions,
  ctx: DrillContext,
  iggy: RealIggyServer,
  out: Part,
): Promise<void> {
  const { log } = options;
  const mnt = mountTmpfs(options, ctx, "ro", "16m");
  const remount = (mode: "ro" | "rw"): void => {
    const e = sh("mount", ["-o", `remount,${mode}`, mnt]);
    if (e) throw new Error(e);
  };
  const { gw } = await gateway(options, ctx, iggy, "disk-ro", join(mnt, "data"));

  // At start: a fresh data directory on a read-only file system, then one with a buffer in it.
  for (const [round, prepare] of [
    ["empty", () => remount("ro")],
    [
      "with a buffer",
      async () => {
        remount("rw");
        await gw.start();
        await gw.stop();
        remount("ro");
      },
    ],
  ] as const) {
    await prepare();
    await gw.launch();
    await whileUp(gw, `three attempts to open the buffer (${round})`, async () => {
      const r = await readyz(gw);
      const m = /buffer cannot open \(attempt (\d+)\)/.exec(r.body);
      return r.status === 503 && m !== null && Number(m[1]) >= 3;
    });
    const r = await readyz(gw);
    out.details[`ro_start_${round}`] = r.body.trim();
    if (!(await healthy(gw))) out.findings.push(`read-only at start (${round}): /healthz did not answer 200`);
    log(`read-only at start (${round}): up, not ready: ${r.body.trim().slice(0, 160)}`);
    remount("rw");
    await until(`/readyz 200 once writable (${round})`, async () => (await readyz(gw)).status === 200);
    await gw.stop();
  }
  out.figures.ro_start_rounds = 2;
  out.findings.push(...crashFindings(gw, "read-only at start"));
}

/**
 * (b, while running) The file system under the data directory turns read-only under load, as ext4
 * does on an error with errors=remount-ro (a loop-mounted ext4 image and its trigger_fs_error):
 * writers open or not, nothing can be written until it is checked and mounted again.
 */
async function readOnlyWhileRunning(
  options: DrillOptions,
  ctx: DrillContext,
  iggy: RealIggyServer,
  out: Part,
): Promise<void> {
  const { log } = options;
  const img = join(options.tmpDir, "ext4.img");
  const mnt = join(options.tmpDir, "ext4");
  mkdirSync(mnt, { recursive: true });
  const run = (cmd: string, args: string[]): void => {
    const e = sh(cmd, args);
    if (e) throw new Error(e);
  };
  run("truncate", ["-s", "32M", img]);
  run("mkfs.ext4", ["-q", "-F", img]);
  const mount = (): void => run("mount", ["-o", "loop,errors=remount-ro", img, mnt]);
  mount();
  let mounted = true;
  ctx.after(() => mounted && sh("umount", ["-l", mnt]));
  const dev = statSync(mnt).dev;
  const name = `loop${dev & 0xff}`;
  const trigger = `/sys/fs/ext4/${name}/trigger_fs_error`;
  if (!existsSync(trigger)) throw new Error(`no ${trigger}: cannot make the ext4 file system fail`);
  const setup = await gateway(options, ctx, iggy, "disk-ro-running", join(mnt, "data"));
  const { gw, stream } = setup;
  await gw.start();
  const { pub, ledger } = publishing(setup, ctx, "pub-ro", options.short ? 60_000 : 200_000);
  await until("the first 300 acknowledgements", () => pub.acked >= 300);
  // The commits under way when the journal aborts: what was acknowledged in flight, the batches
  // leased from the newest readings, and what the publisher had sent unanswered.
  const newest = Math.max(...ledger.values("pub-ro"));
  const atError = (device: string, value: number): boolean =>
    device === "pub-ro" && value > newest - 2 * WINDOW && value < newest + 2 * WINDOW;
  writeFileSync(trigger, "1");
  log(`read-only while running: ${pub.acked} acknowledged; ext4 error triggered (errors=remount-ro)`);
  await whileUp(gw, "a refusal while read-only", () => pub.refused > 0);
  await until("100 more refusals", () => pub.refused >= 101);
  const r = await notReadyFor(gw, /refusing new readings/);
  out.details.ro_running_readyz = r;
  if (r.status !== 503 || !/refusing new readings/.test(r.body))
    out.findings.push(`read-only while running: /readyz answered ${r.status} ${r.body.trim()}`);
  if (!(await healthy(gw))) out.findings.push("read-only while running: /healthz did not answer 200");
  log(`read-only while running: ${pub.refused} refused, /readyz ${r.status}: ${r.body.trim().slice(0, 200)}`);
  await pub.stop();
  // What a person does: stop the service, check the file system, mount it again, start.
  await gw.stop();
  run("umount", [mnt]);
  mounted = false;
  const fsck = spawnSync("e2fsck", ["-fy", img], { encoding: "utf8", timeout: 120_000 });
  if (fsck.status !== null && fsck.status > 2)
    throw new Error(`e2fsck failed: ${fsck.stdout} ${fsck.stderr}`);
  mount();
  mounted = true;
  await gw.start();
  await until("the backlog into Iggy after the file system was repaired", () => drained(gw), 300_000, 100);
  await gw.stop();
  run("umount", [mnt]);
  mounted = false;
  out.figures.ro_refused = pub.refused;
  out.findings.push(...crashFindings(gw, "read-only while running"));
  await judgeInIggy(iggy, stream, "ro", ledger, out, { atError });
  const lostAt = out.figures.ro_lost_at_error ?? 0;
  if (lostAt > 0)
    log(
      `read-only while running: at the moment ext4 failed (values ${newest - 2 * WINDOW + 1}..${newest + 2 * WINDOW - 1}), ${lostAt} acknowledged readings lost: a commit the kernel reported durable did not survive the journal's abort (allowed there and only there, counted as ro_lost_at_error; a doubled reading is never allowed) (${JSON.stringify(out.details.ro_at_error)})`,
    );
}

/**
 * (c) The database file corrupted at random offsets while the gateway is stopped (Iggy away, so
 * the readings are still in it), then started and drained: every acknowledged reading is either
 * forwarded, a dead letter, or in a quarantined file the gateway said it moved aside.
 */
async function corrupt(
  options: DrillOptions,
  ctx: DrillContext,
  iggy: RealIggyServer,
  rng: Rng,
  out: Part,
): Promise<void> {
  const { log } = options;
  const rounds = options.short ? 3 : 12;
  let quarantined = 0;
  let deadLetterRounds = 0;
  let unnoticed = 0;
  for (let round = 1; round <= rounds; round++) {
    const dataDir = join(options.tmpDir, `corrupt-${round}`);
    const setup = await gateway(options, ctx, iggy, `disk-corrupt-${round}`, dataDir);
    const { gw } = setup;
    const n = options.short ? 2_000 : 5_000;
    await gw.start();
    await iggy.stop("SIGTERM");
    const { pub, ledger } = publishing(setup, ctx, `pub-c${round}`, n);
    await until(`${n} outcomes`, () => pub.outcomes >= n);
    await pub.stop();
    const stored = (await gw.metric("iggy_edge_buffer_readings")) ?? -1;
    await gw.stop();
    const file = join(dataDir, "buffer", "buffer.db");
    const size = statSync(file).size;
    const spots: string[] = [];
    const fd = openSync(file, "r+");
    try {
      for (let k = rng.between(1, 8); k > 0; k--) {
        const at = rng.int(size);
        const bytes = Buffer.from(Array.from({ length: rng.between(1, 16) }, () => rng.int(256)));
        writeSync(fd, bytes, 0, bytes.length, at);
        spots.push(`${at}+${bytes.length}`);
      }
    } finally {
      closeSync(fd);
    }
    await iggy.restart();
    await gw.launch();
    await until("the buffer to drain (or be found corrupt)", () => drained(gw), 300_000, 100);
    const logText = gw.output();
    const moved = /moved (\S+) aside to (\S+?) and started a fresh buffer/.exec(logText);
    const forwarded = (await gw.metric("iggy_edge_readings_forwarded_total")) ?? 0;
    const dead = (await gw.metric("iggy_edge_buffer_dead_letter_readings")) ?? 0;
    let verdict = `forwarded ${forwarded}, dead letters ${dead}; ${ledger.total} acknowledged, ${stored} stored`;
    if (moved) {
      quarantined++;
      verdict += `; the rest reported: ${moved[1]} moved aside to ${moved[2]}`;
      if (!existsSync(join(moved[2]!, "buffer.db")))
        out.findings.push(`corrupt round ${round}: the quarantined file ${moved[2]}/buffer.db is not there`);
    } else {
      if (dead > 0) deadLetterRounds++;
      if (forwarded + dead < ledger.total) {
        unnoticed++;
        out.findings.push(
          `corrupt round ${round} (spots ${spots.join(", ")}): ${ledger.total - forwarded - dead} acknowledged readings gone without a word (${verdict})`,
        );
      }
    }
    if (!(await healthy(gw))) out.findings.push(`corrupt round ${round}: /healthz did not answer 200`);
    await gw.stop();
    out.findings.push(...crashFindings(gw, `corrupt round ${round}`));
    log(`corrupt round ${round}: ${spots.length} spots (${spots.join(", ")}): ${verdict}`);
    out.details[`corrupt_${round}`] = { spots, stored, verdict, acknowledged: ledger.total };
  }
  out.figures.corrupt_rounds = rounds;
  out.figures.corrupt_quarantined = quarantined;
  out.figures.corrupt_dead_letter_rounds = deadLetterRounds;
  out.figures.corrupt_silently_lost_rounds = unnoticed;
}

export async function runDisk(options: DrillOptions, ctx: DrillContext): Promise<DrillResult> {
  const t = ctx.asTest();
  const probe = join(options.tmpDir, "mount-probe");
  if (
    !requirePeer(
      t,
      "root with permission to mount a tmpfs (the drill's small, full and read-only file systems)",
      canMount(probe),
      "run the drill as root on a machine that allows mount -t tmpfs",
    ) ||
    !requirePeer(
      t,
      "Python package apache-iggy 0.8.x (Iggy's SDK, the independent reader)",
      hasPythonModule("apache_iggy"),
      "pip install 'apache-iggy==0.8.*'",
    )
  )
    return { ok: true, skipped: ctx.skipped ?? "skipped", figures: {}, findings: [] };
  const iggy = await startIggyServer(t, { saveEverySend: true });
  if (!iggy) return { ok: true, skipped: ctx.skipped ?? "skipped", figures: {}, findings: [] };
  const rng = new Rng(options.seed);
  const out: Part = { figures: {}, findings: [], details: { seed: options.seed } };
  await fullDisk(options, ctx, iggy, out);
  await readOnly(options, ctx, iggy, out);
  await readOnlyWhileRunning(options, ctx, iggy, out);
  await corrupt(options, ctx, iggy, rng, out);
  out.figures.crashes = out.findings.filter((f) => f.includes("exited on its own")).length;
  out.figures.lost = (out.figures.full_lost ?? 0) + (out.figures.ro_lost ?? 0);
  out.figures.doubled = (out.figures.full_doubled ?? 0) + (out.figures.ro_doubled ?? 0);
  return {
    ok: out.findings.length === 0,
    figures: out.figures,
    findings: out.findings,
    details: out.details,
  };
}

const drill: Drill = {
  description:
    "the data directory's disk full (a filled 8 MiB tmpfs, Iggy away), read-only (at start and while running) and the buffer file corrupted at seeded random offsets, under MQTT QoS1 publishers, against Apache Iggy 0.8",
  run: (options, ctx) => runDisk(options, ctx),
};
export default drill;
