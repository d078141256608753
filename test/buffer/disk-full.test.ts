// A full disk: appends fail with BUFFER_DISK_FULL and store nothing, what was stored before stays
// intact and can still be leased and released, and appends work again once space frees up.
// Provoked with SQLite's max_page_count (always) and with a real 8 MiB tmpfs (when root may mount).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BufferStorageError, openBuffer, type ReadingBuffer } from "../../buffer/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { drain, open, quiet, readings, scratch } from "./helpers.js";

function isDiskFull(e: unknown): boolean {
  assert.ok(e instanceof BufferStorageError, String(e));
  assert.equal(e.code, "BUFFER_DISK_FULL");
  assert.match(e.message, /disk full/);
  return true;
}

/** Appends calls of `size` readings until one fails; returns what was accepted. */
async function fill(b: ReadingBuffer, size: number): Promise<{ accepted: Reading[]; error: unknown }> {
  const accepted: Reading[] = [];
  for (let i = 0; i < 1_000_000; i += size) {
    const call = readings(i, size).map((r) => ({ ...r, value: `${r.value}`.padEnd(40, "x") }));
    try {
      await b.append(call);
      accepted.push(...call);
    } catch (error) {
      return { accepted, error };
    }
  }
  throw new Error("never filled up");
}

async function fullAndBack(
  b: ReadingBuffer,
  freeSpace: () => void,
  /** Whether freeing space shows without an append (the file system has room again), or only with one. */
  freedShows: boolean,
): Promise<void> {
  const { accepted, error } = await fill(b, 200);
  isDiskFull(error);
  assert.ok(accepted.length > 1000);
  const s = await b.stats();
  assert.equal(s.readings, accepted.length, "nothing of the failed call was stored");
  assert.equal(s.rejected.disk_full, 200);
  assert.match(s.refusing ?? "", /disk full/, "the stats say why readings are refused");
  // The forwarder can still lease and release while the disk is full...
  const batch = (await b.lease({ maxReadings: 5000 }))!;
  assert.deepStrictEqual(batch.readings, accepted.slice(0, batch.readings.length));
  assert.equal(await b.release(batch.id), true);
  // ...and once there is room again, new readings are accepted.
  freeSpace();
  if (freedShows) assert.equal((await b.stats()).refusing, null, "space freed: not refusing any more");
  else assert.match((await b.stats()).refusing ?? "", /disk full/, "refusing until an append commits");
  const more = readings(2_000_000, 50);
  await b.append(more);
  assert.equal((await b.stats()).refusing, null, "refusing no more once an append committed");
  assert.deepStrictEqual(await drain(b), [...accepted.slice(batch.readings.length), ...more]);
}

test("with the file capped by max_page_count, a full disk refuses appends cleanly and recovers after a release", async (t) => {
  const b = await open(t, scratch(t), { maxPageCount: 256, commitMaxRows: 200 });
  // Released pages are reused inside the capped file.
  await fullAndBack(b, () => undefined, false);
});

test("on a real 8 MiB file system, a full disk refuses appends cleanly and recovers after space frees", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root to mount a tmpfs");
  const mnt = mkdtempSync(join(tmpdir(), "buffer-tmpfs-"));
  try {
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]).status !== 0)
      return t.skip("mount -t tmpfs is not permitted here");
    const other = join(mnt, "other-program.log");
    writeFileSync(other, Buffer.alloc(3 * 1024 * 1024, 1));
    const b = await openBuffer({ dir: join(mnt, "buffer"), commitMaxRows: 200, log: quiet });
    try {
      await fullAndBack(b, () => rmSync(other), true);
      await b.close();
      const again = await openBuffer({ dir: join(mnt, "buffer"), log: quiet });
      assert.equal(
        (await again.stats()).quarantinedThisRun,
        0,
        "the file passed its integrity check after the full disk",
      );
      await again.close();
    } finally {
      await b.close();
      spawnSync("umount", [mnt]);
    }
  } finally {
    rmSync(mnt, { recursive: true, force: true });
  }
});
