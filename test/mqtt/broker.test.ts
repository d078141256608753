// The embedded broker against mosquitto_pub/mosquitto_sub as devices: readings, TLS, credentials, ACLs,
// limits, bad payloads, commands, retained messages kept across a restart.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connectAsync } from "mqtt";
import { hashPassword } from "../../protocols/mqtt/password.js";
import { makeTestCertificates } from "../helpers/certs.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { ENGINES, embeddedOn, hasMosquittoClients, pub, sub, tempDir, USER, waitFor } from "./helpers.js";

const sensor = {
  id: "sensor-7",
  points: [
    { name: "temperature", topic: "sensors/sensor-7/temperature", unit: "degC" },
    { name: "humidity", topic: "sensors/sensor-7/state", decode: { json: "hum" } },
    { name: "door", topic: "sensors/sensor-7/state", decode: { json: "door" } },
    {
      name: "setpoint",
      topic: "sensors/sensor-7/setpoint",
      command_topic: "sensors/sensor-7/setpoint/set",
      write: { min: 5, max: 30 },
    },
  ],
};

for (const engine of ENGINES) {
  const embedded = embeddedOn(engine);

  test(`${engine.name}: mosquitto_pub at QoS 0, 1 and 2 gives readings; one JSON message gives several`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const { rec, port } = await embedded(t, [sensor]);
    for (const q of ["0", "1", "2"]) {
      const r = await pub(port, ["-q", q, "-t", "sensors/sensor-7/temperature", "-m", `2${q}.5`]);
      assert.equal(r.code, 0, r.stderr);
    }
    await pub(port, ["-q", "1", "-t", "sensors/sensor-7/state", "-m", '{"hum": 40.5, "door": false}']);
    await waitFor("5 readings", () => rec.readings.length === 5);
    assert.deepEqual(
      rec.readings.map((r) => [r.device, r.point, r.value, r.unit]),
      [
        ["sensor-7", "temperature", 20.5, "degC"],
        ["sensor-7", "temperature", 21.5, "degC"],
        ["sensor-7", "temperature", 22.5, "degC"],
        ["sensor-7", "humidity", 40.5, undefined],
        ["sensor-7", "door", false, undefined],
      ],
    );
  });

  test(`${engine.name}: a wrong password, an unknown user and no credentials are refused`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const hash = await hashPassword("hashed-pw", { N: 1024, r: 8, p: 1 });
    const { rec, port } = await embedded(t, [sensor], {
      broker: {
        users: [
          { ...USER, publish: ["#"] },
          { username: "h", password_hash: hash, publish: ["#"] },
        ],
      },
    });
    const topic = ["-q", "1", "-t", "sensors/sensor-7/temperature", "-m", "1"];
    const wrong = await pub(port, topic, { username: USER.username, password: "nope" });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /bad user name or password/i);
    const unknown = await pub(port, topic, { username: "mallory", password: USER.password });
    assert.match(unknown.stderr, /bad user name or password/i);
    const anonymous = await (
      await import("./helpers.js")
    ).run("mosquitto_pub", ["-p", String(port), ...topic]);
    assert.match(anonymous.stderr, /not authori[sz]ed/i);
    assert.equal((await pub(port, topic, { username: "h", password: "hashed-pw" })).code, 0);
    await waitFor("the hashed user's reading", () => rec.readings.length === 1);
    assert.equal(rec.readings.length, 1);
    const refusals = rec.messages("refused an MQTT connection: bad username or password");
    assert.ok(refusals.length >= 1);
    assert.ok(!JSON.stringify(rec.logs).includes(USER.password), "no password in the log");
  });

  test(`${engine.name}: the per-user ACL: publishing outside it closes the connection, subscribing outside it is refused`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const { rec, port } = await embedded(t, [sensor], {
      broker: {
        users: [{ ...USER, publish: ["sensors/+/temperature"], subscribe: ["sensors/+/setpoint/set"] }],
      },
    });
    const denied = await pub(port, ["-q", "1", "-t", "sensors/sensor-7/state", "-m", '{"hum": 1}']);
    assert.notEqual(denied.code, 0);
    assert.equal((await pub(port, ["-q", "1", "-t", "sensors/sensor-7/temperature", "-m", "3"])).code, 0);
    await waitFor("the allowed reading", () => rec.readings.length === 1);
    assert.equal(rec.readings[0]?.point, "temperature");
    assert.equal(rec.messages("closed an MQTT connection: not allowed to publish to this topic").length, 1);

    const refused = await sub(t, port, ["-t", "sensors/#", "-E"]);
    assert.match(
      refused.log,
      /All subscription requests were denied|SUBACK.*128|Subscribed \(mid: \d+\): 128|failure/i,
    );
    const allowed = await sub(t, port, ["-t", "sensors/+/setpoint/set", "-E"]);
    assert.doesNotMatch(allowed.log, /denied/);
  });

  test(`${engine.name}: with tls configured the broker listens with TLS: mosquitto_pub verifying it gives a reading, plain TCP does not`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    if (
      !requirePeer(
        t,
        "openssl (test certificates)",
        hasCommand("openssl", ["version"]),
        "apt-get install openssl",
      )
    )
      return;
    const certs = makeTestCertificates(tempDir(t, "mqtt-tls-"), "localhost", "IP:127.0.0.1");
    const { rec, port } = await embedded(t, [sensor], {
      broker: { tls: { cert: certs.cert, key: certs.key } },
    });
    const secure = await pub(port, ["--cafile", certs.ca, "-t", "sensors/sensor-7/temperature", "-m", "21"]);
    assert.equal(secure.code, 0, secure.stderr);
    await waitFor("the reading over TLS", () => rec.readings.length === 1);
    assert.equal(rec.readings[0]?.value, 21);
    const plain = await pub(port, ["-t", "sensors/sensor-7/temperature", "-m", "22"]);
    assert.notEqual(plain.code, 0, "a plain TCP client is not served");
    assert.equal(rec.readings.length, 1);
  });

  test(`${engine.name}: undecodable payloads are counted and logged once per burst; the flow goes on and they are acked`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const { rec, port, adapter } = await embedded(t, [sensor]);
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, reconnectPeriod: 0 });
    t.after(() => client.endAsync(true));
    for (let i = 0; i < 20; i++)
      await client.publishAsync("sensors/sensor-7/temperature", "not a number", { qos: 1 });
    await client.publishAsync("sensors/sensor-7/temperature", "19", { qos: 1 });
    assert.equal(rec.readings.length, 1);
    assert.equal(rec.readings[0]?.value, 19);
    assert.equal(rec.rejects.length, 20);
    assert.deepEqual(rec.rejects[0], { reason: "mqtt_not_a_number", device: "sensor-7" });
    assert.equal(
      rec.messages(
        rec.logs.find((l) => String(l.msg).startsWith("MQTT payload did not decode"))?.msg as string,
      ).length,
      1,
    );
    assert.equal(adapter.stats().problems, 20);
  });

  test(`${engine.name}: max_message_bytes and max_connections are enforced`, async (t) => {
    const { rec, port } = await embedded(t, [sensor], {
      broker: { max_message_bytes: 1024, max_connections: 2 },
    });
    const opts = { ...USER, reconnectPeriod: 0 };
    const a = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: "a" });
    const b = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: "b" });
    t.after(() => Promise.all([a.endAsync(true), b.endAsync(true)]));
    await assert.rejects(
      connectAsync(`mqtt://127.0.0.1:${port}`, { ...opts, clientId: "c" }),
      /Server unavailable/i,
    );
    const closed = new Promise<void>((r) => a.once("close", () => r()));
    a.publish("sensors/sensor-7/temperature", Buffer.alloc(2048, 0x31), { qos: 1 });
    await closed;
    await b.publishAsync("sensors/sensor-7/temperature", "5", { qos: 1 });
    assert.deepEqual(
      rec.readings.map((r) => r.value),
      [5],
    );
    assert.equal(rec.messages("closed an MQTT connection: message larger than max_message_bytes").length, 1);
  });

  test(`${engine.name}: a command publishes on the point's command topic with its QoS and retain flag`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const dev = {
      ...sensor,
      points: sensor.points.map((p) =>
        p.name === "setpoint" ? { ...p, command_qos: 1, command_retain: true, scale: 0.5 } : p,
      ),
    };
    const { adapter, port } = await embedded(t, [dev]);
    const s = await sub(t, port, ["-q", "1", "-v", "-C", "1", "-t", "sensors/sensor-7/setpoint/set"]);
    await adapter.write!({ device: "sensor-7", point: "setpoint" }, 21);
    await s.done;
    assert.deepEqual(s.lines, ["sensors/sensor-7/setpoint/set 42"]);
    // retained: a later subscriber gets it too
    const late = await sub(t, port, ["-v", "-C", "1", "-t", "sensors/sensor-7/setpoint/set"]);
    await late.done;
    assert.deepEqual(late.lines, ["sensors/sensor-7/setpoint/set 42"]);
    await assert.rejects(
      adapter.write!({ device: "sensor-7", point: "setpoint" }, 31),
      /outside the write range/,
    );
    await assert.rejects(
      adapter.write!({ device: "sensor-7", point: "temperature" }, 1),
      /sensor-7\/temperature is not writable/,
    );
  });

  test(`${engine.name}: retained messages and persistent sessions survive a restart of the broker`, async (t) => {
    if (!hasMosquittoClients(t)) return;
    const stateDir = tempDir(t);
    {
      const first = await embedded(t, [sensor], { broker: { persist: true }, stateDir });
      // a device with a persistent session subscribes to its command topic, then goes away
      const dev = await connectAsync(`mqtt://127.0.0.1:${first.port}`, {
        ...USER,
        clientId: "dev-7",
        clean: false,
        reconnectPeriod: 0,
      });
      t.after(() => dev.endAsync(true));
      await dev.subscribeAsync("sensors/sensor-7/setpoint/set", { qos: 1 });
      await dev.endAsync();
      assert.equal(
        (await pub(first.port, ["-r", "-q", "1", "-t", "sensors/sensor-7/temperature", "-m", "12"])).code,
        0,
      );
      await first.adapter.stop();
    }
    const second = await embedded(t, [sensor], { broker: { persist: true }, stateDir });
    const s = await sub(t, second.port, ["-v", "-C", "1", "-t", "sensors/+/temperature"]);
    await s.done;
    assert.deepEqual(s.lines, ["sensors/sensor-7/temperature 12"]);
    // the session is still there: a command sent while the device is away reaches it when it returns
    await second.adapter.write!({ device: "sensor-7", point: "setpoint" }, 20);
    const got: string[] = [];
    const dev = await connectAsync(`mqtt://127.0.0.1:${second.port}`, {
      ...USER,
      clientId: "dev-7",
      clean: false,
      reconnectPeriod: 0,
    });
    dev.on("message", (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    t.after(() => dev.endAsync(true));
    await waitFor("the queued command", () => got.length === 1);
    // Once: a second command comes after anything the session could still have queued.
    await second.adapter.write!({ device: "sensor-7", point: "setpoint" }, 21);
    await waitFor("the next command", () => got.length >= 2);
    assert.deepEqual(got, ["sensors/sensor-7/setpoint/set 20", "sensors/sensor-7/setpoint/set 21"]);
  });
}
