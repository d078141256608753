// The durable store-and-forward buffer: what the rest of the gateway imports. The downgrade of a
// buffer file (`./store-downgrade.js`, with SQLite in the thread that calls it) is imported on its own,
// so that a running gateway's main thread loads no SQLite.
export type {
  AppendOptions,
  AppendResult,
  Batch,
  BufferStats,
  ExchangeRequest,
  ExchangeResult,
  LeaseOptions,
  ReadingBuffer,
  StoredReading,
} from "./api.js";
export { openBuffer } from "./buffer.js";
export { FORMAT_VERSION } from "./store-schema.js";
export { readingAt, type ReadingColumns, type SeriesDef } from "./reading-codec.js";
export {
  BufferClosedError,
  BufferError,
  BufferFormatError,
  BufferFullError,
  BufferLockedError,
  BufferNotFoundError,
  BufferOverloadedError,
  BufferStorageError,
  InvalidReadingError,
  type BufferErrorCode,
  type FullReason,
} from "./errors.js";
export { BUFFER_FILE, bufferDir, type BufferOptions, type OnFull, type SyncMode } from "./options.js";
export type { DeadLetterEntry, DeadLetterSelector, PurgeResult, ReplayResult } from "./wire.js";
