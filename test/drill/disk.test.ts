// The disk drill in its short mode (scripts/drill/disk.ts; `npm run drill -- disk` runs the full
// one): the data directory's disk full, read-only at start and while running, and the buffer file
// corrupted at seeded offsets. Needs root (tmpfs and loop mounts) and Apache Iggy 0.8 with its
// Python SDK; under CI=true a missing one fails. IGGY_EDGE_TEST_SEED replays other offsets.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runDisk } from "../../scripts/drill/disk.js";
import { assertIntact, runShortDrill } from "./short-drill.js";

test(
  "disk drill (short): full, read-only and corrupt: no crash, not ready while refusing, nothing acknowledged lost",
  { timeout: 900_000 },
  async (t) => {
    const result = await runShortDrill(t, runDisk);
    if (result === null) return;
    const f = result.figures;
    assert.ok(f.full_refused! > 0, "the full disk refused publishes");
    assert.ok(f.full_acknowledged! > 0 && f.ro_acknowledged! > 0, "publishes were acknowledged");
    assert.equal(f.corrupt_silently_lost_rounds, 0, result.findings.join("; "));
    assertIntact(result);
  },
);
