// Every SQL statement the store runs, prepared once per connection.
import type Database from "better-sqlite3";

type DB = Database.Database;

export function statements(db: DB) {
  const raw = (sql: string) => db.prepare(sql).raw(true);
  const pluck = (sql: string) => db.prepare(sql).pluck(true);
  return {
    insert: db.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)"),
    insertSeries: db.prepare("INSERT OR IGNORE INTO series (id, def) VALUES (?, ?)"),
    pageCount: pluck("PRAGMA page_count"),
    freeCount: pluck("PRAGMA freelist_count"),
    // A batch's rows as one row (see Store.unpack): a third of the cost of a Buffer per body.
    headPacked: raw(
      `SELECT group_concat(seq), group_concat(length(body)), CAST(group_concat(body, x'') AS BLOB)
       FROM (SELECT seq, body FROM readings WHERE seq > ? ORDER BY seq LIMIT ?)`,
    ),
    rangePacked: raw(
      `SELECT group_concat(seq), group_concat(length(body)), CAST(group_concat(body, x'') AS BLOB)
       FROM readings WHERE seq BETWEEN ? AND ?`,
    ),
    // Sequence numbers and bodies in two plucked queries: half the cost of one query of [seq, body] rows.
    rangeSeqs: pluck("SELECT seq FROM readings WHERE seq BETWEEN ? AND ? ORDER BY seq"),
    rangeBodies: pluck("SELECT body FROM readings WHERE seq BETWEEN ? AND ? ORDER BY seq"),
    syncNormal: db.prepare("PRAGMA synchronous = NORMAL"),
    syncFull: db.prepare("PRAGMA synchronous = FULL"),
    dropScan: raw("SELECT seq, length(body) FROM readings WHERE seq > ? ORDER BY seq"),
    deleteRange: db.prepare("DELETE FROM readings WHERE seq BETWEEN ? AND ?"),
    oldest: pluck("SELECT body FROM readings ORDER BY seq LIMIT 1"),
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
    moveRangeToDeadLetters: db.prepare(
      "INSERT INTO dead_letter_readings (seq, entry, body) SELECT seq, ?, body FROM readings WHERE seq BETWEEN ? AND ?",
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
