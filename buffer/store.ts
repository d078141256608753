// The SQLite side of the buffer: synchronous, owned by the store worker, never by the main thread.
// Every method is one transaction (or none), so a crash leaves either all of it or nothing.
import type Database from "better-sqlite3";
import { BurstLog } from "../protocols/burst-log.js";
import {
  BufferFullError,
  BufferNotFoundError,
  BufferStorageError,
  type FullReason,
  errorToWire,
} from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import { seriesIdOf, tsOf } from "./reading-codec.js";
import type { SeriesRow } from "./series-dictionary.js";
import { SpaceReserve } from "./space-reserve.js";
import { CorruptFileError, countQuarantined, fileBytes, isCorruption, storageError } from "./store-files.js";
import { closeQuietly, openDatabase, quarantine } from "./store-open.js";
import type { MarkChanges } from "./api.js";
import {
  type ChunkRow,
  ChunkWriter,
  eachReading,
  type Packed,
  type Piece,
  lengthsBlob,
  lengthsOf,
  packPieces,
  pieceOf,
  splitPiece,
} from "./chunks.js";
import { ROW_OVERHEAD } from "./store-schema.js";
import { type Statements, statements } from "./store-statements.js";
import type {
  AppendFrame,
  AppendOutcome,
  DeadLetterEntry,
  DeadLetterSelector,
  Exchanged,
  LeaseRequest,
  LeasedBatch,
  PurgeResult,
  ReplayResult,
  StoreStats,
  StoredReadings,
} from "./wire.js";

type DB = Database.Database;
export type LogSink = (
  level: "debug" | "info" | "warn" | "error",
  msg: string,
  fields?: Record<string, unknown>,
) => void;

/** Reclaim file space only when this much is free and moving the live pages costs little. */
/** Above every key that starts with a given prefix (keys compare as UTF-8 bytes). */
const MARK_END = "\u{10FFFF}";
const VACUUM_MIN_FREE_BYTES = 4 * 1024 * 1024;
const VACUUM_LIVE_FRACTION = 32;
const VACUUM_STEP_PAGES = 2048;
/** Disk space kept back so a full disk can still be drained (see space-reserve.ts). */
const RESERVE_BYTES = 2 * 1024 * 1024;
const SEQ_RESERVE = 100_000;

interface BatchRow {
  first: number;
  last: number;
  readings: number;
  attempts: number;
  /** Handed to the forwarder in this run and neither released nor requeued. */
  out: boolean;
}

/** A batch a lease would hand out: recorded before (`fresh` false) or new. */
interface LeasePlan {
  b: BatchRow;
  rows: Packed;
  attempts: number;
  fresh: boolean;
  /** The batch ends inside a chunk: the lease splits it there. */
  split: boolean;
}

type Row = [number, Buffer];
/** Stored readings in sequence order: their rowids and bodies. */
interface Rows {
  seqs: number[];
  bodies: Buffer[];
}

/** A warning when readings start being dropped or refused, and one with the total once it stops. */
interface FullLog {
  note(count: number, reason: string): void;
  flush(): void;
}

function fullLog(
  log: LogSink,
  start: (reason: string) => string,
  end: (total: number, seconds: number) => string,
): FullLog {
  const bursts = new BurstLog({
    quietMs: 10_000,
    onEnd: (b) =>
      log("warn", end(b.total, Math.round((b.lastAt - b.startedAt) / 1000)), {
        readings: b.total,
        reasons: b.details,
      }),
  });
  return {
    note: (count, reason) => {
      if (bursts.note("full", count, reason)) log("warn", start(reason), { reason });
    },
    flush: () => bursts.flush(),
  };
}

/** Takes the first `k` readings (at most) off the front of `pieces`, splitting a piece if need be. */
function takeReadings(pieces: Piece[], k: number): Piece[] {
  const out: Piece[] = [];
  while (k > 0 && pieces.length > 0) {
    const p = pieces[0]!;
    if (p.lengths.length <= k) {
      out.push(pieces.shift()!);
      k -= p.lengths.length;
    } else {
      const [head, rest] = splitPiece(p, k);
      out.push(head);
      pieces[0] = rest;
      k = 0;
    }
  }
  return out;
}

function add(counts: Record<string, number>, key: string, n: number): void {
  counts[key] = (counts[key] ?? 0) + n;
}

