// The soak drill in a short mode (scripts/drill/soak.ts): MQTT and Modbus load against Apache Iggy
// 0.8, drained, idle; sampled every second. Fails on a lost, doubled or reordered reading, a crash,
// or descriptors/buffer files growing after the drain beyond the drill's slack; never on a timing
// (RSS is reported only).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DrillContext } from "../../scripts/drill/kit.js";
import { runSoak } from "../../scripts/drill/soak.js";

const SEED = Number(process.env.IGGY_EDGE_TEST_SEED ?? 18) >>> 0 || 18;

test(
  "soak drill (short): samples taken, nothing lost or doubled, no growth once drained",
  { timeout: 900_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "iggy-edge-drill-test-"));
    const ctx = new DrillContext();
    t.after(async () => {
      await ctx.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const result = await runSoak(
      {
        short: true,
        seed: SEED,
        tmpDir: dir,
        outDir: dir,
        log: (m) => t.diagnostic(m),
        loadSeconds: 20,
        idleSeconds: 5,
      },
      ctx,
    );
    if (result.skipped) {
      t.skip(result.skipped);
      return;
    }
    const f = result.figures;
    t.diagnostic(`seed ${SEED}: ${JSON.stringify(f)}`);
    const s = result.series!;
    assert.deepEqual(Object.keys(s), ["t_s", "rss_mib", "fds", "db_bytes", "wal_bytes", "depth"]);
    const n = s.t_s!.length;
    assert.ok(n >= 2, "at least two samples");
    for (const k of Object.keys(s)) assert.equal(s[k]!.length, n, `${k} has one value per sample`);
    assert.ok(
      s.db_bytes!.every((b) => b > 0),
      "the buffer's file was there at every sample",
    );
    assert.ok(f.acknowledged! > 0, "the publishers had readings acknowledged");
    assert.equal(f.lost, 0, `acknowledged readings lost: ${result.findings.join("; ")}`);
    assert.equal(f.doubled, 0, `readings doubled: ${result.findings.join("; ")}`);
    assert.equal(f.out_of_order, 0, `readings out of order: ${result.findings.join("; ")}`);
    assert.equal(f.crashes, 0, `the gateway exited on its own: ${result.findings.join("; ")}`);
    assert.deepEqual(result.findings, []);
  },
);
