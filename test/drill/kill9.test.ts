// The kill -9 drill in its short mode (scripts/drill/kill9.ts; `npm run drill` runs the full one):
// the gateway killed at random moments under MQTT (embedded broker and client mode) and Modbus
// load, Apache Iggy 0.8 read back with its Python SDK. Fails on a lost, doubled or reordered
// reading or a crash, never on a timing. IGGY_EDGE_TEST_SEED replays other kill points.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DrillContext } from "../../scripts/drill/kit.js";
import { runKill9 } from "../../scripts/drill/kill9.js";

const SEED = Number(process.env.IGGY_EDGE_TEST_SEED ?? 18) >>> 0 || 18;

test(
  "kill -9 drill (short): every acknowledged reading in Iggy once, in order",
  { timeout: 900_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "iggy-edge-drill-test-"));
    const ctx = new DrillContext();
    t.after(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    // Peers come through requirePeer: under CI=true a missing one throws, elsewhere ctx.skipped says which.
    const result = await runKill9(
      { short: true, seed: SEED, tmpDir: dir, outDir: dir, log: (m) => t.diagnostic(m) },
      ctx,
    );
    if (result.skipped) {
      t.skip(result.skipped);
      return;
    }
    const f = result.figures;
    t.diagnostic(`seed ${SEED}: ${JSON.stringify(f)}`);
    assert.ok(f.acknowledged! > 0, "the publishers had readings acknowledged");
    assert.equal(f.lost, 0, `acknowledged readings lost: ${result.findings.join("; ")}`);
    assert.equal(f.doubled, 0, `readings doubled: ${result.findings.join("; ")}`);
    assert.equal(f.out_of_order, 0, `readings out of order: ${result.findings.join("; ")}`);
    assert.equal(f.crashes, 0, `the gateway exited on its own: ${result.findings.join("; ")}`);
    assert.deepEqual(result.findings, []);
  },
);