export class Store {
  private db: DB | null = null;
  private s!: Statements;
  private pageSize = 4096;
  /** Public sequence number = base + rowid. */
  private base = 0;
  private nextRowid = 1;
  private count = 0;
  /** Rows with rowid > cursor have not been leased; rows at or below it belong to a recorded batch. */
  private cursor = 0;
  private readonly batches = new Map<number, BatchRow>();
  private leasedReadings = 0;
  /** Every series definition known (stored, or on its way into the next commit). */
  private readonly series = new Map<number, Uint8Array>();
  /** The longest definition in `series`: a batch whose bodies plus this much per reading fit needs no trimming. */
  private longestSeries = 0;
  private pendingSeries = new Map<number, Uint8Array>();
  /** The high-water mark in meta.seq_high, and one written by the transaction under way. */
  private persistedHigh = 0;
  private pendingHigh = 0;
  private readonly dropped: Record<string, number> = {};
  private readonly rejected: Record<string, number> = {};
  private quarantinedThisRun = 0;
  private commits = 0;
  private committedReadings = 0;
  /** Where the last quarantine moved the damaged buffer. */
  private quarantinedTo: string | null = null;
  private readonly dropLog: FullLog;
  private readonly rejectLog: FullLog;
  private reserve: SpaceReserve;
  private storageRefusal: { code: string; message: string; freeAtRefusal: number } | null = null;

  private constructor(
    private readonly o: ResolvedOptions,
    private readonly log: LogSink,
  ) {
    this.reserve = new SpaceReserve(o.dir, RESERVE_BYTES);
    this.dropLog = fullLog(
      log,
      (reason) => `buffer full (${reason}): dropping the oldest unsent readings (on_full: drop_oldest)`,
      (total, s) => `buffer stopped dropping: ${total} oldest readings dropped over ${s} s`,
    );
    this.rejectLog = fullLog(
      log,
      (reason) =>
        `buffer full (${reason}): refusing new readings until the forwarder drains (on_full: reject_new)`,
      (total, s) => `buffer accepts readings again: ${total} readings refused over ${s} s`,
    );
  }

  static open(o: ResolvedOptions, log: LogSink): Store {
    const store = new Store(o, log);
    store.openWithRecovery(Date.now() * 1000);
    return store;
  }

  // ---- opening, verifying, quarantining --------------------------------------------------------

  private openWithRecovery(minBase: number): void {
    const db = openDatabase(this.o, minBase, (to, cause) => this.quarantined(to, cause));
    this.db = db;
    try {
      this.s = statements(db);
      this.loadState(db);
    } catch (err) {
      this.db = null;
      closeQuietly(db);
      throw storageError(err, `reading ${this.o.file}`);
    }
    this.reserve = new SpaceReserve(this.o.dir, RESERVE_BYTES);
    if (!this.reserve.ensure())
      this.log(
        "warn",
        `disk nearly full: cannot keep ${RESERVE_BYTES} bytes in reserve in ${this.o.dir}; new readings are refused until there is room`,
      );
  }

  private quarantined(to: string, cause: unknown): void {
    this.quarantinedThisRun++;
    this.quarantinedTo = to;
    const why = cause instanceof Error ? cause.message : String(cause);
    this.log(
      "error",
      `buffer database is corrupt (${why}); moved ${this.o.dir} aside to ${to} and started a fresh buffer. ` +
        "Readings in the old file were not forwarded; keep it for inspection.",
      { event: "buffer_quarantined", from: this.o.dir, to, cause: why },
    );
  }

  private loadState(db: DB): void {
    const num = (sql: string): number => (db.prepare(sql).pluck().get() as number | null) ?? 0;
    this.pageSize = db.pragma("page_size", { simple: true }) as number;
    const base = db.prepare("SELECT value FROM meta WHERE key = 'seq_base'").pluck().get() as
      number | undefined;
    if (base === undefined) throw new CorruptFileError("meta.seq_base is missing");
    this.base = base;
    this.persistedHigh = num("SELECT value FROM meta WHERE key = 'seq_high'");
    this.pendingHigh = 0;
    this.nextRowid =
      Math.max(
        this.persistedHigh,
        num("SELECT max(last) FROM chunks"),
        num("SELECT max(seq) FROM dead_letter_readings"),
        num("SELECT max(last_seq) FROM batches"),
      ) + 1;
    this.count = num("SELECT sum(last - first + 1) FROM chunks");
    this.batches.clear();
    this.leasedReadings = 0;
    this.cursor = 0;
    for (const [first, last, readings, attempts] of db
      .prepare("SELECT first_seq, last_seq, readings, attempts FROM batches ORDER BY first_seq")
      .raw()
      .iterate() as IterableIterator<[number, number, number, number]>) {
      this.batches.set(first, { first, last, readings, attempts, out: false });
      this.leasedReadings += readings;
      this.cursor = Math.max(this.cursor, last);
    }
    for (const [id, def] of db.prepare("SELECT id, def FROM series").raw().iterate() as IterableIterator<
      [number, Buffer]
    >) {
      if (!this.series.has(id)) this.addSeries(id, new Uint8Array(def));
    }
    // Definitions known from before (a quarantine mid-run) but not in this file go into the next commit.
    const stored = new Set(db.prepare("SELECT id FROM series").pluck().all() as number[]);
    for (const [id, def] of this.series) if (!stored.has(id)) this.pendingSeries.set(id, def);
  }

