// Format 1 (a row per reading) to format 2 (chunks, see chunks.ts), inside the transaction that
// opens the file: a crash midway leaves format 1 as it was.
import type Database from "better-sqlite3";
import { ChunkWriter } from "./chunks.js";
import { CHUNKS_TABLE } from "./store-schema.js";

const PAGE = 10_000;

export function migrateToChunks(db: Database.Database): void {
  db.exec(CHUNKS_TABLE);
  const insert = db.prepare("INSERT INTO chunks (first, last, lengths, body) VALUES (?, ?, ?, ?)");
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
  const page = db.prepare("SELECT seq, body FROM readings WHERE seq > ? ORDER BY seq LIMIT ?").raw();
  let after = 0;
  for (;;) {
    const rows = page.all(after, PAGE) as [number, Buffer][];
    if (rows.length === 0) break;
    for (const [seq, body] of rows) {
      if (edges.has(seq)) chunks.flush();
      chunks.addRun(seq, Uint32Array.of(body.length), body);
    }
    after = rows[rows.length - 1]![0];
  }
  chunks.flush();
  db.exec("DROP TABLE readings");
  db.pragma("user_version = 2");
}
