// The soak drill in a short mode (scripts/drill/soak.ts): MQTT, Modbus, OPC-UA and CoAP load
// against Apache Iggy 0.8, drained, idle; sampled every second. Fails on a lost, doubled or
// reordered reading, a crash, or descriptors/buffer files growing after the drain beyond the drill's
// slack; never on a timing (RSS is reported only).
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSoak } from "../../scripts/drill/soak.js";
import { loads } from "../../scripts/drill/loads/index.js";
import { assertEveryLoadInIggy, assertIntact, runShortDrill } from "./short-drill.js";

test(
  "soak drill (short): samples taken, nothing lost or doubled, no growth once drained",
  { timeout: 900_000 },
  async (t) => {
    const result = await runShortDrill(t, runSoak, { loadSeconds: 20, idleSeconds: 5 });
    if (result === null) return;
    const f = result.figures;
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
    assertEveryLoadInIggy(result, Object.keys(loads));
    assertIntact(result);
  },
);
