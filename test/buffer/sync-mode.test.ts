// `PRAGMA synchronous` as the store sets it: SQLite applies that pragma when the statement is
// prepared, so a prepared one would set the mode once, at open, and do nothing when run.
import assert from "node:assert/strict";
import { test } from "node:test";
import type Database from "better-sqlite3";
import { resolveOptions, type SyncMode } from "../../buffer/options.js";
import { Store } from "../../buffer/store.js";
import { tempDir } from "../mqtt/helpers.js";

const dbOf = (s: Store) => (s as unknown as { db: Database.Database }).db;
const synchronous = (db: Database.Database) => db.pragma("synchronous", { simple: true }) as number;

for (const [mode, level] of [
  ["full", 2],
  ["normal", 1],
] as [SyncMode, number][]) {
  test(
    `buffer sync ${mode}: the store's connection runs at synchronous=${level}`,
    { timeout: 30_000 },
    (t) => {
      const store = Store.open(resolveOptions({ dir: tempDir(t, "iggy-edge-sync-"), sync: mode }), () => {});
      t.after(() => store.close());
      assert.equal(synchronous(dbOf(store)), level);
    },
  );
}

test(
  "sync full: a transaction that leases nothing runs at NORMAL, and FULL is back after it",
  { timeout: 30_000 },
  (t) => {
    const store = Store.open(resolveOptions({ dir: tempDir(t, "iggy-edge-sync-"), sync: "full" }), () => {});
    t.after(() => store.close());
    const db = dbOf(store);
    const pragma = db.pragma.bind(db);
    const applied: number[] = [];
    db.pragma = ((source: string, options?: Database.PragmaOptions) => {
      const result = pragma(source, options);
      if (/^synchronous\s*=/.test(source)) applied.push(synchronous(db));
      return result;
    }) as typeof db.pragma;
    const transaction = db.transaction.bind(db);
    const during: number[] = [];
    db.transaction = ((fn: (...args: unknown[]) => unknown) =>
      transaction((...args: unknown[]) => {
        during.push(synchronous(db));
        return fn(...args);
      })) as typeof db.transaction;
    store.exchange([], null);
    assert.deepEqual(during, [1], "the transaction ran at NORMAL");
    assert.deepEqual(applied, [1, 2]);
    assert.equal(synchronous(db), 2);
  },
);
