// Messages between the Buffer (main thread) and the store worker that owns the database.
// Readings cross as one transferred byte string per frame, never as objects.
import type { WireError } from "./errors.js";
import type { MarkChanges } from "./api.js";
import type { SeriesRow } from "./series-dictionary.js";

/** Many append calls, gathered during one turn of the main event loop. */
export interface AppendFrame {
  op: "append";
  id: number;
  /** Stored readings back to back: `used` bytes from `offset` (0 when absent). */
  bytes: ArrayBuffer;
  offset?: number;
  used: number;
  /** Byte length of each reading. */
  lengths: Uint32Array;
  /** Readings per append call, in call order; a call is committed or refused as a whole. */
  calls: Uint32Array;
  series: SeriesRow[];
  /** Calls a device waits for (awaited): the worker commits them promptly (ackCommitGapMs, ackCommitEarly). */
  awaitedCalls: number;
  /** The marks of calls that carry some: `call` is the call's index. */
  marks: (MarkChanges & { call: number })[];
}

export interface AppendOutcome {
  /** Per call: the sequence number of its first reading, or NaN when it was refused. */
  firsts: Float64Array;
  /** Per refused call: [call index, why]. */
  errors: [number, WireError][];
}

export type DeadLetterSelector = number[] | "all";

export type Request =
  | AppendFrame
  | { op: "exchange"; id: number; release: number[]; lease: LeaseRequest | null; resume: boolean }
  | { op: "requeue"; id: number; batchId: number }
  | { op: "deadLetter"; id: number; batchId: number; reason: string; seqs?: number[] }
  | { op: "listDeadLetters"; id: number }
  | { op: "readDeadLetter"; id: number; entry: number; offset: number; limit: number }
  | { op: "replayDeadLetters"; id: number; entries: DeadLetterSelector }
  | { op: "purgeDeadLetters"; id: number; entries: DeadLetterSelector }
  | { op: "stats"; id: number }
  | { op: "reduceMemory"; id: number }
  | { op: "readMarks"; id: number; prefix: string }
  | { op: "close"; id: number };

/** Stored readings as the worker hands them over: bodies back to back plus their sequence numbers. */
export interface StoredReadings {
  bytes: ArrayBuffer;
  lengths: Uint32Array;
  seqs: Float64Array;
}

export interface LeasedBatch extends StoredReadings {
  firstSeq: number;
  lastSeq: number;
  attempts: number;
}

export interface LeaseRequest {
  maxReadings: number;
  maxBytes: number;
  /** How many batches to lease, at most. */
  batches: number;
}

/** What an exchange did: per released id, the readings deleted (null: unknown batch); the leased batches in order. */
export interface Exchanged {
  released: (number | null)[];
  batches: LeasedBatch[];
  /** Whether a lease now would hand out more. */
  more: boolean;
}

export interface DeadLetterEntry {
  id: number;
  firstSeq: number;
  lastSeq: number;
  readings: number;
  reason: string;
  attempts: number;
  /** When it was dead-lettered, ms since the epoch. */
  at: number;
}

export interface ReplayResult {
  entries: number;
  readings: number;
  /** Sequence numbers the replayed readings got (they are new readings at the tail), or null when none. */
  firstSeq: number | null;
  lastSeq: number | null;
}

export interface PurgeResult {
  entries: number;
  readings: number;
}

export interface StoreStats {
  readings: number;
  bytes: number;
  fileBytes: number;
  leasedBatches: number;
  leasedReadings: number;
  oldestTs: number | null;
  nextSeq: number;
  deadLetterEntries: number;
  deadLetterReadings: number;
  dropped: Record<string, number>;
  rejected: Record<string, number>;
  quarantinedThisRun: number;
  quarantinedOnDisk: number;
  commits: number;
  committedReadings: number;
  /** Why new readings are refused for the storage (disk full, I/O error) until an append commits; null when not. */
  refusing: string | null;
}

export interface ReadyInfo {
  series: SeriesRow[];
  readings: number;
  pendingBatches: number;
}

export type WorkerMessage =
  | { type: "ready"; info: ReadyInfo }
  | { type: "failed"; error: WireError }
  | { type: "reply"; id: number; ok: true; value: unknown }
  | { type: "reply"; id: number; ok: false; error: WireError }
  | {
      type: "log";
      level: "debug" | "info" | "warn" | "error";
      msg: string;
      fields?: Record<string, unknown>;
    };
