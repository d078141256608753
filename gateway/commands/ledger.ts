// The command ledger: a small SQLite file of its own in the data dir (commands.sqlite), apart from the
// reading buffer, holding
// - every command id answered within the idempotency window, with its result, and the ids whose
//   write has begun: a redelivered command is answered from here and never executed twice;
// - the audit trail that `iggy-edge command log` prints.
// It is written on the main thread, one small transaction per write, committed without an fsync
// (synchronous=NORMAL: the commit reaches the WAL file, so a crash of the process loses nothing).
// `durable()` makes every commit so far survive a power cut too, with one fdatasync of the WAL on
// libuv's thread pool, so the event loop never waits on the disk: the router awaits it before a
// device is touched and before a result is published, and commits made meanwhile share one sync.
import Database from "better-sqlite3";
import { fsyncSync, mkdirSync, openSync, closeSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { WriteValue } from "../../protocols/adapter.js";
import type { Command, CommandResult, CommandStatus } from "./message.js";

export const LEDGER_FILE = "commands.sqlite";

export function ledgerPath(dataDir: string): string {
  return join(dataDir, LEDGER_FILE);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS answered (
  id TEXT PRIMARY KEY,
  status TEXT,            -- NULL while the write runs (or when the gateway stopped during it)
  error TEXT,
  started_at INTEGER,
  at INTEGER NOT NULL     -- when the result was reached, or the write began
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  id TEXT NOT NULL,
  device TEXT,
  point TEXT,
  value TEXT,
  status TEXT NOT NULL,
  error TEXT,
  repeat INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

/** What the ledger knows of an id: its result, or that its write began and never ended. */
export type Known = { result: CommandResult } | { begunAt: number } | null;

export interface AuditRecord {
  seq: number;
  at: number;
  id: string;
  device: string | null;
  point: string | null;
  value: string | null;
  status: CommandStatus;
  error: string | null;
  /** The command came again and was answered with its earlier result. */
  repeat: boolean;
}

export function valueText(v: WriteValue): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

export class CommandLedger {
  private readonly db: Database.Database;
  private readonly stmts;
  /** Commits so far, and how many of them an fdatasync of the WAL has covered. */
  private commits = 0;
  private synced = 0;
  private syncing: Promise<void> | null = null;
  private wal: FileHandle | null = null;
  private syncCount = 0;

  constructor(
    private readonly file: string,
    options: { readonly?: boolean } = {},
  ) {
    if (!options.readonly) mkdirSync(join(file, ".."), { recursive: true });
    this.db = new Database(file, options.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!options.readonly) {
      this.db.pragma("journal_mode = WAL");
      this.db.pragma("synchronous = NORMAL");
      this.db.exec(SCHEMA);
    }
    this.db.pragma("busy_timeout = 1000");
    const db = this.db;
    this.stmts = options.readonly
      ? null
      : {
          get: db.prepare<
            [string],
            { status: string | null; error: string | null; at: number; started_at: number | null }
          >("SELECT status, error, at, started_at FROM answered WHERE id = ?"),
          begin: db.prepare(
            "INSERT INTO answered (id, status, error, started_at, at) VALUES (?, NULL, NULL, ?, ?)",
          ),
          answer: db.prepare(
            "INSERT INTO answered (id, status, error, started_at, at) VALUES (@id, @status, @error, NULL, @at) " +
              "ON CONFLICT (id) DO UPDATE SET status = excluded.status, error = excluded.error, at = excluded.at",
          ),
          audit: db.prepare(
            "INSERT INTO audit (at, id, device, point, value, status, error, repeat) " +
              "VALUES (@at, @id, @device, @point, @value, @status, @error, @repeat)",
          ),
          pruneAnswered: db.prepare("DELETE FROM answered WHERE at < ?"),
          pruneAudit: db.prepare("DELETE FROM audit WHERE at < ?"),
        };
  }

  private get s(): NonNullable<CommandLedger["stmts"]> {
    if (this.stmts === null) throw new Error("the command ledger is open read-only");
    return this.stmts;
  }

  known(id: string): Known {
    const row = this.s.get.get(id);
    if (row === undefined) return null;
    if (row.status === null) return { begunAt: row.started_at ?? row.at };
    const result: CommandResult = { id, status: row.status as CommandStatus, at: row.at };
    if (row.error !== null) result.error = row.error;
    return { result };
  }

  /** The write of `id` begins: committed (await `durable()` before the device is touched). */
  begin(id: string, at: number): void {
    this.s.begin.run(id, at, at);
    this.commits++;
  }

  /** The fdatasyncs of the WAL so far (each a write to the device). */
  get syncs(): number {
    return this.syncCount;
  }

  /** Resolves once every commit made before the call survives a power cut. */
  async durable(): Promise<void> {
    const target = this.commits;
    while (this.synced < target) {
      if (this.syncing === null) {
        const upTo = this.commits;
        this.syncing = (async () => {
          this.wal ??= await open(`${this.file}-wal`, "r");
          await this.wal.datasync();
          this.syncCount++;
          this.synced = Math.max(this.synced, upTo);
        })().finally(() => {
          this.syncing = null;
        });
      }
      await this.syncing;
    }
  }

  /** The command's result, kept for the window, and its audit record, in one transaction. */
  answer(command: Partial<Command> & { id: string }, result: CommandResult, repeat = false): void {
    const audit = {
      at: result.at,
      id: result.id,
      device: command.device ?? null,
      point: command.point ?? null,
      value: command.value === undefined ? null : valueText(command.value),
      status: result.status,
      error: result.error ?? null,
      repeat: repeat ? 1 : 0,
    };
    this.db.transaction(() => {
      if (!repeat && result.id !== "")
        this.s.answer.run({
          id: result.id,
          status: result.status,
          error: result.error ?? null,
          at: result.at,
        });
      this.s.audit.run(audit);
    })();
    this.commits++;
  }

  /** Forgets ids and audit records older than `before` (ms since the epoch). */
  prune(before: number): number {
    const s = this.s;
    return this.db.transaction(
      () => s.pruneAnswered.run(before).changes + s.pruneAudit.run(before).changes,
    )();
  }

  /** The newest `count` audit records, oldest first, optionally of one device. */
  recent(count: number, device?: string): AuditRecord[] {
    const rows = this.db
      .prepare<unknown[], Omit<AuditRecord, "repeat"> & { repeat: number }>(
        `SELECT * FROM (SELECT seq, at, id, device, point, value, status, error, repeat FROM audit ${
          device === undefined ? "" : "WHERE device = ?"
        } ORDER BY seq DESC LIMIT ?) ORDER BY seq`,
      )
      .all(...(device === undefined ? [count] : [device, count]));
    return rows.map((r) => ({ ...r, repeat: r.repeat === 1 }));
  }

  /** Closes the ledger, with what was committed made durable first. */
  close(): void {
    if (this.stmts !== null && this.synced < this.commits) {
      const fd = openSync(`${this.file}-wal`, "r");
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }
    void this.wal?.close().catch(() => {});
    this.wal = null;
    this.db.close();
  }
}
