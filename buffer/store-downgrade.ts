// `iggy-edge buffer downgrade`: rewrites a stopped gateway's buffer file into an older format, so
// that a rollback to a version that knows only that format opens it with every reading, batch and
// dead letter. One transaction: a failure (or a kill) leaves the file as it was.
import Database from "better-sqlite3";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BufferFormatError } from "./errors.js";
import { BUFFER_FILE } from "./options.js";
import { checkHeader, storageError } from "./store-files.js";
import { migrateToRows } from "./store-migrate.js";
import { BUSY_TIMEOUT_MS, closeQuietly, identify } from "./store-open.js";
import { FORMAT_VERSION } from "./store-schema.js";

/** Each format's step down to the one before it; returns the readings it rewrote. */
const STEP_DOWN: Record<number, (db: Database.Database) => number> = { 2: migrateToRows };

export interface DowngradeResult {
  file: string;
  /** The file's format before: 0 when there is no buffer yet (any version creates one). */
  from: number;
  /** Its format now. */
  to: number;
  /** Readings rewritten (0 when there was nothing to do). */
  readings: number;
}

export function downgradeBuffer(dir: string, to: number): DowngradeResult {
  if (!Number.isSafeInteger(to) || to < 1 || to > FORMAT_VERSION)
    throw new BufferFormatError(
      `no buffer format ${to} to go to: this version knows formats 1 to ${FORMAT_VERSION}`,
    );
  const file = resolve(dir, BUFFER_FILE);
  if (!existsSync(file)) return { file, from: 0, to: 0, readings: 0 };
  let db: Database.Database | null = null;
  try {
    checkHeader(file);
    db = new Database(file, { timeout: BUSY_TIMEOUT_MS, fileMustExist: true });
    // As the gateway opens it: the lock is held until close, and a running gateway's makes this fail.
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("synchronous = FULL");
    db.exec("BEGIN IMMEDIATE");
    const from = identify(db, file);
    let readings = 0;
    for (let v = from; v > to; v--) readings += STEP_DOWN[v]!(db);
    db.exec("COMMIT");
    return { file, from, to: Math.min(from, to), readings };
  } catch (err) {
    if (db?.inTransaction) db.exec("ROLLBACK");
    throw storageError(err, `downgrading ${file} to buffer format ${to}`);
  } finally {
    closeQuietly(db);
  }
}
