// The in-flight window of MQTT 5 against a real Mosquitto: the gateway's receive_maximum is what
// Mosquitto sends before it waits for acknowledgements, and the rest follows, in order, as the
// commits end. Once acknowledgements flow, Mosquitto 2.0.11 sends more than receive_maximum (20 at
// once here with a window of 5): max_inflight is what bounds what the gateway holds.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Emit, Reading } from "../../protocols/adapter.js";
import { hasMosquitto, hasMosquittoClients, run, startMosquitto, waitFor } from "./helpers.js";
import { CLIENT_ID, siteAdapter } from "./client-mode-helpers.js";

const WINDOW = 5;
const MESSAGES = 30;

test(
  `receive_maximum ${WINDOW}: Mosquitto sends ${WINDOW} messages until the gateway acknowledges, then the rest, in order, never more than max_inflight held`,
  { timeout: 60_000 },
  async (t) => {
    if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
    const m = await startMosquitto(t);
    const held: (() => void)[] = [];
    let holding = true;
    const committed: Reading[] = [];
    let peak = 0;
    // Set once the adapter exists: the messages held by the site connection.
    let inflight = () => 0;
    const emit: Emit = async (readings) => {
      peak = Math.max(peak, inflight());
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
      committed.push(...readings);
    };
    t.after(() => held.forEach((r) => r()));
    const rig = await siteAdapter(t, m, {
      emit,
      connection: { receive_maximum: WINDOW, max_inflight: WINDOW },
    });
    inflight = () => rig.adapter.health().connections?.[0]?.inflight ?? 0;

    const r = await run("sh", [
      "-c",
      `seq 1 ${MESSAGES} | mosquitto_pub -h 127.0.0.1 -p ${m.port} -q 1 -t site/hall-2/co2 -l`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    await waitFor(`${WINDOW} messages held`, () => inflight() === WINDOW);
    // Mosquitto queued every PUBLISH it meant to send before it answers this PINGREQ.
    await rig.adapter.siteRoundTrip("hall-2");
    const sent = (m.log().match(new RegExp(`Sending PUBLISH to ${CLIENT_ID} `, "g")) ?? []).length;
    assert.equal(sent, WINDOW, "Mosquitto sent as many as the window allows");
    assert.equal(inflight(), WINDOW);

    holding = false;
    held.splice(0).forEach((release) => release());
    await waitFor(`all ${MESSAGES} committed`, () => committed.length >= MESSAGES);
    assert.deepEqual(
      committed.map((c) => c.value),
      Array.from({ length: MESSAGES }, (_, i) => i + 1),
    );
    assert.ok(peak <= WINDOW, `at most ${WINDOW} held at once (${peak})`);
  },
);
