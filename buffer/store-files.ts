// The buffer's directory on disk: which failures mean "this file is damaged", moving a damaged
// buffer aside (never deleting it), and turning SQLite and OS errors into the buffer's own errors.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  statSync,
} from "node:fs";
import { basename, dirname } from "node:path";
import { BufferError, BufferLockedError, BufferStorageError } from "./errors.js";

const SQLITE_MAGIC = "SQLite format 3\0";

/** The file is damaged: SQLite said so, or our own checks did. */
export class CorruptFileError extends Error {}

function codeOf(err: unknown): string {
  return typeof err === "object" && err !== null && typeof (err as { code?: unknown }).code === "string"
    ? (err as { code: string }).code
    : "";
}

export function isCorruption(err: unknown): boolean {
  if (err instanceof CorruptFileError) return true;
  const code = codeOf(err);
  // "unsupported file format": the header's schema format is beyond any SQLite's (4 since 2006):
  // damage, not a newer writer (and a quarantined file is moved aside, never deleted).
  return (
    code.startsWith("SQLITE_CORRUPT") ||
    code.startsWith("SQLITE_NOTADB") ||
    (code === "SQLITE_ERROR" && err instanceof Error && /unsupported file format/.test(err.message))
  );
}

/** Maps an error from SQLite or the file system onto the buffer's errors (never a corruption error). */
export function storageError(err: unknown, doing: string): BufferError {
  if (err instanceof BufferError) return err;
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (code === "SQLITE_FULL" || code === "ENOSPC")
    return new BufferStorageError(
      "BUFFER_DISK_FULL",
      `disk full while ${doing} (${message}); nothing of it was stored`,
      code,
    );
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return new BufferLockedError(
      `buffer is in use by another process (is the gateway running?) while ${doing}: ${message}`,
    );
  return new BufferStorageError(
    "BUFFER_IO",
    `storage error while ${doing}: ${message}${code ? ` (${code})` : ""}`,
    code || undefined,
  );
}

/** Reads the first 16 bytes; a non-empty file that is not SQLite is damaged (or not ours). */
export function checkHeader(file: string): void {
  if (!existsSync(file)) return;
  const size = statSync(file).size;
  if (size === 0) return;
  const fd = openSync(file, "r");
  try {
    const head = Buffer.alloc(16);
    const n = readSync(fd, head, 0, 16, 0);
    if (n < 16 || head.toString("latin1") !== SQLITE_MAGIC)
      throw new CorruptFileError(`${file} does not start with the SQLite header`);
  } finally {
    closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself has happened.
  }
}

/**
 * Renames the whole buffer directory (database, WAL and all) to `<dir>.corrupt-<time>` in one atomic
 * step, so the database and its log cannot be separated, and returns the new name.
 */
export function quarantineDir(dir: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  let target = `${dir}.corrupt-${stamp}`;
  for (let i = 1; existsSync(target); i++) target = `${dir}.corrupt-${stamp}-${i}`;
  renameSync(dir, target);
  fsyncDir(dirname(dir));
  return target;
}

/** How many quarantined buffers lie next to this one, waiting for a person to look at them. */
export function countQuarantined(dir: string): number {
  const prefix = `${basename(dir)}.corrupt-`;
  try {
    return readdirSync(dirname(dir)).filter((n) => n.startsWith(prefix)).length;
  } catch {
    return 0;
  }
}

export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
}

export function fileBytes(file: string): number {
  let total = 0;
  for (const f of [file, `${file}-wal`]) {
    try {
      total += statSync(f).size;
    } catch {
      // absent
    }
  }
  return total;
}
