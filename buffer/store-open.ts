// Opening the buffer file: create it when new, refuse what is not ours, verify what is, and move a
// damaged buffer aside so the gateway starts on a fresh one instead of crash-looping.
import Database from "better-sqlite3";
import { existsSync, statSync } from "node:fs";
import { BufferFormatError, BufferNotFoundError, BufferStorageError } from "./errors.js";
import type { ResolvedOptions } from "./options.js";
import {
  CorruptFileError,
  checkHeader,
  ensureDir,
  isCorruption,
  quarantineDir,
  storageError,
} from "./store-files.js";
import { migrateToChunks } from "./store-migrate.js";
import { APPLICATION_ID, FORMAT_VERSION, MARKS_TABLE, SCHEMA, TABLES } from "./store-schema.js";

type DB = Database.Database;

/** Page cache of the connection: the newest pages of the table are what appends touch. */
const CACHE_KIB = 8000;
/** Bounds the write-ahead log left on disk after a large transaction. */
const JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024;
export const BUSY_TIMEOUT_MS = 1000;

/** auto_vacuum can only be chosen while there are no tables; on a file already written it takes a VACUUM. */
function enableAutoVacuum(db: DB): void {
  db.pragma("auto_vacuum = INCREMENTAL");
  if (db.pragma("auto_vacuum", { simple: true }) !== 2) db.exec("VACUUM");
}

/**
 * The file's format version, 0 for a file without tables (new, or left so by a kill during its
 * creation); throws unless it is a buffer this version can use. Reads only.
 */
export function identify(db: DB, file: string): number {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all() as string[]).filter(
      (n) => !n.startsWith("sqlite_"),
    ),
  );
  const appId = db.pragma("application_id", { simple: true }) as number;
  const version = db.pragma("user_version", { simple: true }) as number;
  if (appId === 0 && version === 0 && tables.size === 0) return 0;
  if (appId !== APPLICATION_ID)
    throw new BufferFormatError(
      `${file} is a SQLite database of another application (application_id ${appId}); not touching it`,
    );
  if (version > FORMAT_VERSION)
    throw new BufferFormatError(
      `${file} has buffer format ${version}, newer than this gateway understands (${FORMAT_VERSION}); upgrade the gateway, or stop the newer one and have it rewrite the file with \`iggy-edge buffer downgrade --format ${FORMAT_VERSION}\``,
    );
  const expected = TABLES[version];
  if (expected === undefined) throw new CorruptFileError(`unknown buffer format ${version}`);
  const missing = expected.filter((t) => !tables.has(t));
  if (missing.length > 0) throw new CorruptFileError(`tables missing: ${missing.join(", ")}`);
  return version;
}

/**
 * Opens the file, creating the buffer when it is new (its sequence numbers starting above
 * `minBase`), and verifies an existing one with SQLite's quick_check. Damage surfaces as
 * CorruptFileError or SQLite's own corruption errors; the connection is closed on any failure.
 */
function openVerified(o: ResolvedOptions, minBase: number): DB {
  checkHeader(o.file);
  const existed = existsSync(o.file) && statSync(o.file).size > 0;
  const db = new Database(o.file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.pragma("locking_mode = EXCLUSIVE");
    // Nothing is written before the file is known to be ours (or new).
    const version = identify(db, o.file);
    const fresh = version === 0;
    if (fresh) enableAutoVacuum(db);
    const mode = db.pragma("journal_mode = WAL", { simple: true });
    if (mode !== "wal")
      throw new BufferStorageError("BUFFER_IO", `cannot put ${o.file} in WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${o.sync === "full" ? "FULL" : "NORMAL"}`);
    db.pragma(`cache_size = -${CACHE_KIB}`);
    db.pragma(`journal_size_limit = ${JOURNAL_SIZE_LIMIT}`);
    if (o.maxPageCount > 0) db.pragma(`max_page_count = ${o.maxPageCount}`);
    // In EXCLUSIVE locking mode the write lock taken here is held until close: a second gateway or
    // a CLI command on the same directory gets SQLITE_BUSY instead of a silently shared file.
    db.exec("BEGIN IMMEDIATE");
    try {
      if (fresh) {
        db.exec(SCHEMA);
        db.prepare("INSERT INTO meta (key, value) VALUES ('seq_base', ?)").run(Math.floor(minBase));
      }
      // Added after format 1 was released: a file of an earlier version gets it here.
      db.exec(MARKS_TABLE);
      if (version === 1) migrateToChunks(db);
      db.exec("COMMIT");
    } catch (err) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw err;
    }
    if (existed) {
      const problems = (db.pragma("quick_check(5)") as { quick_check: string }[]).map((r) => r.quick_check);
      if (problems.length !== 1 || problems[0] !== "ok")
        throw new CorruptFileError(`quick_check: ${problems.join("; ")}`);
    }
    return db;
  } catch (err) {
    closeQuietly(db);
    throw err;
  }
}

export function closeQuietly(db: DB | null): void {
  try {
    db?.close();
  } catch {
    // already broken; the file is what matters
  }
}

/**
 * Moves the damaged buffer directory aside (never deletes it) and says where to; the caller logs
 * it and counts it.
 */
export function quarantine(o: ResolvedOptions): string {
  try {
    return quarantineDir(o.dir);
  } catch (err) {
    throw storageError(err, `moving the corrupt buffer ${o.dir} aside`);
  }
}

/**
 * Opens the buffer in `o.dir`; a damaged one is quarantined (reported through `quarantined`) and
 * a fresh one opened in its place. Every other failure is a BufferError.
 */
export function openDatabase(
  o: ResolvedOptions,
  minBase: number,
  quarantined: (to: string, cause: unknown) => void,
): DB {
  if (!o.create && !existsSync(o.file))
    throw new BufferNotFoundError(`no buffer at ${o.file} (wrong --data-dir?)`);
  try {
    ensureDir(o.dir);
  } catch (err) {
    throw storageError(err, `creating ${o.dir}`);
  }
  try {
    return openVerified(o, minBase);
  } catch (err) {
    if (!isCorruption(err)) throw storageError(err, `opening ${o.file}`);
    quarantined(quarantine(o), err);
  }
  try {
    ensureDir(o.dir);
    return openVerified(o, minBase);
  } catch (err) {
    throw storageError(err, `opening a fresh buffer at ${o.file}`);
  }
}
