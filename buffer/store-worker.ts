// The worker thread that owns the database, so every fsync blocks this thread and never the event
// loop that serves devices. Appends are group-committed: all frames that have arrived go into one
// transaction. When it starts, counted from the start of the previous commit:
// - `commitMaxRows` readings wait: at once (a bigger transaction would save nothing per reading);
// - a device waits for one of them (an awaited call): after `ackCommitGapMs`, or as soon as the
//   frames queued are taken in once as many awaited calls wait as the last commits held
//   (`ackCommitEarly`: the devices it acknowledged have all sent their next, waiting saves nothing);
// - otherwise: after `commitIntervalMs`.
// A commit past its time starts once the frames already queued for this thread are taken in, so
// everything that arrived during the previous (synchronous) commit shares it. An idle buffer thus
// commits at once, and a busy one at most 1000 / gap times a second: each commit costs a WAL frame
// of at least one page and an fsync, the writes that wear an SD card.
import { parentPort, workerData } from "node:worker_threads";
import { collectGarbage } from "../protocols/collect-garbage.js";
import { errorToWire } from "./errors.js";
import { packOutcomes, unpackFrame } from "./frame-codec.js";
import type { ResolvedOptions } from "./options.js";
import { type LogSink, Store } from "./store.js";
import type { AppendFrame, Request, WorkerMessage } from "./wire.js";

const VACUUM_PAUSE_MS = 20;

const port = parentPort!;
const o = workerData as ResolvedOptions;

function post(msg: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  port.postMessage(msg, transfer);
}

const log: LogSink = (level, msg, fields) => post({ type: "log", level, msg, ...(fields ? { fields } : {}) });

function now(): number {
  return performance.timeOrigin + performance.now();
}

function openStore(): Store | null {
  try {
    return Store.open(o, log);
  } catch (err) {
    post({ type: "failed", error: errorToWire(err) });
    return null;
  }
}

const opened = openStore();
if (opened === null) port.close();
else {
  post({
    type: "ready",
    info: {
      series: opened.seriesRows(),
      readings: opened.readingCount,
      pendingBatches: opened.pendingBatchCount,
    },
  });
  port.on("message", onMessage);
}
const store = opened!;

let pending: AppendFrame[] = [];
let pendingRows = 0;
let commitTimer: ReturnType<typeof setTimeout> | null = null;
let commitImmediate: ReturnType<typeof setImmediate> | null = null;
/** When the scheduled commit starts; Infinity when none is. */
let commitDue = Infinity;
/** Awaited append calls waiting, and how many each of the last EARLY_WINDOW commits held. */
let pendingAwaited = 0;
const EARLY_WINDOW = 4;
const awaitedHeld = new Uint32Array(EARLY_WINDOW);
let commitCount = 0;
let lastCommitAt = -Infinity;
let vacuumTimer: ReturnType<typeof setTimeout> | null = null;
let closed = false;

/**
 * Whether the devices acknowledged by the last commits have all sent their next awaited call: as
 * many wait as the most any of the last EARLY_WINDOW commits held, so commits the gap cut short (a
 * device late) do not lower the count; a device gone for good costs the others that many gaps.
 */
function allBack(): boolean {
  if (!o.ackCommitEarly) return false;
  let expected = 0;
  for (const n of awaitedHeld) if (n > expected) expected = n;
  return expected > 0 && pendingAwaited >= expected;
}

function scheduleCommit(): void {
  const due = allBack()
    ? -Infinity
    : lastCommitAt + (pendingAwaited > 0 ? o.ackCommitGapMs : o.commitIntervalMs);
  if (due >= commitDue) return;
  cancelCommit();
  commitDue = due;
  const wait = due - now();
  // setImmediate runs after every message already queued has been taken in, so they share the commit.
  if (wait <= 0) commitImmediate = setImmediate(commit);
  else commitTimer = setTimeout(commit, wait);
}

function cancelCommit(): void {
  if (commitTimer !== null) clearTimeout(commitTimer);
  if (commitImmediate !== null) clearImmediate(commitImmediate);
  commitTimer = null;
  commitImmediate = null;
  commitDue = Infinity;
}

