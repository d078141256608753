// The buffer's tables. Sequence numbers are stored as small rowids; the public sequence number is
// meta.seq_base + rowid, where seq_base is fixed when the file is created (1000 × its creation time
// in ms), so a fresh file after a quarantine or a wiped data directory never reuses a sequence
// number, and so never an Iggy message id, that an earlier file handed out.

/** "IggE": marks the file as an iggy-edge buffer. */
export const APPLICATION_ID = 0x49676745;
/** 2: readings in chunks (see chunks.ts); format 1 kept a row per reading and is migrated on open. */
export const FORMAT_VERSION = 2;

const COMMON_TABLES = ["meta", "series", "batches", "dead_letters", "dead_letter_readings"];
/** The tables of each format this version opens. */
export const TABLES: Record<number, string[]> = {
  1: [...COMMON_TABLES, "readings"],
  2: [...COMMON_TABLES, "chunks"],
};

/** Format 1's table of readings, a row each: what a downgrade to format 1 writes. */
export const READINGS_TABLE = "CREATE TABLE readings (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)";

/** Readings first..last (rowids), their body lengths (u32 each) and bodies back to back. */
export const INSERT_CHUNK = "INSERT INTO chunks (first, last, lengths, body) VALUES (?, ?, ?, ?)";
export const CHUNKS_TABLE =
  "CREATE TABLE chunks (first INTEGER PRIMARY KEY, last INTEGER NOT NULL, lengths BLOB NOT NULL, body BLOB NOT NULL)";

export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE series (id INTEGER PRIMARY KEY, def BLOB NOT NULL);
${CHUNKS_TABLE};
CREATE TABLE batches (
  first_seq INTEGER PRIMARY KEY,
  last_seq INTEGER NOT NULL,
  readings INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  leased_at INTEGER NOT NULL
);
CREATE TABLE dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  readings INTEGER NOT NULL,
  reason TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE dead_letter_readings (seq INTEGER PRIMARY KEY, entry INTEGER NOT NULL, body BLOB NOT NULL);
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${FORMAT_VERSION};
`;

/** Marks (AppendOptions.marks): keys a source commits together with its readings. */
export const MARKS_TABLE = "CREATE TABLE IF NOT EXISTS marks (key TEXT PRIMARY KEY) WITHOUT ROWID";

/** What a stored reading costs beyond its body: its length, and its share of its chunk's row. */
export const ROW_OVERHEAD = 5;
