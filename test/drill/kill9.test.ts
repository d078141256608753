// The kill -9 drill in its short mode (scripts/drill/kill9.ts; `npm run drill` runs the full one):
// the gateway killed at random moments under MQTT (embedded broker and client mode), Modbus polling,
// OPC-UA subscriptions and CoAP confirmable POSTs; Apache Iggy 0.8 read back with its Python SDK.
// Fails on a lost, doubled or reordered reading or a crash, never on a timing. IGGY_EDGE_TEST_SEED
// replays other kill points.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runKill9 } from "../../scripts/drill/kill9.js";
import { loads } from "../../scripts/drill/loads/index.js";
import { assertEveryLoadInIggy, assertIntact, runShortDrill } from "./short-drill.js";

test(
  "kill -9 drill (short): every acknowledged reading in Iggy once, in order",
  { timeout: 900_000 },
  async (t) => {
    const result = await runShortDrill(t, runKill9);
    if (result === null) return;
    const f = result.figures;
    assert.ok(f.acknowledged! > 0, "the publishers had readings acknowledged");
    assertEveryLoadInIggy(result, Object.keys(loads));
    assertIntact(result);
  },
);
