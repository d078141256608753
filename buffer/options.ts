// What the buffer is configured with. The config loader maps `buffer: { max_bytes, max_rows,
// on_full, sync, commit_interval_ms, ack_commit_gap_ms, ack_commit_early }` of the YAML file onto BufferOptions.
import { resolve } from "node:path";
import type { Logger } from "pino";

export type OnFull = "reject_new" | "drop_oldest";
export type SyncMode = "full" | "normal";

export interface BufferOptions {
  /**
   * Directory holding the buffer's files (buffer.db and its write-ahead log), created if missing.
   * Usually `<gateway.data_dir>/buffer`. A corrupt buffer is quarantined by renaming this directory.
   */
  dir: string;
  /** Budget for the database's pages in use (readings, dead letters, bookkeeping). Default 512 MiB. */
  maxBytes?: number;
  /** Optional budget in buffered readings. */
  maxRows?: number;
  /** What happens at the budget. Default `reject_new`. */
  onFull?: OnFull;
  /** `full` (default) survives power loss; `normal` may lose the last commits on power loss (not on a crash). */
  sync?: SyncMode;
  /**
   * Readings nobody waits for (appended without `awaited`) wait at most this long for their commit
   * to start, measured from the start of the previous commit; an idle buffer commits at once. Each
   * commit costs about 9 KiB of device writes (a WAL frame straddling two file-system pages, and an
   * fsync) however few readings it holds, so this bounds the write rate an SD card sees under a
   * steady trickle of polled readings: 20 commits/s at the default. Default 50 ms.
   */
  commitIntervalMs?: number;
  /**
   * Once an append that a device waits for (`awaited`) is pending, the next commit starts this long
   * after the previous one started, or at once if that is past: the shortest spacing of commits,
   * so a stream of acknowledged readings makes at most 1000 / ackCommitGapMs commits a second.
   * Capped at commitIntervalMs. Default 5 ms.
   */
  ackCommitGapMs?: number;
  /**
   * A commit of awaited appends starts without waiting out the gap once as many awaited append
   * calls wait as the most any of the last four commits held: devices that each wait for their acknowledgement before
   * sending again have all sent their next, so waiting longer would add latency and save no write.
   * The gap still spaces commits when fewer are back. false: every awaited commit waits out the gap.
   * Default true.
   */
  ackCommitEarly?: boolean;
  /** A group commit starts at once (whatever the interval and gap) once this many readings wait. Default 1000. */
  commitMaxRows?: number;
  /** Encoded bytes accepted but not yet committed, beyond which appends fail with BUFFER_OVERLOADED. Default 32 MiB. */
  maxPendingBytes?: number;
  /** Largest stored size of one reading (opaque payloads). Default 1 MiB. */
  maxReadingBytes?: number;
  /** Distinct series (device, point, unit, tags) kept in the name dictionary. Default 65536. */
  seriesLimit?: number;
  /** Open only an existing buffer (the CLI); false fails with BUFFER_NOT_FOUND instead of creating one. Default true. */
  create?: boolean;
  log?: Logger;
  /** SQLite's max_page_count: a hard cap on the file in 4 KiB pages. For tests that provoke a full disk. */
  maxPageCount?: number;
}

export interface ResolvedOptions {
  dir: string;
  file: string;
  maxBytes: number;
  maxRows: number;
  onFull: OnFull;
  sync: SyncMode;
  commitIntervalMs: number;
  ackCommitGapMs: number;
  ackCommitEarly: boolean;
  commitMaxRows: number;
  maxPendingBytes: number;
  maxReadingBytes: number;
  seriesLimit: number;
  create: boolean;
  maxPageCount: number;
}

export const BUFFER_FILE = "buffer.db";

/** Where the buffer lives inside the gateway's data directory (`gateway.data_dir`). */
export function bufferDir(dataDir: string): string {
  return resolve(dataDir, "buffer");
}
/** Below this, the schema alone would not fit. */
export const MIN_MAX_BYTES = 64 * 1024;

function positive(name: string, v: number | undefined, fallback: number, min = 1): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !(v >= min) || (v !== Infinity && !Number.isInteger(v)))
    throw new TypeError(`buffer option ${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function flag(name: string, v: boolean | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v !== "boolean")
    throw new TypeError(`buffer option ${name} must be true or false, got ${String(v)}`);
  return v;
}

export function resolveOptions(o: BufferOptions): ResolvedOptions {
  if (typeof o.dir !== "string" || o.dir === "")
    throw new TypeError("buffer option dir must be a directory path");
  const onFull = o.onFull ?? "reject_new";
  if (onFull !== "reject_new" && onFull !== "drop_oldest")
    throw new TypeError(`buffer option onFull must be "reject_new" or "drop_oldest", got ${String(onFull)}`);
  const sync = o.sync ?? "full";
  if (sync !== "full" && sync !== "normal")
    throw new TypeError(`buffer option sync must be "full" or "normal", got ${String(sync)}`);
  const dir = resolve(o.dir);
  const commitIntervalMs = positive("commitIntervalMs", o.commitIntervalMs, 50, 0);
  return {
    dir,
    file: resolve(dir, BUFFER_FILE),
    maxBytes: positive("maxBytes", o.maxBytes, 512 * 1024 * 1024, MIN_MAX_BYTES),
    maxRows: positive("maxRows", o.maxRows, Infinity),
    onFull,
    sync,
    commitIntervalMs,
    ackCommitGapMs: Math.min(commitIntervalMs, positive("ackCommitGapMs", o.ackCommitGapMs, 5, 0)),
    ackCommitEarly: flag("ackCommitEarly", o.ackCommitEarly, true),
    commitMaxRows: positive("commitMaxRows", o.commitMaxRows, 1000),
    maxPendingBytes: positive("maxPendingBytes", o.maxPendingBytes, 32 * 1024 * 1024),
    maxReadingBytes: positive("maxReadingBytes", o.maxReadingBytes, 1024 * 1024, 64),
    seriesLimit: positive("seriesLimit", o.seriesLimit, 65536, 0),
    create: o.create ?? true,
    maxPageCount: positive("maxPageCount", o.maxPageCount, 0, 0),
  };
}
