// What the rest of the gateway sees of the buffer: the ReadingBuffer interface and its data.
import type { Reading } from "../protocols/adapter.js";
import type { ReadingColumns } from "./reading-codec.js";
import type { DeadLetterEntry, DeadLetterSelector, PurgeResult, ReplayResult, StoreStats } from "./wire.js";

export interface AppendResult {
  /** Sequence numbers of the call's first and last reading (consecutive); for an empty call lastSeq = firstSeq - 1. */
  firstSeq: number;
  lastSeq: number;
  count: number;
}

export interface Batch {
  /** The handle for release/requeue/deadLetter; equal to firstSeq. */
  id: number;
  /** Sequence number of the batch's first reading: with the gateway id, the Iggy message id. */
  firstSeq: number;
  lastSeq: number;
  /** How many readings the batch holds (readings.length, without building them). */
  count: number;
  /** The readings as objects; built on first use from `columns`. */
  readings: Reading[];
  /** The readings by column, as decoded from storage: the binary codecs encode from these (not enumerable). */
  columns: ReadingColumns;
  /** 1 on the first lease; more when the batch is handed out again (after a crash or a requeue). */
  attempts: number;
}

export interface LeaseOptions {
  maxReadings: number;
  /** Bound on the batch's readings in stored bytes plus their device/point/unit/tag names. */
  maxBytes?: number;
}

export interface ExchangeRequest {
  /** Batches Iggy confirmed: released as release() releases them, before anything is leased. */
  release?: number[];
  /** Lease up to `batches` batches (default 1) as lease() would, one after the other; omitted: none. */
  lease?: LeaseOptions & { batches?: number };
  /**
   * The caller holds no batch (it starts, or starts over after a failure): every batch leased
   * before and not released is handed out again first, in order, as after a crash.
   */
  resume?: boolean;
}

export interface ExchangeResult {
  /** Per id in `release`: false when the batch was unknown (already released). */
  released: boolean[];
  /**
   * The leased batches, in order; each follows those of every call made before this one. Unlike
   * lease(), a batch whose readings all fail to decode is not replaced: it comes back with no
   * readings (they are in the dead letters and the batch is gone).
   */
  batches: Batch[];
  /** Whether a lease now would hand out more (a hint: appends commit meanwhile). */
  more: boolean;
}

export interface StoredReading {
  seq: number;
  /** The reading, or why its stored bytes do not decode. */
  reading: Reading | null;
  error?: string;
}

/**
 * Small keys a source keeps durably beside its readings, in the same transaction (MQTT client mode:
 * the QoS2 packet ids it stored and whose PUBREL has not come). Applied in this order.
 */
export interface MarkChanges {
  /** Every mark that starts with this is removed. */
  clearPrefix?: string;
  clear?: string[];
  set?: string[];
}

export interface AppendOptions {
  /**
   * A device waits for this commit before it is acknowledged: the commit starts within
   * ackCommitGapMs instead of commitIntervalMs, or sooner (ackCommitEarly) once as many awaited calls
   * wait as the previous commit held. Readings appended earlier share it (order is kept).
   */
  awaited?: boolean;
  /**
   * Committed in the transaction of the call's readings, and only if they are stored. A call with
   * marks and no readings commits the marks alone (never refused as full).
   */
  marks?: MarkChanges;
}

export interface BufferStats extends StoreStats {
  /** Age of the oldest buffered reading by its source timestamp, ms; null when empty. */
  oldestAgeMs: number | null;
  /** Readings handed to append() whose commit has not finished. */
  pendingReadings: number;
}

export interface ReadingBuffer {
  /**
   * Stores the readings durably. Resolves after their transaction committed (acknowledge devices
   * then); rejects with BufferFullError, BufferStorageError, InvalidReadingError,
   * BufferOverloadedError or BufferClosedError, and then none of the call's readings was stored.
   */
  append(readings: Reading[], options?: AppendOptions): Promise<AppendResult>;
  /** The marks that start with `prefix` (see AppendOptions.marks), in key order. */
  readMarks(prefix: string): Promise<string[]>;
  /** The next batch to send (a batch left unconfirmed by a crashed run first), or null when there is nothing. */
  lease(options: LeaseOptions): Promise<Batch | null>;
  /** Iggy confirmed the batch: its readings are deleted. False when the batch is unknown (already released). */
  release(batchId: number): Promise<boolean>;
  /**
   * Releases and leases in one round trip to the store and one transaction (fsynced only when it
   * leases): how a forwarder keeps several batches in flight. Calls may overlap.
   */
  exchange(request: ExchangeRequest): Promise<ExchangeResult>;
  /** Gives a leased batch back unsent; the next lease returns it again, identical. */
  requeue(batchId: number): Promise<boolean>;
  /** The batch can never be sent: its readings move to the dead letters. Returns the entry id, or null for an unknown batch. */
  deadLetter(batchId: number, reason: string): Promise<number | null>;
  listDeadLetters(): Promise<DeadLetterEntry[]>;
  readDeadLetter(entry: number, options?: { offset?: number; limit?: number }): Promise<StoredReading[]>;
  /** Appends the entries' readings again as new readings, in their old order, and removes the entries. */
  replayDeadLetters(entries: DeadLetterSelector): Promise<ReplayResult>;
  purgeDeadLetters(entries: DeadLetterSelector): Promise<PurgeResult>;
  stats(): Promise<BufferStats>;
  /**
   * The worker gives back what it can do without: SQLite's page cache, and its V8 heap collected
   * and compacted. For a quiet moment: the worker's thread is busy with it for a few ms.
   */
  reduceMemory?(): Promise<void>;
  /**
   * Null while the buffer works; once its worker thread died, why. From then on every call fails
   * with that error: nothing more can be stored or read until the process restarts.
   */
  readonly failure: Error | null;
  /** Calls `listener` once, when the worker thread dies (not on close()). */
  onFailure(listener: (error: Error) => void): void;
  /** Commits what is pending, checkpoints and closes the file. */
  close(): Promise<void>;
}
