// The Iggy-away drill in its short mode (scripts/drill/iggy-away.ts): under MQTT and Modbus load,
// Apache Iggy 0.8 behind a proxy is unreachable, slow, loses replies, and is killed mid-batch and
// restarted; Iggy read back with its Python SDK. Fails on a lost, doubled or reordered reading or a
// crash, never on a timing. IGGY_EDGE_TEST_SEED replays other random choices.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runIggyAway } from "../../scripts/drill/iggy-away.js";
import { DrillContext } from "../../scripts/drill/kit.js";

const SEED = Number(process.env.IGGY_EDGE_TEST_SEED ?? 18) >>> 0 || 18;

test(
  "Iggy-away drill (short): every acknowledged reading in Iggy once, in order, the backlog drained",
  { timeout: 900_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "iggy-edge-drill-test-"));
    const ctx = new DrillContext();
    t.after(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const result = await runIggyAway(
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
    assert.ok(f.unreachable_connections_refused! > 0, "the proxy refused the gateway while Iggy was away");
    assert.ok(f.replies_lost_replies_cut! > 0, "replies were lost");
    assert.equal(f.iggy_restarted_iggy_kills, 2);
    assert.equal(f.lost, 0, `acknowledged readings lost: ${result.findings.join("; ")}`);
    assert.equal(f.doubled, 0, `readings doubled: ${result.findings.join("; ")}`);
    assert.equal(f.out_of_order, 0, `readings out of order: ${result.findings.join("; ")}`);
    assert.equal(f.crashes, 0, `the gateway exited on its own: ${result.findings.join("; ")}`);
    assert.deepEqual(result.findings, []);
  },
);
