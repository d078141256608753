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
