// Client mode's acknowledgements against a real Mosquitto: each PUBACK/PUBREC follows the commit
// that holds its message and goes out on the connection that delivered it, never on a later one;
// a QoS2 message delivered again before its PUBREL is committed once.
import assert from "node:assert/strict";
import { test } from "node:test";
import { hasMosquitto, hasMosquittoClients, startMosquitto, waitFor } from "./helpers.js";
import {
  acksReceived,
  CLIENT_ID,
  HoldingBuffer,
  mosquittoPub,
  siteAdapter,
  subscriptions,
} from "./client-mode-helpers.js";

const TIMEOUT = { timeout: 60_000 };
const CO2 = "site/hall-2/co2";

/** Message ids Mosquitto gave the publishes it sent to `clientId`, from log offset `from`. */
function sentIds(log: string, clientId: string, from: number): number[] {
  const re = new RegExp(`Sending PUBLISH to ${clientId} \\(d\\d, q\\d, r\\d, m(\\d+)`, "g");
  return [...log.slice(from).matchAll(re)].map((x) => Number(x[1]));
}

test(
  "a commit that ends after its connection dropped is not acknowledged on the next connection",
  TIMEOUT,
  async (t) => {
    if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
    // Without persistence the restart forgets the session, so Mosquitto numbers the next message
    // as it numbered the first: a late PUBACK for the first would acknowledge the second.
    const m = await startMosquitto(t, ["persistence false"]);
    const buffer = new HoldingBuffer();
    t.after(() => buffer.releaseAll());
    const { adapter } = await siteAdapter(t, m, { emit: buffer.emit });

    await mosquittoPub(m, ["-q", "1", "-t", CO2, "-m", "1"]);
    await waitFor("the first message handed to the buffer", () => buffer.holding(1).length === 1);
    const firstId = sentIds(m.log(), CLIENT_ID, 0)[0];

    const restartAt = m.log().length;
    await m.restart();
    await waitFor("subscribed again", () => subscriptions(m, CLIENT_ID, CO2, restartAt) >= 1, 15_000);
    await mosquittoPub(m, ["-q", "1", "-t", CO2, "-m", "2"]);
    await waitFor("the second message handed to the buffer", () => buffer.holding(2).length === 1);
    assert.deepEqual(
      sentIds(m.log(), CLIENT_ID, restartAt),
      [firstId],
      "the second message has the first one's id",
    );

    buffer.holding(1)[0]!.release();
    // A command on the new connection, written after that commit ended: a PUBACK the commit
    // triggered would be on the wire before it, and Mosquitto logs one connection's packets in order.
    const command = adapter.write!({ device: "hall-2", point: "fan" }, true);
    await waitFor("Mosquitto logs the command", () =>
      /Received PUBLISH from edge-test \([^)]*'site\/hall-2\/fan\/set'/.test(m.log().slice(restartAt)),
    );
    assert.deepEqual(
      acksReceived(m, CLIENT_ID, "PUBACK", restartAt),
      [],
      "no PUBACK on the new connection while its only message waits for its commit",
    );

    buffer.holding(2)[0]!.release();
    await command;
    await waitFor(
      "the second message's PUBACK",
      () => acksReceived(m, CLIENT_ID, "PUBACK", restartAt).length === 1,
    );
    assert.deepEqual(acksReceived(m, CLIENT_ID, "PUBACK", restartAt), [firstId]);
  },
);

test(
  "a QoS2 message that Mosquitto sends again while its commit is pending is committed once",
  TIMEOUT,
  async (t) => {
    if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
    const m = await startMosquitto(t); // persistence: the session and the unacknowledged message survive the restart
    const buffer = new HoldingBuffer();
    t.after(() => buffer.releaseAll());
    await siteAdapter(t, m, {
      emit: buffer.emit,
      points: [{ name: "temp", topic: "site/hall-2/temp", qos: 2 }],
    });

    await mosquittoPub(m, ["-q", "2", "-t", "site/hall-2/temp", "-m", "18.5"]);
    await waitFor("the message handed to the buffer", () => buffer.holding(18.5).length === 1);
    const restartAt = m.log().length;
    await m.restart();
    await waitFor("Mosquitto sends the message again, marked DUP", () =>
      /Sending PUBLISH to edge-test \(d1, q2/.test(m.log().slice(restartAt)),
    );
    buffer.releaseAll();
    // PUBREC, PUBREL, PUBCOMP on the new connection: the redelivery was taken in and answered.
    await waitFor("Mosquitto receives PUBCOMP", () =>
      new RegExp(`Received PUBCOMP from ${CLIENT_ID}`).test(m.log().slice(restartAt)),
    );
    assert.equal(buffer.holding(18.5).length, 1, "one emit of the message");
    assert.deepEqual(
      buffer.committed.map((r) => r.value),
      [18.5],
    );
  },
);
