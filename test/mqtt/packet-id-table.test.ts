// The embedded broker writes packet ids without mqtt-packet's table of all 65,536 of them, which
// its writer otherwise builds on the first packet (7 MiB of RSS for a gateway with one device).
// A file of its own: an MQTT.js client in the same process turns the table off for every writer.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";
import { ENGINES, embeddedOn, hasMosquittoClients, pub, waitFor } from "./helpers.js";

const require = createRequire(import.meta.url);
const numbers = require("mqtt-packet/numbers.js") as { cache: Record<number, Buffer> };

const sensor = { id: "s1", points: [{ name: "t", topic: "s1/t" }] };

for (const engine of ENGINES) {
  test(
    `${engine.name}: acknowledging QoS 1 and 2 publishes builds no packet-id table`,
    { timeout: 60_000 },
    async (t) => {
      if (!hasMosquittoClients(t)) return;
      const { rec, port } = await embeddedOn(engine)(t, [sensor]);
      for (const q of ["1", "2"]) {
        const r = await pub(port, ["-q", q, "-t", "s1/t", "-m", "1"]);
        assert.equal(r.code, 0, r.stderr);
      }
      await waitFor("2 readings", () => rec.readings.length === 2);
      assert.equal(Object.keys(numbers.cache).length, 0);
    },
  );
}