  /**
   * Runs one operation; if SQLite finds the file damaged meanwhile, the buffer is quarantined and
   * reopened fresh so the gateway keeps running, and the operation fails with a storage error.
   */
  guard<T>(doing: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (!isCorruption(err)) throw storageError(err, doing);
      const minBase = this.base + this.nextRowid;
      closeQuietly(this.db);
      this.db = null;
      this.quarantined(quarantine(this.o), err);
      this.openWithRecovery(Math.max(Date.now() * 1000, minBase));
      throw new BufferStorageError(
        "BUFFER_IO",
        `buffer file found corrupt while ${doing}; it was moved aside to ${this.quarantinedTo} and a fresh buffer started`,
        "SQLITE_CORRUPT",
      );
    }
  }

  seriesRows(): SeriesRow[] {
    return [...this.series].map(([id, def]) => ({ id, def }));
  }

  get readingCount(): number {
    return this.count;
  }

  get pendingBatchCount(): number {
    return this.batches.size;
  }

  // ---- budget ----------------------------------------------------------------------------------

  private usedBytes(): number {
    return ((this.s.pageCount.get() as number) - (this.s.freeCount.get() as number)) * this.pageSize;
  }

  private overBudget(bytes: number, rows: number): FullReason | null {
    if (rows > this.o.maxRows) return "max_rows";
    if (bytes > this.o.maxBytes) return "max_bytes";
    return null;
  }

  /** Deletes the oldest unleased readings until about `bytes` and at least `rows` are freed. */
  private dropOldest(bytes: number, rows: number): { rows: number; bytes: number } {
    let freed = 0;
    let n = 0;
    let last = -1;
    scan: for (const [first, , lengths] of this.s.headChunks.iterate(
      this.cursor,
    ) as IterableIterator<ChunkRow>) {
      const lens = lengthsOf(lengths);
      for (let i = 0; i < lens.length; i++) {
        freed += lens[i]! + ROW_OVERHEAD;
        n++;
        last = first + i;
        if (freed >= bytes && n >= rows) break scan;
      }
    }
    if (n > 0) {
      this.boundaryAt(last + 1);
      this.s.deleteRange.run(this.cursor + 1, last);
      this.keepHighWater(last);
    }
    return { rows: n, bytes: freed };
  }

  /** Inside a write: makes `rowid` the first reading of its chunk, splitting the chunk that holds it. */
  private boundaryAt(rowid: number): void {
    const row = this.s.chunkBefore.get(rowid) as ChunkRow | undefined;
    if (row === undefined || row[1] < rowid) return;
    const [head, rest] = splitPiece(pieceOf(row), rowid - row[0]);
    this.s.shortenChunk.run(rowid - 1, lengthsBlob(head.lengths), head.body, row[0]);
    this.s.insertChunk.run(rowid, row[1], lengthsBlob(rest.lengths), rest.body);
  }

  /** Inside a write: moves the readings first..last to the dead-letter entry; how many there were. */
  private moveToDeadLetters(entry: number, first: number, last: number): number {
    let moved = 0;
    for (const row of this.s.rangeChunks.all(first, last) as ChunkRow[]) {
      eachReading(row, (seq, body) => this.s.insertDeadLetterReading.run(seq, entry, body));
      moved += row[1] - row[0] + 1;
    }
    this.s.deleteRange.run(first, last);
    return moved;
  }

  /**
   * Inside a deleting transaction: when the newest sequence number leaves the tables, a high-water
   * mark is written so the next reading after a restart still gets a higher number. The mark is
   * set SEQ_RESERVE ahead, so a buffer drained empty after every batch writes it rarely; a restart
   * then skips at most that many numbers (they only need to grow, not to be dense).
   */
  private keepHighWater(deletedUpTo: number): void {
    const high = this.nextRowid - 1;
    if (deletedUpTo < high || high <= this.persistedHigh) return;
    this.pendingHigh = high + SEQ_RESERVE;
    this.s.setMeta.run("seq_high", this.pendingHigh);
  }

  /** After a deleting transaction: it committed, and with it any high-water mark it wrote. */
  private committedHigh(): void {
    this.persistedHigh = Math.max(this.persistedHigh, this.pendingHigh);
    this.pendingHigh = 0;
  }

  // ---- append ----------------------------------------------------------------------------------

  /** One transaction for all the frames. Budget refusals are per call; a storage error fails them all. */
  appendFrames(frames: AppendFrame[]): AppendOutcome[] {
    const db = this.db!;
    const outcomes: AppendOutcome[] = frames.map((f) => ({
      firsts: new Float64Array(f.calls.length).fill(NaN),
      errors: [],
    }));
    for (const f of frames)
      for (const row of f.series)
        if (!this.series.has(row.id)) {
          this.addSeries(row.id, row.def);
          this.pendingSeries.set(row.id, row.def);
        }
    if (!this.reserve.ensure())
      throw new BufferStorageError(
        "BUFFER_DISK_FULL",
        `disk full: less than ${2 * RESERVE_BYTES} bytes free in ${this.o.dir}; new readings are refused until the backlog drains or space is freed`,
        "ENOSPC",
      );
    const startRowid = this.nextRowid;
    let count = this.count;
    let written = 0;
    let droppedRows = 0;
    let dropReason: FullReason | null = null;
    let rejectedRows = 0;
    let rejectReason: FullReason | null = null;
    const o = this.o;
    const chunks = this.chunkWriter();
    const run = db.transaction(() => {
      for (const [id, def] of this.pendingSeries) this.s.insertSeries.run(id, def);
      let used = this.usedBytes();
      for (let fi = 0; fi < frames.length; fi++) {
        const f = frames[fi]!;
        const out = outcomes[fi]!;
        const bytes = new Uint8Array(f.bytes, f.offset ?? 0, f.used);
        const lengths = f.lengths;
        let off = 0;
        let row = 0;
        let markAt = 0;
        for (let ci = 0; ci < f.calls.length; ci++) {
          const n = f.calls[ci]!;
          const marks = f.marks[markAt]?.call === ci ? f.marks[markAt++] : undefined;
          if (n === 0) {
            // Marks alone: never refused as full (they free as much as they take).
            out.firsts[ci] = this.base + this.nextRowid;
            if (marks !== undefined) this.applyMarks(marks);
            continue;
          }
          let callBytes = 0;
          for (let k = 0; k < n; k++) callBytes += lengths[row + k]!;
          const need = callBytes + n * ROW_OVERHEAD;
          let full = this.overBudget(used + need, count + n);
          if (full !== null && o.onFull === "drop_oldest" && need <= o.maxBytes && n <= o.maxRows) {
            chunks.flush();
            const freed = this.dropOldest(used + need - o.maxBytes, count + n - o.maxRows);
            used -= freed.bytes;
            count -= freed.rows;
            droppedRows += freed.rows;
            dropReason = full;
            full = this.overBudget(used + need, count + n);
          }
          if (full !== null) {
            out.errors.push([
              ci,
              errorToWire(
                new BufferFullError(
                  full,
                  full === "max_rows"
                    ? `buffer full: ${count} readings buffered, max_rows is ${o.maxRows}; the readings were not stored`
                    : `buffer full: ${used} bytes in use, max_bytes is ${o.maxBytes}; the readings were not stored`,
                ),
              ),
            ]);
            rejectedRows += n;
            rejectReason = full;
            off += callBytes;
            row += n;
            continue;
          }
          out.firsts[ci] = this.base + this.nextRowid;
          chunks.addRun(this.nextRowid, lengths.subarray(row, row + n), bytes.subarray(off, off + callBytes));
          this.nextRowid += n;
          off += callBytes;
          row += n;
          if (marks !== undefined) this.applyMarks(marks);
          written += n;
          used += need;
          count += n;
        }
      }
      chunks.flush();
    });
    try {
      run();
    } catch (err) {
      this.nextRowid = startRowid;
      this.pendingHigh = 0;
      throw err;
    }
    this.committedHigh();
    // A commit that fits in space freed inside the file does not mean the disk has room again.
    if (
      this.storageRefusal !== null &&
      (this.storageRefusal.code !== "BUFFER_DISK_FULL" || this.reserve.freeBytes() >= 2 * RESERVE_BYTES)
    )
      this.storageRefusal = null;
    this.pendingSeries.clear();
    this.count = count;
    this.commits++;
    this.committedReadings += written;
    if (droppedRows > 0) {
      add(this.dropped, dropReason!, droppedRows);
      this.dropLog.note(droppedRows, dropReason!);
    }
    if (rejectedRows > 0) {
      add(this.rejected, "buffer_full", rejectedRows);
      this.rejectLog.note(rejectedRows, rejectReason!);
    }
    return outcomes;
  }

  private applyMarks(m: MarkChanges): void {
    if (m.clearPrefix !== undefined) this.s.clearMarkRange.run(m.clearPrefix, m.clearPrefix + MARK_END);
    for (const key of m.clear ?? []) this.s.clearMark.run(key);
    for (const key of m.set ?? []) this.s.setMark.run(key);
  }

  readMarks(prefix: string): string[] {
    return this.s.readMarkRange.all(prefix, prefix + MARK_END) as string[];
  }

  /** Counts readings refused for a storage error (the worker calls this when appendFrames threw). */
  countRejected(reason: string, n: number): void {
    add(this.rejected, reason, n);
  }

  /**
   * An append failed for the storage (disk full, I/O): kept until an append commits again (after a
   * full disk: with room for the reserve twice on the file system, or once space was freed).
   */
  noteStorageRefusal(code: string, message: string): void {
    if (this.storageRefusal?.code !== code)
      this.storageRefusal = { code, message, freeAtRefusal: this.reserve.freeBytes() };
  }

  /**
   * Why new readings are refused for the storage, or null. A full disk with nobody appending is
   * looked at again here: once space was freed (the reserve's size more than at the refusal) and
   * the reserve is back in place, it no longer counts.
   */
  private refusing(): string | null {
    const r = this.storageRefusal;
    if (r === null) return null;
    if (
      r.code === "BUFFER_DISK_FULL" &&
      this.reserve.freeBytes() >= r.freeAtRefusal + RESERVE_BYTES &&
      this.reserve.ensure()
    ) {
      this.storageRefusal = null;
      return null;
    }
    return r.message;
  }

  // ---- lease / release -------------------------------------------------------------------------

  /**
   * Runs a write that drains the backlog. On a full disk it first tries to give the write-ahead
   * log's space back (checkpoint and truncate), then uses the reserve, so the drain goes on.
   */
  private draining<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (storageError(err, "").code !== "BUFFER_DISK_FULL") throw err;
      try {
        this.db!.pragma("wal_checkpoint(TRUNCATE)");
        return fn();
      } catch (again) {
        if (storageError(again, "").code !== "BUFFER_DISK_FULL" || !this.reserve.release()) throw again;
        this.log(
          "warn",
          `disk full: gave up the ${RESERVE_BYTES}-byte reserve so the backlog can drain; new readings wait until there is room again`,
        );
        return fn();
      }
    }
  }

  /** Writes the readings a transaction adds as chunk rows. */
  private chunkWriter(): ChunkWriter {
    return new ChunkWriter((first, last, lengths, body) =>
      this.s.insertChunk.run(first, last, lengths, body),
    );
  }

  private addSeries(id: number, def: Uint8Array): void {
    this.series.set(id, def);
    if (def.length > this.longestSeries) this.longestSeries = def.length;
  }

  private expandedSize(body: Uint8Array): number {
    const id = seriesIdOf(body);
    return body.length + (id >= 0 ? (this.series.get(id)?.length ?? 0) : 0);
  }

  private pack(b: BatchRow, rows: Packed): LeasedBatch {
    const seqs = new Float64Array(rows.rowids.length);
    for (let i = 0; i < seqs.length; i++) seqs[i] = this.base + rows.rowids[i]!;
    return {
      firstSeq: this.base + b.first,
      lastSeq: this.base + b.last,
      attempts: b.attempts,
      bytes: rows.bytes.buffer as ArrayBuffer,
      lengths: rows.lengths,
      seqs,
    };
  }

  /** Keeps the readings whose stored bytes plus series definitions stay within `maxBytes` (at least one). */
  private trimmed(rows: Packed, maxBytes: number): Packed {
    if (rows.bytes.length + rows.lengths.length * this.longestSeries <= maxBytes) return rows;
    let total = 0;
    let off = 0;
    for (let i = 0; i < rows.lengths.length; i++) {
      const len = rows.lengths[i]!;
      total += this.expandedSize(rows.bytes.subarray(off, off + len));
      if (i > 0 && total > maxBytes)
        return {
          rowids: rows.rowids.slice(0, i),
          lengths: rows.lengths.slice(0, i),
          bytes: rows.bytes.slice(0, off),
        };
      off += len;
    }
    return rows;
  }

  private packRows({ seqs, bodies }: Rows): StoredReadings {
    let total = 0;
    for (const body of bodies) total += body.length;
    const bytes = new Uint8Array(total);
    const lengths = new Uint32Array(bodies.length);
    const out = new Float64Array(seqs.length);
    let off = 0;
    for (let i = 0; i < bodies.length; i++) {
      const body = bodies[i]!;
      bytes.set(body, off);
      off += body.length;
      lengths[i] = body.length;
      out[i] = this.base + seqs[i]!;
    }
    return { bytes: bytes.buffer, lengths, seqs: out };
  }

  /**
   * One transaction: deletes the readings of each batch in `release` (Iggy confirmed them; null in
   * `released` for a batch this buffer does not know), then leases up to `lease.batches` batches.
   * A recorded batch nobody holds (left by a crashed run, or requeued) comes first, lowest first;
   * then new batches of the oldest unleased readings. `resume` first takes every batch back from
   * whoever held it (the caller holds none: it starts over). The transaction is fsynced only when
   * it leases (batch boundaries are durable before the caller can send them); a release alone is
   * not: a power loss right after it can only bring back a batch Iggy already has, and the
   * forwarder checks the partition for those.
   */
  exchange(release: number[], lease: LeaseRequest | null, resume = false): Exchanged {
    if (resume) for (const b of this.batches.values()) b.out = false;
    return this.draining(() => this.exchangeNow(release, lease));
  }

  private exchangeNow(release: number[], lease: LeaseRequest | null): Exchanged {
    const skip = new Set<BatchRow | undefined>();
    // A batch named twice is released once; the second time it is unknown.
    const releasing = release.map((id) => {
      const b = this.batchOf(id);
      if (skip.has(b)) return undefined;
      skip.add(b);
      return b;
    });
    const { plans, emptied } = lease ? this.planLeases(lease, skip) : { plans: [], emptied: [] };
    const deleted: number[] = [];
    const unsynced = plans.length === 0 && this.o.sync === "full";
    // Not a prepared statement: SQLite applies `PRAGMA synchronous` when the statement is prepared,
    // and running it again later changes nothing.
    if (unsynced) this.db!.pragma("synchronous = NORMAL");
    try {
      this.db!.transaction(() => {
        const now = Date.now();
        for (const b of releasing) {
          if (b === undefined) continue;
          deleted.push(this.s.rangeCount.get(b.first, b.last) as number);
          this.s.deleteRange.run(b.first, b.last);
          this.s.deleteBatch.run(b.first);
          this.keepHighWater(b.last);
        }
        for (const b of emptied) this.s.deleteBatch.run(b.first);
        for (const { b, attempts, fresh, split } of plans) {
          if (split) this.boundaryAt(b.last + 1);
          if (fresh) this.s.insertBatch.run(b.first, b.last, b.readings, attempts, now);
          else this.s.bumpAttempts.run(attempts, now, b.first);
        }
      })();
      this.committedHigh();
    } finally {
      this.pendingHigh = 0;
      if (unsynced) this.db!.pragma("synchronous = FULL");
    }
    // Committed: now the state in memory follows.
    let d = 0;
    const released = releasing.map((b) => {
      if (b === undefined) return null;
      const n = deleted[d++]!;
      this.forgetBatch(b, n);
      return n;
    });
    for (const b of emptied) this.forgetBatch(b, 0);
    const batches = plans.map(({ b, attempts, fresh, rows }) => {
      b.attempts = attempts;
      b.out = true;
      if (fresh) {
        this.batches.set(b.first, b);
        this.cursor = b.last;
        this.leasedReadings += b.readings;
      }
      return this.pack(b, rows);
    });
    return { released, batches, more: this.hasMore() };
  }

  /** What the next leases would hand out, read without writing anything. */
  private planLeases(
    { batches: n, maxReadings, maxBytes }: LeaseRequest,
    skip: Set<BatchRow | undefined>,
  ): { plans: LeasePlan[]; emptied: BatchRow[] } {
    const plans: LeasePlan[] = [];
    const emptied: BatchRow[] = [];
    for (const b of this.batches.values()) {
      if (plans.length === n) break;
      if (b.out || skip.has(b)) continue;
      const rows = this.s.rangeChunks.all(b.first, b.last) as ChunkRow[];
      if (rows.length === 0) emptied.push(b);
      else
        plans.push({
          b,
          rows: packPieces(rows.map(pieceOf)),
          attempts: b.attempts + 1,
          fresh: false,
          split: false,
        });
    }
    if (plans.length === n) return { plans, emptied };
    // The oldest unleased readings, as many as the new batches can take.
    const want = (n - plans.length) * maxReadings;
    const pieces: Piece[] = [];
    let have = 0;
    for (const row of this.s.headChunks.iterate(this.cursor) as IterableIterator<ChunkRow>) {
      pieces.push(pieceOf(row));
      have += row[1] - row[0] + 1;
      if (have >= want) break;
    }
    while (plans.length < n && pieces.length > 0) {
      const taken = takeReadings(pieces, maxReadings);
      const rows = this.trimmed(packPieces(taken), maxBytes);
      const count = rows.rowids.length;
      takeReadings(taken, count);
      pieces.unshift(...taken);
      const b: BatchRow = {
        first: rows.rowids[0]!,
        last: rows.rowids[count - 1]!,
        readings: count,
        attempts: 0,
        out: false,
      };
      plans.push({ b, rows, attempts: 1, fresh: true, split: pieces.length > 0 && !pieces[0]!.rowStart });
    }
    return { plans, emptied };
  }

  /** Whether a lease now would hand out anything (a hint: appends may be committing meanwhile). */
  private hasMore(): boolean {
    if (this.count > this.leasedReadings) return true;
    for (const b of this.batches.values()) if (!b.out) return true;
    return false;
  }

  private batchOf(batchId: number): BatchRow | undefined {
    return this.batches.get(batchId - this.base);
  }

  private forgetBatch(b: BatchRow, deleted: number): void {
    this.batches.delete(b.first);
    this.leasedReadings -= b.readings;
    this.count -= deleted;
  }

  requeue(batchId: number): boolean {
    const b = this.batchOf(batchId);
    if (b === undefined) return false;
    b.out = false;
    return true;
  }

  /**
   * Moves a batch's readings (or only `seqs` of them) to the dead letters with the reason.
   * Returns the dead-letter entry id, or null for an unknown batch.
   */
  deadLetter(batchId: number, reason: string, seqs?: number[]): { entry: number; readings: number } | null {
    return this.draining(() => this.deadLetterNow(batchId, reason, seqs));
  }

  private deadLetterNow(
    batchId: number,
    reason: string,
    seqs?: number[],
  ): { entry: number; readings: number } | null {
    const b = this.batchOf(batchId);
    if (b === undefined) return null;
    let entry = 0;
    let moved = 0;
    const only = seqs?.map((s) => s - this.base).filter((r) => r >= b.first && r <= b.last);
    this.db!.transaction(() => {
      const first = only ? Math.min(...only) : b.first;
      const last = only ? Math.max(...only) : b.last;
      entry = Number(
        this.s.insertDeadLetter.run(first, last, reason, b.attempts, Date.now()).lastInsertRowid,
      );
      if (only) {
        for (const r of only) {
          this.boundaryAt(r);
          this.boundaryAt(r + 1);
          moved += this.moveToDeadLetters(entry, r, r);
        }
        this.s.setBatchReadings.run(b.readings - moved, b.first);
      } else {
        moved = this.moveToDeadLetters(entry, b.first, b.last);
        this.s.deleteBatch.run(b.first);
      }
      this.s.setDeadLetterReadings.run(moved, entry);
    })();
    if (only) {
      b.readings -= moved;
      this.leasedReadings -= moved;
      this.count -= moved;
    } else this.forgetBatch(b, moved);
    this.log("warn", `dead-lettered ${moved} readings of batch ${batchId}: ${reason}`, {
      event: "buffer_dead_letter",
      entry,
      batch: batchId,
      readings: moved,
      reason,
    });
    return { entry, readings: moved };
  }

  // ---- dead letters ----------------------------------------------------------------------------

  listDeadLetters(): DeadLetterEntry[] {
    return (this.s.listDeadLetters.all() as [number, number, number, number, string, number, number][]).map(
      ([id, first, last, readings, reason, attempts, at]) => ({
        id,
        firstSeq: this.base + first,
        lastSeq: this.base + last,
        readings,
        reason,
        attempts,
        at,
      }),
    );
  }

  private deadLetterEntry(id: number): [number, number, number, number] {
    const e = this.s.deadLetter.get(id) as [number, number, number, number] | undefined;
    if (e === undefined) throw new BufferNotFoundError(`no dead-letter entry ${id}`);
    return e;
  }

  readDeadLetter(id: number, offset: number, limit: number): StoredReadings {
    const [, first, last] = this.deadLetterEntry(id);
    const rows = this.s.deadLetterRows.all(first, last, id, limit, offset) as Row[];
    return this.packRows({ seqs: rows.map((r) => r[0]), bodies: rows.map((r) => r[1]) });
  }

  private selectEntries(sel: DeadLetterSelector): [number, number, number, number][] {
    if (sel === "all")
      return (this.s.listDeadLetters.all() as number[][]).map((r) => [r[0]!, r[1]!, r[2]!, r[3]!]);
    return [...new Set(sel)].sort((a, b) => a - b).map((id) => this.deadLetterEntry(id));
  }

  /** Appends the entries' readings again (as new readings at the tail, in their old order) and removes the entries. */
  replayDeadLetters(sel: DeadLetterSelector): ReplayResult {
    const entries = this.selectEntries(sel);
    const total = entries.reduce((n, e) => n + e[3], 0);
    if (this.count + total > this.o.maxRows)
      throw new BufferFullError(
        "max_rows",
        `replaying ${total} readings would exceed max_rows (${this.o.maxRows})`,
      );
    const startRowid = this.nextRowid;
    let moved = 0;
    const chunks = this.chunkWriter();
    try {
      this.db!.transaction(() => {
        for (const [id, first, last] of entries) {
          for (const [, body] of this.s.deadLetterRows.all(first, last, id, -1, 0) as Row[]) {
            chunks.addRun(this.nextRowid++, Uint32Array.of(body.length), body);
            moved++;
          }
          this.s.deleteDeadLetterRows.run(first, last, id);
          this.s.deleteDeadLetter.run(id);
        }
        chunks.flush();
      })();
    } catch (err) {
      this.nextRowid = startRowid;
      throw err;
    }
    this.count += moved;
    return {
      entries: entries.length,
      readings: moved,
      firstSeq: moved > 0 ? this.base + startRowid : null,
      lastSeq: moved > 0 ? this.base + this.nextRowid - 1 : null,
    };
  }

  purgeDeadLetters(sel: DeadLetterSelector): PurgeResult {
    return this.draining(() => this.purgeDeadLettersNow(sel));
  }

  private purgeDeadLettersNow(sel: DeadLetterSelector): PurgeResult {
    const entries = this.selectEntries(sel);
    let readings = 0;
    try {
      this.db!.transaction(() => {
        for (const [id, first, last] of entries) {
          readings += this.s.deleteDeadLetterRows.run(first, last, id).changes;
          this.s.deleteDeadLetter.run(id);
          this.keepHighWater(last);
        }
      })();
      this.committedHigh();
    } finally {
      this.pendingHigh = 0;
    }
    return { entries: entries.length, readings };
  }

  // ---- upkeep ----------------------------------------------------------------------------------

  /**
   * Gives free pages back to the file system once the backlog is mostly gone: only when at least
   * 4 MiB are free and the live pages are few (moving them is what costs writes). One bounded step;
   * true when another step is due.
   */
  vacuumStep(): boolean {
    const free = this.s.freeCount.get() as number;
    const live = (this.s.pageCount.get() as number) - free;
    if (free * this.pageSize < VACUUM_MIN_FREE_BYTES || live * VACUUM_LIVE_FRACTION > free) return false;
    this.db!.exec(`PRAGMA incremental_vacuum(${VACUUM_STEP_PAGES})`);
    return (this.s.freeCount.get() as number) * this.pageSize >= VACUUM_MIN_FREE_BYTES;
  }

  /** SQLite gives back the page cache and other memory it can do without (PRAGMA shrink_memory). */
  shrinkMemory(): void {
    this.db!.exec("PRAGMA shrink_memory");
  }

  stats(): StoreStats {
    const oldest = this.s.oldest.get() as [Uint8Array, Uint8Array] | undefined;
    let oldestTs: number | null = null;
    if (oldest !== undefined) {
      try {
        oldestTs = tsOf(oldest[1].subarray(0, lengthsOf(oldest[0])[0]));
      } catch {
        oldestTs = null;
      }
    }
    const [entries, dlReadings] = this.s.deadLetterTotals.get() as [number, number];
    return {
      readings: this.count,
      bytes: this.usedBytes(),
      fileBytes: fileBytes(this.o.file),
      leasedBatches: this.batches.size,
      leasedReadings: this.leasedReadings,
      oldestTs,
      nextSeq: this.base + this.nextRowid,
      deadLetterEntries: entries,
      deadLetterReadings: dlReadings,
      dropped: { ...this.dropped },
      rejected: { ...this.rejected },
      quarantinedThisRun: this.quarantinedThisRun,
      quarantinedOnDisk: countQuarantined(this.o.dir),
      commits: this.commits,
      committedReadings: this.committedReadings,
      refusing: this.refusing(),
    };
  }

  close(): void {
    this.dropLog.flush();
    this.rejectLog.flush();
    const db = this.db;
    if (db === null) return;
    try {
      while (this.vacuumStep());
    } catch (err) {
      this.log(
        "warn",
        `buffer could not reclaim free space at close: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    this.db = null;
    try {
      db.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      db.close();
    }
  }
}
