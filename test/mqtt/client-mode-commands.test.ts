// Client mode, MQTT 5: commands to a device behind a real Mosquitto carry a response topic and
// fresh correlation data; the device (mqtt.js v5) answers there, and the write settles on the
// answer whose correlation data matches: answers with a wrong or no correlation id are ignored and
// counted, and a device that never answers fails the write after the point's timeout.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { connectAsync, type IPublishPacket, type MqttClient } from "mqtt";
import { NoAnswerError } from "../../protocols/mqtt/commands.js";
import { hasMosquitto, startMosquitto, waitFor, type Mosquitto } from "./helpers.js";
import { siteAdapter } from "./client-mode-helpers.js";

const TIMEOUT = { timeout: 60_000 };

function points(timeoutMs: number): Record<string, unknown>[] {
  return [
    { name: "co2", topic: "site/hall-2/co2", qos: 1 },
    {
      name: "setpoint",
      topic: "site/hall-2/setpoint",
      command_topic: "site/hall-2/setpoint/set",
      command_response_topic: "site/hall-2/setpoint/answer",
      command_response_timeout_ms: timeoutMs,
      command_expiry_s: 600,
      write: { min: 0, max: 100 },
    },
  ];
}

/** The device: an mqtt.js v5 client at Mosquitto, subscribed to its command topic. */
async function device(t: TestContext, m: Mosquitto): Promise<{ c: MqttClient; commands: IPublishPacket[] }> {
  const c = await connectAsync(`mqtt://127.0.0.1:${m.port}`, {
    clientId: "hall-2-device",
    protocolVersion: 5,
    reconnectPeriod: 0,
  });
  c.on("error", () => {});
  t.after(() => c.endAsync(true));
  await c.subscribeAsync("site/hall-2/setpoint/set", { qos: 1 });
  const commands: IPublishPacket[] = [];
  c.on("message", (_topic, _payload, packet) => commands.push(packet));
  return { c, commands };
}

test(
  "client mode v5: a command carries a response topic and correlation data; the matching answer settles the write",
  TIMEOUT,
  async (t) => {
    if (!hasMosquitto(t)) return;
    const m = await startMosquitto(t);
    const { adapter, rec } = await siteAdapter(t, m, { points: points(60_000) });
    const { c, commands } = await device(t, m);
    c.on("message", (_topic, payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      const refuse = payload.toString() === "99";
      void c.publishAsync(responseTopic!, refuse ? "error" : "ok", {
        qos: 1,
        properties: {
          correlationData: correlationData!,
          ...(refuse ? { userProperties: { error: "too hot" } } : {}),
        },
      });
    });
    await adapter.write!({ device: "hall-2", point: "setpoint" }, 40);
    await assert.rejects(
      adapter.write!({ device: "hall-2", point: "setpoint" }, 99),
      /device hall-2 refused the command: too hot/,
    );
    assert.deepEqual(
      commands.map((p) => p.payload.toString()),
      ["40", "99"],
    );
    for (const p of commands) {
      assert.equal(p.properties?.responseTopic, "site/hall-2/setpoint/answer");
      assert.equal(p.properties?.correlationData?.length, 16);
      assert.equal(
        p.properties?.messageExpiryInterval !== undefined,
        true,
        "command_expiry_s reaches the device",
      );
    }
    assert.notDeepEqual(commands[0]!.properties?.correlationData, commands[1]!.properties?.correlationData);
    assert.equal(adapter.stats().unmatchedAnswers, 0);
    assert.equal(rec.readings.length, 0, "answers are not readings");
  },
);

test(
  "client mode v5: answers with a wrong or no correlation id are ignored and counted; the matching one decides",
  TIMEOUT,
  async (t) => {
    if (!hasMosquitto(t)) return;
    const m = await startMosquitto(t);
    const { adapter, rec } = await siteAdapter(t, m, { points: points(60_000) });
    const { c } = await device(t, m);
    c.on("message", (_topic, _payload, packet) => {
      const { responseTopic, correlationData } = packet.properties ?? {};
      void (async () => {
        // In order on one topic from one client: both wrong answers say "ok" before the right one refuses.
        const wrong = Buffer.from(correlationData!);
        wrong[0] = wrong[0]! ^ 0xff;
        await c.publishAsync(responseTopic!, "ok", { qos: 1, properties: { correlationData: wrong } });
        await c.publishAsync(responseTopic!, "ok", { qos: 1 });
        await c.publishAsync(responseTopic!, "error", {
          qos: 1,
          properties: { correlationData: correlationData!, userProperties: { error: "interlocked" } },
        });
      })();
    });
    await assert.rejects(
      adapter.write!({ device: "hall-2", point: "setpoint" }, 12),
      /refused the command: interlocked/,
    );
    assert.equal(adapter.stats().unmatchedAnswers, 2);
    const warned = rec.logs.map((l) => l.msg as string);
    assert.ok(
      warned.some((msg) => /correlation data matches no waiting command/.test(msg)),
      "the first unmatched answer is logged",
    );
  },
);

test(
  "client mode v5: a device that never answers fails the write after the timeout; a late answer is counted",
  TIMEOUT,
  async (t) => {
    if (!hasMosquitto(t)) return;
    const m = await startMosquitto(t);
    const { adapter } = await siteAdapter(t, m, { points: points(300) });
    const { c, commands } = await device(t, m);
    const err = await adapter.write!({ device: "hall-2", point: "setpoint" }, 7).then(
      () => assert.fail("the write succeeded without an answer"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof NoAnswerError);
    assert.match(
      err.message,
      /device hall-2 did not answer the command to setpoint: no answer on site\/hall-2\/setpoint\/answer within 300 ms/,
    );
    await waitFor("the device got the command", () => commands.length === 1, 30_000);
    await c.publishAsync("site/hall-2/setpoint/answer", "ok", {
      qos: 1,
      properties: { correlationData: commands[0]!.properties!.correlationData! },
    });
    await waitFor("the late answer counted", () => adapter.stats().unmatchedAnswers === 1, 30_000);
  },
);
