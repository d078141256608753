// Client mode against a real Mosquitto as the site broker: subscriptions, persistent session,
// reconnect after a broker restart, acknowledgement held until the commit, commands.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { configSchema } from "../../protocols/config-schema.js";
import { protocolContext } from "../../protocols/registry.js";
import type { Emit } from "../../protocols/adapter.js";
import { MqttAdapter } from "../../protocols/mqtt/adapter.js";
import {
  hasMosquitto,
  hasMosquittoClients,
  mqttDevices,
  recorder,
  run,
  startMosquitto,
  sub,
  waitFor,
  type Mosquitto,
} from "./helpers.js";
import { siteAdapter as sharedSiteAdapter } from "./client-mode-helpers.js";

const anon = { username: "", password: "" };
const mpub = (m: Mosquitto, args: string[]) =>
  run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(m.port), ...args]);

async function siteAdapter(t: TestContext, m: Mosquitto, emit?: Emit, clientId = "edge-test") {
  const config = configSchema.parse({
    gateway: { id: "gw", data_dir: "/nonexistent" },
    devices: [
      {
        id: "hall-2",
        protocol: "mqtt",
        connection: {
          url: `mqtt://127.0.0.1:${m.port}`,
          client_id: clientId,
          reconnect_min_ms: 50,
          reconnect_max_ms: 200,
        },
        points: [
          { name: "co2", topic: "site/hall-2/co2", qos: 1, unit: "ppm" },
          { name: "temp", topic: "site/+device/temp", qos: 2 },
          {
            name: "fan",
            topic: "site/hall-2/fan",
            decode: "boolean",
            qos: 0,
            command_topic: "site/hall-2/fan/set",
            write: true,
          },
        ],
      },
    ],
  });
  const rec = recorder();
  const adapter = new MqttAdapter(mqttDevices(config), protocolContext(config, "mqtt"), rec.deps);
  await adapter.start(emit ?? rec.emit);
  t.after(() => adapter.stop());
  await waitFor("connected and subscribed", () => m.log().includes(`${clientId} 1 site/hall-2/co2`), 10_000);
  return { adapter, rec };
}

test("client mode reads QoS 0/1/2 topics from Mosquitto", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  const { rec, adapter } = await siteAdapter(t, m);
  await mpub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", "612"]);
  await mpub(m, ["-q", "2", "-t", "site/hall-9/temp", "-m", "18.5"]);
  await mpub(m, ["-q", "0", "-t", "site/hall-2/fan", "-m", "on"]);
  await waitFor("3 readings", () => rec.readings.length === 3);
  assert.deepEqual(rec.readings.map((r) => [r.device, r.point, r.value]).sort(), [
    ["hall-2", "co2", 612],
    ["hall-2", "fan", true],
    ["hall-9", "temp", 18.5],
  ]);
  assert.equal(adapter.health().devices[0]?.up, true);
});

test("client mode: Mosquitto gets the PUBACK only after the commit", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  let release!: () => void;
  const committed = new Promise<void>((r) => (release = r));
  let emitted = 0;
  const { adapter } = await siteAdapter(t, m, async () => {
    emitted++;
    await committed;
  });
  t.after(release);
  await mpub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", "700"]);
  await waitFor("the reading handed to the buffer", () => emitted === 1);
  // A command on the same connection, sent after the reading was handed over: an early PUBACK
  // would be on the wire before it, and Mosquitto logs a connection's packets in order.
  const command = adapter.write!({ device: "hall-2", point: "fan" }, true);
  await waitFor("Mosquitto logs the command", () =>
    /Received PUBLISH from edge-test \([^)]*'site\/hall-2\/fan\/set'/.test(m.log()),
  );
  assert.doesNotMatch(m.log(), /Received PUBACK from edge-test/);
  release();
  await command;
  await waitFor("Mosquitto logs the PUBACK", () => /Received PUBACK from edge-test/.test(m.log()), 10_000);
});

test("client mode: a refused message is not acked and comes back through the persistent session", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  let refuse = 1;
  const stored: unknown[] = [];
  const { adapter } = await siteAdapter(t, m, async (rs) => {
    if (refuse > 0) {
      refuse--;
      throw Object.assign(new Error("buffer full"), { code: "BUFFER_FULL" });
    }
    stored.push(...rs.map((r) => r.value));
  });
  await mpub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", "800"]);
  await waitFor("the redelivered message stored", () => stored.length === 1, 10_000);
  assert.deepEqual(stored, [800]);
  assert.equal(adapter.stats().refused, 1);
});

test("client mode: messages published while the gateway is away arrive after it returns; a broker restart is survived", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  const first = await siteAdapter(t, m);
  await first.adapter.stop();
  await mpub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", "901"]);
  const reconnectedAt = m.log().length;
  const second = await siteAdapter(t, m);
  await waitFor("the message kept by the session", () => second.rec.readings.length === 1, 60_000);
  assert.equal(second.rec.readings[0]?.value, 901);
  // Acknowledged before the restart, so the restarted broker does not send it again.
  await waitFor("its PUBACK", () => /Received PUBACK from edge-test/.test(m.log().slice(reconnectedAt)));

  await m.restart();
  await waitFor(
    "reconnected",
    () => (m.log().match(/New client connected .* as edge-test/g) ?? []).length >= 3,
    15_000,
  );
  await mpub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", "902"]);
  await waitFor("a reading after the restart", () => second.rec.readings.length === 2, 60_000);
  assert.equal(second.rec.readings[1]?.value, 902);
});

test("client mode: a command is published to the site broker", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  const { adapter } = await siteAdapter(t, m);
  const s = await sub(t, m.port, ["-v", "-C", "1", "-t", "site/hall-2/fan/set"], anon);
  await adapter.write!({ device: "hall-2", point: "fan" }, true);
  await s.done;
  assert.deepEqual(s.lines, ["site/hall-2/fan/set true"]);
});

test("client mode, MQTT 5: a message's user properties become tags and its content type picks the decoder", async (t) => {
  if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
  const m = await startMosquitto(t);
  const { rec } = await sharedSiteAdapter(t, m, {
    clientId: "edge-v5",
    connection: { protocol_version: 5 },
    points: [
      {
        name: "level",
        topic: "site/hall-2/level",
        decode: { json: "level" },
        decode_by_content_type: { "text/plain": "number" },
        user_property_tags: { "batch-id": "batch" },
      },
    ],
  });
  const v5 = ["-V", "mqttv5", "-q", "1", "-t", "site/hall-2/level"];
  await mpub(m, [...v5, "-D", "publish", "user-property", "batch-id", "B17", "-m", '{"level": 3}']);
  await mpub(m, [...v5, "-D", "publish", "content-type", "text/plain", "-m", "4"]);
  await waitFor("2 readings", () => rec.readings.length === 2);
  assert.deepEqual(
    rec.readings.map((r) => [r.point, r.value, r.tags]),
    [
      ["level", 3, { batch: "B17" }],
      ["level", 4, undefined],
    ],
  );
});
