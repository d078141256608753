// The MQTT simulator against the adapter's embedded broker: changing values, commands, garbage.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MqttSimulator } from "../../protocols/mqtt/simulator.js";
import { protocolContext } from "../../protocols/registry.js";
import { embedded, mqttDevices, waitFor } from "./helpers.js";

test("simulated devices publish changing values, take commands, and send garbage on demand", async (t) => {
  const devices = [
    {
      id: "sim-a",
      points: [
        { name: "temp", topic: "s/sim-a/state", decode: { json: "env.t" } },
        { name: "hum", topic: "s/sim-a/state", decode: { json: "env.h" } },
        { name: "sp", topic: "s/sim-a/sp", command_topic: "s/sim-a/sp/set", write: { min: 5, max: 30 } },
      ],
    },
    { id: "sim-b", points: [{ name: "v", topic: "s/sim-b/v", decode: "msgpack" }] },
  ];
  const rig = await embedded(t, devices);
  const sim = new MqttSimulator(mqttDevices(rig.config), protocolContext(rig.config, "mqtt"), {
    ratePerPoint: 50,
    brokerUrl: `mqtt://127.0.0.1:${rig.port}`,
  });
  await sim.start();
  t.after(() => sim.stop());
  const values = (dev: string, point: string) =>
    rig.rec.readings.filter((r) => r.device === dev && r.point === point).map((r) => r.value);
  await waitFor(
    "changing values from both devices",
    () => new Set(values("sim-a", "temp")).size >= 3 && values("sim-b", "v").length >= 3,
  );
  assert.equal(values("sim-a", "hum").length, values("sim-a", "temp").length, "one JSON message, two points");

  await rig.adapter.write!({ device: "sim-a", point: "sp" }, 22.5);
  await waitFor("the command taken", () => sim.value("sim-a", "sp") === 22.5);
  await waitFor("the new setpoint reported", () => values("sim-a", "sp").includes(22.5));

  sim.setFault("sim-b", { kind: "garbage" });
  const before = values("sim-a", "temp").length;
  await waitFor("garbage counted", () => rig.rec.rejects.filter((r) => r.device === "sim-b").length >= 3);
  await waitFor("the other device still flows", () => values("sim-a", "temp").length > before + 3);
  assert.equal(rig.rec.rejects[0]?.reason, "mqtt_bad_msgpack");
});

test("MQTT 5 simulated devices: user properties to tags, answered commands, refusals counted by reason code", async (t) => {
  const devices = [
    {
      id: "sim-5",
      points: [
        { name: "temp", topic: "s/sim-5/t", user_property_tags: { site: "site" } },
        {
          name: "sp",
          topic: "s/sim-5/sp",
          command_topic: "s/sim-5/sp/set",
          command_response_topic: "s/sim-5/sp/answer",
          command_response_timeout_ms: 60_000,
          write: { min: 5, max: 30 },
        },
      ],
    },
  ];
  const rig = await embedded(t, devices, { broker: { mqtt5: true } });
  const sim = new MqttSimulator(mqttDevices(rig.config), protocolContext(rig.config, "mqtt"), {
    ratePerPoint: 0,
    brokerUrl: `mqtt://127.0.0.1:${rig.port}`,
    protocolVersion: 5,
  });
  await sim.start();
  t.after(() => sim.stop());
  await sim.connected("sim-5");
  sim.publish("sim-5", "temp", 20);
  await waitFor("the reading", () => rig.rec.readings.some((r) => r.point === "temp"));
  assert.deepEqual(rig.rec.readings.find((r) => r.point === "temp")?.tags, { site: "sim-sim-5" });
  await rig.adapter.write!({ device: "sim-5", point: "sp" }, 12);
  assert.equal(sim.value("sim-5", "sp"), 12);
  await waitFor("the answer counted", () => sim.counts()["sim-5"]?.answered === 1);
  sim.setFault("sim-5", { kind: "garbage" });
  sim.publish("sim-5", "temp", 0);
  await waitFor("the garbage refused with 0x99", () => sim.counts()["sim-5"]?.refused[0x99] === 1);
});
