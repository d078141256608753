// The buffer's tables. Sequence numbers are stored as small rowids; the public sequence number is
// meta.seq_base + rowid, where seq_base is fixed when the file is created (1000 × its creation time
// in ms), so a fresh file after a quarantine or a wiped data directory never reuses a sequence
// number, and so never an Iggy message id, that an earlier file handed out.

/** "IggE": marks the file as an iggy-edge buffer. */
export const APPLICATION_ID = 0x49676745;
export const FORMAT_VERSION = 1;

export const TABLES = [
  "meta",
  "series",
  "readings",
  "batches",
  "dead_letters",
  "dead_letter_readings",
] as const;

export const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE series (id INTEGER PRIMARY KEY, def BLOB NOT NULL);
CREATE TABLE readings (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
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

/** Cell header, rowid and cell pointer of one stored reading: what a row costs beyond its body. */
export const ROW_OVERHEAD = 12;
