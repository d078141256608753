// Every SQL statement the store runs, prepared once per connection.
import type Database from "better-sqlite3";
import { INSERT_CHUNK } from "./store-schema.js";

type DB = Database.Database;

export function statements(db: DB) {
  const raw = (sql: string) => db.prepare(sql).raw(true);
  const pluck = (sql: string) => db.prepare(sql).pluck(true);
  return {
    insertChunk: db.prepare(INSERT_CHUNK),
    insertSeries: db.prepare("INSERT OR IGNORE INTO series (id, def) VALUES (?, ?)"),
    pageCount: pluck("PRAGMA page_count"),
    freeCount: pluck("PRAGMA freelist_count"),
    headChunks: raw("SELECT first, last, lengths, body FROM chunks WHERE first > ? ORDER BY first"),
    rangeChunks: raw(
      "SELECT first, last, lengths, body FROM chunks WHERE first BETWEEN ? AND ? ORDER BY first",
    ),
    /** The last chunk that starts before a rowid (it holds the rowid if its last reaches it). */
    chunkBefore: raw(
      "SELECT first, last, lengths, body FROM chunks WHERE first < ? ORDER BY first DESC LIMIT 1",
    ),
    shortenChunk: db.prepare("UPDATE chunks SET last = ?, lengths = ?, body = ? WHERE first = ?"),
    rangeCount: pluck("SELECT coalesce(sum(last - first + 1), 0) FROM chunks WHERE first BETWEEN ? AND ?"),
    deleteRange: db.prepare("DELETE FROM chunks WHERE first BETWEEN ? AND ?"),
    oldest: raw("SELECT lengths, body FROM chunks ORDER BY first LIMIT 1"),
    insertBatch: db.prepare(
      "INSERT INTO batches (first_seq, last_seq, readings, attempts, leased_at) VALUES (?, ?, ?, ?, ?)",
    ),
    bumpAttempts: db.prepare("UPDATE batches SET attempts = ?, leased_at = ? WHERE first_seq = ?"),
    setBatchReadings: db.prepare("UPDATE batches SET readings = ? WHERE first_seq = ?"),
    deleteBatch: db.prepare("DELETE FROM batches WHERE first_seq = ?"),
    setMeta: db.prepare(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    ),
    insertDeadLetter: db.prepare(
      "INSERT INTO dead_letters (first_seq, last_seq, readings, reason, attempts, at) VALUES (?, ?, 0, ?, ?, ?)",
    ),
    setDeadLetterReadings: db.prepare("UPDATE dead_letters SET readings = ? WHERE id = ?"),
    insertDeadLetterReading: db.prepare(
      "INSERT INTO dead_letter_readings (seq, entry, body) VALUES (?, ?, ?)",
    ),
    listDeadLetters: raw(
      "SELECT id, first_seq, last_seq, readings, reason, attempts, at FROM dead_letters ORDER BY id",
    ),
    deadLetter: raw("SELECT id, first_seq, last_seq, readings FROM dead_letters WHERE id = ?"),
    deadLetterRows: raw(
      "SELECT seq, body FROM dead_letter_readings WHERE seq BETWEEN ? AND ? AND entry = ? ORDER BY seq LIMIT ? OFFSET ?",
    ),
    deleteDeadLetterRows: db.prepare(
      "DELETE FROM dead_letter_readings WHERE seq BETWEEN ? AND ? AND entry = ?",
    ),
    deleteDeadLetter: db.prepare("DELETE FROM dead_letters WHERE id = ?"),
    setMark: db.prepare("INSERT OR IGNORE INTO marks (key) VALUES (?)"),
    clearMark: db.prepare("DELETE FROM marks WHERE key = ?"),
    clearMarkRange: db.prepare("DELETE FROM marks WHERE key >= ? AND key < ?"),
    readMarkRange: pluck("SELECT key FROM marks WHERE key >= ? AND key < ? ORDER BY key"),
    deadLetterTotals: raw("SELECT count(*), coalesce(sum(readings), 0) FROM dead_letters"),
  };
}
export type Statements = ReturnType<typeof statements>;
