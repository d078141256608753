// Client mode under a burst from a real Mosquitto: four mosquitto_pub publishers send more QoS1
// messages than Mosquitto queues for one client by default, into a real buffer. Everything
// arrives, each publisher's messages in order, each once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { openBuffer } from "../../buffer/index.js";
import { hasMosquitto, hasMosquittoClients, startMosquitto, tempDir, waitFor } from "./helpers.js";
import { acksReceived, siteAdapter } from "./client-mode-helpers.js";
import {
  check,
  dropNotice,
  publishBurst,
  PUBLISHERS,
  readAll,
  TIMEOUT,
  TOPIC,
  TOTAL,
} from "./client-mode-burst-kit.js";

for (const version of [5, 4] as const) {
  test(
    `MQTT ${version === 5 ? "5" : "3.1.1"}: a burst of ${TOTAL} QoS1 messages from ${PUBLISHERS} publishers reaches the buffer complete and in order`,
    TIMEOUT,
    async (t) => {
      if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
      // MQTT 5: Mosquitto's defaults (20 in flight, 1,000 queued); the gateway's receive_maximum
      // (65,535) puts every message in flight instead of in the queue. MQTT 3.1.1: Mosquitto's own
      // window decides, so it is opened (max_inflight_messages 0): with its defaults a burst this
      // fast overflows the queue even for a subscriber that acknowledges at once.
      const m = await startMosquitto(t, version === 5 ? [] : ["max_inflight_messages 0"]);
      const buffer = await openBuffer({ dir: tempDir(t), sync: "full" });
      t.after(() => buffer.close());
      let committed = 0;
      const { adapter } = await siteAdapter(t, m, {
        connection: { protocol_version: version },
        points: [{ name: "seq", topic: TOPIC, qos: 1 }],
        emit: async (readings) => {
          await buffer.append(readings);
          committed += readings.length;
        },
      });
      let peak = 0;
      const watch = setInterval(() => {
        peak = Math.max(peak, adapter.health().connections?.[0]?.inflight ?? 0);
      }, 5);
      t.after(() => clearInterval(watch));
      await publishBurst(t, m, 1);
      await waitFor(`${TOTAL} readings committed (${committed})`, () => committed >= TOTAL, 120_000);
      clearInterval(watch);
      assert.doesNotMatch(m.log(), dropNotice, "Mosquitto dropped messages");
      await waitFor("every PUBACK", () => acksReceived(m, "edge-test", "PUBACK").length >= TOTAL);
      const verdict = check(await readAll(buffer));
      t.diagnostic(`most held at once: ${peak}`);
      assert.deepEqual(verdict, { missing: 0, duplicates: 0, outOfOrder: 0 });
    },
  );
}
