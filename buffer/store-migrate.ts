// Between format 1 (a row per reading) and format 2 (chunks, see chunks.ts), inside one
// transaction the caller holds: a crash midway leaves the file in the format it had.
// Up: when a format 2 version opens a format 1 file. Down: `iggy-edge buffer downgrade`, so that a
// rollback to a format 1 version finds its readings. Everything but the readings' table is the same
// in both formats: a recorded batch and a dead letter name rowids, which both formats keep.
import type Database from "better-sqlite3";
import { ChunkWriter, eachReading, type ChunkRow } from "./chunks.js";
import { CHUNKS_TABLE, INSERT_CHUNK, READINGS_TABLE } from "./store-schema.js";

const PAGE = 10_000;

/** The rows of `select` (taking a key to start after and a limit) in key order, PAGE at a time. */
function* inPages<R extends [number, ...unknown[]]>(select: Database.Statement): Generator<R> {
  const page = select.raw();
  let after = 0;
  for (;;) {
    const rows = page.all(after, PAGE) as R[];
    if (rows.length === 0) return;
    yield* rows;
    after = rows[rows.length - 1]![0];
  }
}

export function migrateToChunks(db: Database.Database): void {
  db.exec(CHUNKS_TABLE);
  const insert = db.prepare(INSERT_CHUNK);
  const chunks = new ChunkWriter((first, last, lengths, body) => insert.run(first, last, lengths, body));
  // A recorded batch must be whole chunks: a chunk never runs across one's first or past its last.
  const edges = new Set<number>();
  for (const [first, last] of db.prepare("SELECT first_seq, last_seq FROM batches").raw().all() as [
    number,
    number,
  ][]) {
    edges.add(first);
    edges.add(last + 1);
  }
  const rows = db.prepare("SELECT seq, body FROM readings WHERE seq > ? ORDER BY seq LIMIT ?");
  for (const [seq, body] of inPages<[number, Buffer]>(rows)) {
    if (edges.has(seq)) chunks.flush();
    chunks.addRun(seq, Uint32Array.of(body.length), body);
  }
  chunks.flush();
  db.exec("DROP TABLE readings");
  db.pragma("user_version = 2");
}

/** Format 2 back to format 1; returns how many readings it rewrote. */
export function migrateToRows(db: Database.Database): number {
  db.exec(READINGS_TABLE);
  const insert = db.prepare("INSERT INTO readings (seq, body) VALUES (?, ?)");
  const put = (seq: number, body: Uint8Array) => void insert.run(seq, body);
  const rows = db.prepare(
    "SELECT first, last, lengths, body FROM chunks WHERE first > ? ORDER BY first LIMIT ?",
  );
  let n = 0;
  for (const row of inPages<ChunkRow>(rows)) {
    eachReading(row, put);
    n += row[1] - row[0] + 1;
  }
  db.exec("DROP TABLE chunks");
  db.pragma("user_version = 1");
  return n;
}
