// What the short-mode drill tests share: the seed, a drill run in a scratch folder that is removed
// (and whatever the drill started ended) whatever the outcome, and the promise's own checks.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { DrillContext, type DrillOptions, type DrillResult } from "../../scripts/drill/kit.js";

export const SEED = Number(process.env.IGGY_EDGE_TEST_SEED ?? 18) >>> 0 || 18;

/**
 * Runs `run` in its short mode; null when the drill was skipped for a missing peer (only outside CI:
 * under CI=true the drill's requirePeer throws).
 */
export async function runShortDrill<O extends DrillOptions>(
  t: TestContext,
  run: (options: O, ctx: DrillContext) => Promise<DrillResult>,
  extra: Omit<O, keyof DrillOptions> = {} as Omit<O, keyof DrillOptions>,
): Promise<DrillResult | null> {
  const dir = mkdtempSync(join(tmpdir(), "iggy-edge-drill-test-"));
  const ctx = new DrillContext();
  t.after(async () => {
    await ctx.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const options = {
    short: true,
    seed: SEED,
    tmpDir: dir,
    outDir: dir,
    log: (m: string) => t.diagnostic(m),
    ...extra,
  };
  const result = await run(options as O, ctx);
  if (result.skipped) {
    t.skip(result.skipped);
    return null;
  }
  t.diagnostic(`seed ${SEED}: ${JSON.stringify(result.figures)}`);
  return result;
}

/** Nothing acknowledged lost, nothing doubled (nor out of order, where the drill counts it), no crash, no finding. */
export function assertIntact(result: DrillResult): void {
  const f = result.figures;
  const why = result.findings.join("; ");
  assert.equal(f.lost, 0, `acknowledged readings lost: ${why}`);
  assert.equal(f.doubled, 0, `readings doubled: ${why}`);
  if (f.out_of_order !== undefined) assert.equal(f.out_of_order, 0, `readings out of order: ${why}`);
  assert.equal(f.crashes, 0, `the gateway exited on its own: ${why}`);
  assert.deepEqual(result.findings, []);
}

/** Every load of the drill carried traffic that reached Iggy (figures `<load>_in_iggy`, one per load). */
export function assertEveryLoadInIggy(result: DrillResult, loads: string[]): void {
  for (const l of loads)
    assert.ok((result.figures[`${l}_in_iggy`] ?? 0) > 0, `readings of load ${l} in Iggy`);
}