function commit(): void {
  cancelCommit();
  if (pending.length === 0) return;
  awaitedHeld[commitCount++ % EARLY_WINDOW] = pendingAwaited;
  pendingAwaited = 0;
  lastCommitAt = now();
  const frames = pending;
  pending = [];
  pendingRows = 0;
  try {
    const outcomes = store.guard("appending", () => store.appendFrames(frames));
    const packed = packOutcomes(frames, outcomes);
    if (packed !== null) port.postMessage(packed);
    else frames.forEach((f, i) => post({ type: "reply", id: f.id, ok: true, value: outcomes[i] }));
  } catch (err) {
    const wire = errorToWire(err);
    const reason = wire.code === "BUFFER_DISK_FULL" ? "disk_full" : "storage_error";
    store.noteStorageRefusal(wire.code ?? "BUFFER_IO", wire.message);
    for (const f of frames) {
      store.countRejected(reason, f.lengths.length);
      post({ type: "reply", id: f.id, ok: false, error: wire });
    }
  }
}

function scheduleVacuum(): void {
  if (vacuumTimer !== null || closed) return;
  vacuumTimer = setTimeout(() => {
    vacuumTimer = null;
    let more = false;
    try {
      more = store.guard("reclaiming free space", () => store.vacuumStep());
    } catch (err) {
      log("warn", `buffer could not reclaim free space: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (more) scheduleVacuum();
  }, VACUUM_PAUSE_MS);
}

function handle(m: Exclude<Request, AppendFrame | { op: "reduceMemory" }>): {
  value: unknown;
  transfer?: ArrayBuffer[];
} {
  switch (m.op) {
    case "exchange": {
      const doing = m.lease === null ? "releasing a batch" : "leasing a batch";
      const r = store.guard(doing, () => store.exchange(m.release, m.lease, m.resume));
      if (m.release.length > 0) scheduleVacuum();
      const transfer = r.batches.flatMap((b) => [
        b.bytes,
        b.lengths.buffer as ArrayBuffer,
        b.seqs.buffer as ArrayBuffer,
      ]);
      return { value: r, transfer };
    }
    case "requeue":
      return { value: store.requeue(m.batchId) };
    case "deadLetter":
      return {
        value: store.guard("dead-lettering a batch", () => store.deadLetter(m.batchId, m.reason, m.seqs)),
      };
    case "listDeadLetters":
      return { value: store.guard("listing dead letters", () => store.listDeadLetters()) };
    case "readDeadLetter": {
      const r = store.guard("reading dead letters", () => store.readDeadLetter(m.entry, m.offset, m.limit));
      return { value: r, transfer: [r.bytes, r.lengths.buffer as ArrayBuffer, r.seqs.buffer as ArrayBuffer] };
    }
    case "replayDeadLetters":
      return { value: store.guard("replaying dead letters", () => store.replayDeadLetters(m.entries)) };
    case "purgeDeadLetters": {
      const r = store.guard("purging dead letters", () => store.purgeDeadLetters(m.entries));
      scheduleVacuum();
      return { value: r };
    }
    case "stats":
      return { value: store.guard("reading statistics", () => store.stats()) };
    case "readMarks":
      return { value: store.guard("reading marks", () => store.readMarks(m.prefix)) };
    case "close":
      commit();
      closed = true;
      if (vacuumTimer !== null) clearTimeout(vacuumTimer);
      store.close();
      return { value: null };
  }
}

function onMessage(message: Request | ArrayBuffer): void {
  const m = message instanceof ArrayBuffer ? unpackFrame(message) : message;
  if (m.op === "append") {
    pending.push(m);
    pendingRows += m.lengths.length;
    pendingAwaited += m.awaitedCalls;
    if (pendingRows >= o.commitMaxRows) commit();
    else scheduleCommit();
    return;
  }
  if (m.op === "reduceMemory") {
    try {
      store.shrinkMemory();
    } catch {
      // memory not given back is no failure: the next statement reports a broken database
    }
    void collectGarbage().then(() => post({ type: "reply", id: m.id, ok: true, value: null }));
    return;
  }
  try {
    const { value, transfer } = handle(m);
    post({ type: "reply", id: m.id, ok: true, value }, transfer);
  } catch (err) {
    post({ type: "reply", id: m.id, ok: false, error: errorToWire(err) });
  }
  if (m.op === "close") port.close();
}
