// Shared by the buffer tests: scratch directories, readings that say who made them, and loggers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import Database from "better-sqlite3";
import pino, { type Logger } from "pino";
import { type ChunkRow, eachReading, lengthsBlob } from "../../buffer/chunks.js";
import { type BufferOptions, type ReadingBuffer, openBuffer } from "../../buffer/index.js";
import type { Reading } from "../../protocols/adapter.js";

export const quiet: Logger = pino({ level: "silent" });

/** A directory removed when the test ends. */
export function scratch(t: TestContext, prefix = "buffer-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Opens a buffer in `<dir>/buffer`, closed when the test ends (closing twice is fine). Commits are
 * not spaced out (commitIntervalMs 1), so tests that await one append after another run quickly.
 */
export async function open(
  t: TestContext,
  dir: string,
  options: Partial<BufferOptions> = {},
): Promise<ReadingBuffer> {
  const b = await openBuffer({ dir: join(dir, "buffer"), log: quiet, commitIntervalMs: 1, ...options });
  t.after(() => b.close());
  return b;
}

export function reading(i: number, device = "boiler-1"): Reading {
  return { device, point: "temperature", ts: 1_700_000_000_000 + i, value: i, quality: "good", unit: "degC" };
}

export function readings(from: number, n: number, device?: string): Reading[] {
  return Array.from({ length: n }, (_, k) => reading(from + k, device));
}

export interface LogLine {
  level: number;
  msg: string;
  [k: string]: unknown;
}

/** A logger whose lines the test can read. */
export function captureLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

/** Leases and releases until the buffer is empty; returns every reading in order. */
export async function drain(b: ReadingBuffer, maxReadings = 1000): Promise<Reading[]> {
  const out: Reading[] = [];
  for (;;) {
    const batch = await b.lease({ maxReadings });
    if (batch === null) return out;
    out.push(...batch.readings);
    await b.release(batch.id);
  }
}

/** The stored readings of a closed buffer's file, oldest first: [rowid, body]. */
export function storedRows(db: Database.Database): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  for (const row of db
    .prepare("SELECT first, last, lengths, body FROM chunks ORDER BY first")
    .raw()
    .all() as ChunkRow[])
    eachReading(row, (rowid, body) => out.push([rowid, body]));
  return out;
}

/** Overwrites the bodies of the stored readings `from` to `to - 1` (counted oldest first) of a closed buffer. */
export function corruptStored(
  file: string,
  from: number,
  to: number,
  body = Uint8Array.of(0xff, 1, 2),
): void {
  const db = new Database(file);
  try {
    const rows = storedRows(db);
    const hit = new Set(rows.slice(from, to).map(([rowid]) => rowid));
    const update = db.prepare("UPDATE chunks SET lengths = ?, body = ? WHERE first = ?");
    for (const [first, last] of db.prepare("SELECT first, last FROM chunks").raw().all() as [
      number,
      number,
    ][]) {
      const bodies = rows.filter(([r]) => r >= first && r <= last).map(([r, b]) => (hit.has(r) ? body : b));
      if (!bodies.some((b) => b === body)) continue;
      update.run(lengthsBlob(Uint32Array.from(bodies, (b) => b.length)), Buffer.concat(bodies), first);
    }
  } finally {
    db.close();
  }
}
