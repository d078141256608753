// The errors the buffer reports. Each has a stable `code` that callers switch on; the worker thread
// sends errors as plain data and `errorFromWire` rebuilds the same class on the main thread.

export type BufferErrorCode =
  | "BUFFER_FULL"
  | "BUFFER_DISK_FULL"
  | "BUFFER_IO"
  | "BUFFER_CLOSED"
  | "BUFFER_OVERLOADED"
  | "BUFFER_INVALID_READING"
  | "BUFFER_LOCKED"
  | "BUFFER_FORMAT"
  | "BUFFER_NOT_FOUND";

export class BufferError extends Error {
  readonly code: BufferErrorCode;
  constructor(code: BufferErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = new.target.name;
  }
}

export type FullReason = "max_bytes" | "max_rows";

/** reject_new: the budget is used up; the readings were not stored and must not be acknowledged. */
export class BufferFullError extends BufferError {
  constructor(
    readonly reason: FullReason,
    message: string,
  ) {
    super("BUFFER_FULL", message);
  }
}

/** The disk is full (code BUFFER_DISK_FULL) or the storage failed (BUFFER_IO); nothing of the failed call was stored. */
export class BufferStorageError extends BufferError {
  constructor(
    code: "BUFFER_DISK_FULL" | "BUFFER_IO",
    message: string,
    /** SQLite's or the OS's own code (SQLITE_FULL, SQLITE_IOERR_FSYNC, EACCES), when there is one. */
    readonly causeCode?: string,
  ) {
    super(code, message);
  }
}

export class BufferClosedError extends BufferError {
  constructor(message = "the buffer is closed") {
    super("BUFFER_CLOSED", message);
  }
}

/** More readings are waiting for their commit than `maxPendingBytes` allows; nothing of the call was stored. */
export class BufferOverloadedError extends BufferError {
  constructor(message: string) {
    super("BUFFER_OVERLOADED", message);
  }
}

/** A reading that cannot be stored faithfully; nothing of the call was stored. */
export class InvalidReadingError extends BufferError {
  constructor(
    /** Index of the offending reading within the append call. */
    readonly index: number,
    message: string,
  ) {
    super("BUFFER_INVALID_READING", message);
  }
}

/** Another process (a running gateway, usually) holds the buffer file. */
export class BufferLockedError extends BufferError {
  constructor(message: string) {
    super("BUFFER_LOCKED", message);
  }
}

/** The file is a healthy SQLite database but not a buffer this version can use (foreign, or newer). */
export class BufferFormatError extends BufferError {
  constructor(message: string) {
    super("BUFFER_FORMAT", message);
  }
}

/** `create: false` and there is no buffer file. */
export class BufferNotFoundError extends BufferError {
  constructor(message: string) {
    super("BUFFER_NOT_FOUND", message);
  }
}

export interface WireError {
  name: string;
  code?: string;
  message: string;
  reason?: string;
  index?: number;
  causeCode?: string;
}

export function errorToWire(err: unknown): WireError {
  if (err instanceof BufferFullError)
    return { name: err.name, code: err.code, message: err.message, reason: err.reason };
  if (err instanceof BufferStorageError)
    return {
      name: err.name,
      code: err.code,
      message: err.message,
      ...(err.causeCode ? { causeCode: err.causeCode } : {}),
    };
  if (err instanceof InvalidReadingError)
    return { name: err.name, code: err.code, message: err.message, index: err.index };
  if (err instanceof BufferError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

export function errorFromWire(w: WireError): Error {
  switch (w.code) {
    case "BUFFER_FULL":
      return new BufferFullError((w.reason as FullReason) ?? "max_bytes", w.message);
    case "BUFFER_DISK_FULL":
    case "BUFFER_IO":
      return new BufferStorageError(w.code, w.message, w.causeCode);
    case "BUFFER_CLOSED":
      return new BufferClosedError(w.message);
    case "BUFFER_OVERLOADED":
      return new BufferOverloadedError(w.message);
    case "BUFFER_INVALID_READING":
      return new InvalidReadingError(w.index ?? -1, w.message);
    case "BUFFER_LOCKED":
      return new BufferLockedError(w.message);
    case "BUFFER_FORMAT":
      return new BufferFormatError(w.message);
    case "BUFFER_NOT_FOUND":
      return new BufferNotFoundError(w.message);
  }
  const e = new Error(w.message);
  e.name = w.name;
  return e;
}
