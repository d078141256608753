// The disk drill in its short mode (scripts/drill/disk.ts; `npm run drill -- disk` runs the full
// one): the data directory's disk full, read-only at start and while running, and the buffer file
// corrupted at seeded offsets. Needs root (tmpfs and loop mounts) and Apache Iggy 0.8 with its
// Python SDK; under CI=true a missing one fails. IGGY_EDGE_TEST_SEED replays other offsets.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runDisk } from "../../scripts/drill/disk.js";
import { DrillContext } from "../../scripts/drill/kit.js";

const SEED = Number(process.env.IGGY_EDGE_TEST_SEED ?? 18) >>> 0 || 18;

test(
  "disk drill (short): full, read-only and corrupt: no crash, not ready while refusing, nothing acknowledged lost",
  { timeout: 900_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "iggy-edge-drill-disk-test-"));
    const ctx = new DrillContext();
    t.after(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const result = await runDisk(
      { short: true, seed: SEED, tmpDir: dir, outDir: dir, log: (m) => t.diagnostic(m) },
      ctx,
    );
    if (result.skipped) {
      t.skip(result.skipped);
      return;
    }
    const f = result.figures;
    t.diagnostic(`seed ${SEED}: ${JSON.stringify(f)}`);
    assert.ok(f.full_refused! > 0, "the full disk refused publishes");
    assert.ok(f.full_acknowledged! > 0 && f.ro_acknowledged! > 0, "publishes were acknowledged");
    assert.equal(f.lost, 0, result.findings.join("; "));
    assert.equal(f.doubled, 0, result.findings.join("; "));
    assert.equal(f.crashes, 0, result.findings.join("; "));
    assert.equal(f.corrupt_silently_lost_rounds, 0, result.findings.join("; "));
    assert.deepEqual(result.findings, []);
  },
);
