// The durable store-and-forward buffer: what the rest of the gateway imports.
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
export { downgradeBuffer, type DowngradeResult } from "./store-downgrade.js";
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
