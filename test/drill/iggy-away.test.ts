// The Iggy-away drill in its short mode (scripts/drill/iggy-away.ts): under MQTT, Modbus, OPC-UA
// and CoAP load, Apache Iggy 0.8 behind a proxy is unreachable, slow, loses replies, and is killed
// mid-batch and restarted; Iggy read back with its Python SDK. Fails on a lost, doubled or reordered
// reading or a crash, never on a timing. IGGY_EDGE_TEST_SEED replays other random choices.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runIggyAway } from "../../scripts/drill/iggy-away.js";
import { loads } from "../../scripts/drill/loads/index.js";
import { assertEveryLoadInIggy, assertIntact, runShortDrill } from "./short-drill.js";

test(
  "Iggy-away drill (short): every acknowledged reading in Iggy once, in order, the backlog drained",
  { timeout: 900_000 },
  async (t) => {
    const result = await runShortDrill(t, runIggyAway);
    if (result === null) return;
    const f = result.figures;
    assert.ok(f.acknowledged! > 0, "the publishers had readings acknowledged");
    assertEveryLoadInIggy(result, Object.keys(loads));
    assert.ok(f.unreachable_connections_refused! > 0, "the proxy refused the gateway while Iggy was away");
    assert.ok(f.replies_lost_replies_cut! > 0, "replies were lost");
    assert.equal(f.iggy_restarted_iggy_kills, 2);
    assertIntact(result);
  },
);
