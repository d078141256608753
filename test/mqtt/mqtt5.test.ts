// MQTT 5 at the embedded broker (mqtt.broker.mqtt5: aedes 2.0.0-beta.1): real mosquitto_pub in both
// versions, the reason codes a refused publish gets (0x97 buffer, 0x87 ACL, 0x99 decoder) while
// MQTT 3.1.1 keeps its behaviour, user properties to tags, content type to decoder, topic aliases,
// message expiry, commands answered on a response topic, and the beta's missing security fixes.
import assert from "node:assert/strict";
import net from "node:net";
import { test, type TestContext } from "node:test";
import { connect, connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import mqttPacket from "mqtt-packet";
import type { Emit, Reading } from "../../protocols/adapter.js";
import { embedded, hasMosquittoClients, pub, sub, tempDir, USER, waitFor } from "./helpers.js";

const V5 = { broker: { mqtt5: true } };

const sensor = {
  id: "s1",
  points: [
    { name: "temp", topic: "s1/temp", qos: 2, user_property_tags: { "line-id": "line" } },
    {
      name: "level",
      topic: "s1/level",
      decode: { json: "level" },
      decode_by_content_type: { "text/plain": "number" },
    },
    {
      name: "setpoint",
      topic: "s1/setpoint",
      command_topic: "s1/setpoint/set",
      command_response_topic: "s1/setpoint/answer",
      command_response_timeout_ms: 60_000,
      write: { min: 0, max: 100 },
    },
    {
      name: "valve",
      topic: "s1/valve",
      command_topic: "s1/valve/set",
      command_qos: 1,
      command_expiry_s: 1,
      write: {},
    },
  ],
};

const restricted = { ...USER, publish: ["s1/#"], subscribe: ["s1/#"] };

async function client(t: TestContext, port: number, opts: IClientOptions = {}): Promise<MqttClient> {
  const c = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    ...USER,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...opts,
  });
  c.on("error", () => {});
  t.after(() => c.endAsync(true));
  return c;
}

/** The reason code of a publish's PUBACK/PUBREC: 0 when accepted. */
async function reasonCode(c: MqttClient, topic: string, payload: string, qos: 1 | 2 = 1): Promise<number> {
  try {
    await c.publishAsync(topic, payload, { qos });
    return 0;
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== "number") throw e;
    return code;
  }
}

/** An Emit that refuses while `refuse.on` is set, else stores. */
function flakyBuffer(): { emit: Emit; stored: Reading[]; refuse: { on: boolean } } {
  const stored: Reading[] = [];
  const refuse = { on: false };
  return {
    stored,
    refuse,
    emit: async (rs) => {
      if (refuse.on) throw Object.assign(new Error("buffer full"), { code: "BUFFER_FULL" });
      stored.push(...rs);
    },
  };
}

test("mosquitto_pub -V mqttv5 and -V mqttv311 with a password give readings at QoS 0, 1 and 2", async (t) => {
  if (!hasMosquittoClients(t)) return;
  const { rec, port } = await embedded(t, [sensor], V5);
  const expected: number[] = [];
  for (const version of ["mqttv5", "mqttv311"]) {
    for (const q of ["0", "1", "2"]) {
      const value = expected.length + 1;
      expected.push(value);
      const r = await pub(port, ["-V", version, "-q", q, "-t", "s1/temp", "-m", String(value)]);
      assert.equal(r.code, 0, `${version} QoS${q}: ${r.stderr}`);
    }
  }
  await waitFor("6 readings", () => rec.readings.length === 6);
  assert.deepEqual(
    rec.readings.map((r) => r.value),
    expected,
  );
});

test("mosquitto_pub -d -V mqttv5 sees the reason codes: 135 ACL, 151 buffer, 153 payload; 0 when taken", async (t) => {
  if (!hasMosquittoClients(t)) return;
  const buffer = flakyBuffer();
  const { port } = await embedded(t, [sensor], {
    broker: { mqtt5: true, users: [restricted] },
    emit: buffer.emit,
  });
  const v5 = (topic: string, m: string) => pub(port, ["-d", "-V", "mqttv5", "-q", "1", "-t", topic, "-m", m]);
  const acl = await v5("elsewhere/x", "1");
  assert.match(acl.stdout, /received PUBACK \(Mid: 1, RC:135\)/, acl.stdout);
  const payload = await v5("s1/temp", "not a number");
  assert.match(payload.stdout, /received PUBACK \(Mid: 1, RC:153\)/, payload.stdout);
  buffer.refuse.on = true;
  const full = await v5("s1/temp", "5");
  assert.match(full.stdout, /received PUBACK \(Mid: 1, RC:151\)/, full.stdout);
  buffer.refuse.on = false;
  const ok = await v5("s1/temp", "6");
  assert.match(ok.stdout, /received PUBACK \(Mid: 1, RC:0\)/, ok.stdout);
  assert.deepEqual(
    buffer.stored.map((r) => r.value),
    [6],
  );
});

test("without mqtt5 (aedes 1.2), mosquitto_pub -V mqttv5 is refused and the log says how to allow it", async (t) => {
  if (!hasMosquittoClients(t)) return;
  const { port, rec } = await embedded(t, [sensor]);
  const r = await pub(port, ["-V", "mqttv5", "-q", "1", "-t", "s1/temp", "-m", "1"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unsupported protocol version/i);
  await waitFor("the refusal logged", () =>
    rec.logs.some((l) => String(l.msg).includes("MQTT 5 needs mqtt.broker.mqtt5: true")),
  );
  assert.equal((await pub(port, ["-V", "mqttv311", "-q", "1", "-t", "s1/temp", "-m", "2"])).code, 0);
  assert.deepEqual(
    rec.readings.map((r) => r.value),
    [2],
  );
});

test("mosquitto_sub -V mqttv5 gets a command with its message expiry; -V mqttv311 the same command", async (t) => {
  if (!hasMosquittoClients(t)) return;
  const { port, adapter } = await embedded(t, [sensor], V5);
  const v5 = await sub(t, port, [
    "-V",
    "mqttv5",
    "-q",
    "1",
    "-C",
    "1",
    "-F",
    "%t %p expiry=%E",
    "-t",
    "s1/valve/set",
  ]);
  const v311 = await sub(t, port, ["-V", "mqttv311", "-q", "1", "-C", "1", "-v", "-t", "s1/valve/set"]);
  await adapter.write!({ device: "s1", point: "valve" }, 1);
  await Promise.all([v5.done, v311.done]);
  assert.match(v5.lines.join("\n"), /^s1\/valve\/set 1 expiry=[01]$/);
  assert.deepEqual(v311.lines, ["s1/valve/set 1"]);
});

for (const qos of [1, 2] as const) {
  test(`v5 QoS${qos}: the buffer's refusal is answered 0x97 and the connection stays; the retry is taken`, async (t) => {
    const buffer = flakyBuffer();
    const { port, adapter, rec } = await embedded(t, [sensor], { ...V5, emit: buffer.emit });
    const c = await client(t, port);
    let closes = 0;
    c.on("close", () => closes++);
    buffer.refuse.on = true;
    assert.equal(await reasonCode(c, "s1/temp", "7", qos), 0x97);
    buffer.refuse.on = false;
    assert.equal(await reasonCode(c, "s1/temp", "7", qos), 0);
    assert.equal(closes, 0);
    assert.ok(c.connected);
    assert.deepEqual(
      buffer.stored.map((r) => r.value),
      [7],
    );
    assert.equal(adapter.stats().refused, 1);
    assert.equal(
      rec.messages("the buffer refused an MQTT 5 message: answered with reason code 0x97 (quota exceeded)")
        .length,
      1,
    );
  });
}

test("v5: a device refused with 0x97 whose connection then fails is down (the refusal did not close it)", async (t) => {
  const buffer = flakyBuffer();
  const { port, rec } = await embedded(t, [sensor], { ...V5, emit: buffer.emit });
  const c = await client(t, port);
  assert.equal(await reasonCode(c, "s1/temp", "1"), 0);
  await waitFor("the device up", () => rec.messages("mqtt device up", "s1").length === 1);
  buffer.refuse.on = true;
  assert.equal(await reasonCode(c, "s1/temp", "2"), 0x97);
  c.stream.destroy(); // no DISCONNECT: the link failed
  await waitFor("the device down", () => rec.messages("mqtt device down", "s1").length === 1);
});

test("v5 QoS1: the PUBACK waits for the commit", async (t) => {
  let release!: () => void;
  const committed = new Promise<void>((r) => (release = r));
  const emitted: Reading[] = [];
  const { port } = await embedded(t, [sensor], {
    ...V5,
    emit: async (rs) => {
      emitted.push(...rs);
      await committed;
    },
  });
  const c = await client(t, port);
  const acks: number[] = [];
  c.on("packetreceive", (p) => {
    if (p.cmd === "puback") acks.push(p.messageId!);
  });
  let heldId = -1;
  c.on("packetsend", (p) => {
    if (p.cmd === "publish" && p.topic === "s1/temp") heldId = p.messageId!;
  });
  const done = c.publishAsync("s1/temp", "42", { qos: 1 });
  await waitFor("the readings handed to the buffer", () => emitted.length === 1);
  await c.publishAsync("other/topic", "x", { qos: 1 }); // answered behind the held one, had it been sent
  assert.ok(heldId > 0);
  assert.equal(acks.length, 1);
  assert.ok(!acks.includes(heldId), "no PUBACK of the held publish before its commit");
  release();
  await done;
  assert.ok(acks.includes(heldId));
});

test("v5: an ACL refusal is 0x87, a too large message 0x97, a payload no decoder takes 0x99; the connection stays", async (t) => {
  const { port, rec, adapter } = await embedded(t, [sensor], {
    broker: { mqtt5: true, users: [restricted], max_message_bytes: 1024 },
  });
  const c = await client(t, port);
  assert.equal(await reasonCode(c, "elsewhere/x", "1"), 0x87);
  assert.equal(await reasonCode(c, "s1/temp", "1".repeat(2048)), 0x97); // larger than max_message_bytes
  assert.equal(await reasonCode(c, "s1/temp", "garbage"), 0x99);
  assert.equal(await reasonCode(c, "s1/temp", "garbage", 2), 0x99);
  assert.equal(await reasonCode(c, "s1/temp", "3"), 0);
  assert.ok(c.connected);
  assert.deepEqual(
    rec.readings.map((r) => r.value),
    [3],
  );
  assert.equal(adapter.stats().problems, 2);
});

test("MQTT 3.1.1 on the same broker keeps its behaviour: garbage is acknowledged, an ACL refusal closes", async (t) => {
  const buffer = flakyBuffer();
  const { port, adapter } = await embedded(t, [sensor], {
    broker: { mqtt5: true, users: [restricted] },
    emit: buffer.emit,
  });
  const c = await client(t, port, { protocolVersion: 4 });
  await c.publishAsync("s1/temp", "garbage", { qos: 1 });
  assert.equal(adapter.stats().problems, 1);
  buffer.refuse.on = true;
  const refusedClose = new Promise<void>((r) => c.once("close", () => r()));
  c.publish("s1/temp", "8", { qos: 1 });
  await refusedClose;
  buffer.refuse.on = false;
  const d = await client(t, port, { protocolVersion: 4 });
  const aclClose = new Promise<void>((r) => d.once("close", () => r()));
  d.publish("elsewhere/x", "1", { qos: 1 });
  await aclClose;
  assert.deepEqual(buffer.stored, []);
});

test("v5: user properties become tags, the content type picks the decoder, topic aliases work", async (t) => {
  const { port, rec } = await embedded(t, [sensor], V5);
  const c = await client(t, port);
  await c.publishAsync("s1/temp", "21", {
    qos: 1,
    properties: { userProperties: { "line-id": "L4", other: "x" } },
  });
  await c.publishAsync("s1/level", '{"level": 3}', { qos: 1 });
  await c.publishAsync("s1/level", "4", { qos: 1, properties: { contentType: "text/plain" } });
  await c.publishAsync("s1/temp", "22", { qos: 1, properties: { topicAlias: 1 } });
  await c.publishAsync("", "23", { qos: 1, properties: { topicAlias: 1 } });
  assert.deepEqual(
    rec.readings.map((r) => [r.point, r.value, r.tags]),
    [
      ["temp", 21, { line: "L4" }],
      ["level", 3, undefined],
      ["level", 4, undefined],
      ["temp", 22, undefined],
      ["temp", 23, undefined],
    ],
  );
});

test("v5: a command carries a response topic and correlation data; the device's answer settles the write", async (t) => {
  const { port, adapter } = await embedded(t, [sensor], V5);
  const device = await client(t, port, { clientId: "s1" });
  await device.subscribeAsync("s1/setpoint/set", { qos: 1 });
  const got: string[] = [];
  device.on("message", (topic, payload, packet) => {
    got.push(payload.toString());
    const { responseTopic, correlationData } = packet.properties ?? {};
    assert.equal(responseTopic, "s1/setpoint/answer");
    const refuse = payload.toString() === "99";
    device.publish(responseTopic!, refuse ? "error" : "ok", {
      qos: 1,
      properties: {
        correlationData: correlationData!,
        ...(refuse ? { userProperties: { error: "too hot" } } : {}),
      },
    });
  });
  await adapter.write!({ device: "s1", point: "setpoint" }, 40);
  await assert.rejects(
    adapter.write!({ device: "s1", point: "setpoint" }, 99),
    /refused the command: too hot/,
  );
  assert.deepEqual(got, ["40", "99"]);
});

test("v5: a queued command whose message expiry passed is not delivered; a retained one expires too", async (t) => {
  const { port, adapter } = await embedded(t, [sensor], V5);
  const opts = { clientId: "valve-dev", clean: false, properties: { sessionExpiryInterval: 300 } };
  const first = await client(t, port, opts);
  await first.subscribeAsync("s1/valve/set", { qos: 1 });
  await first.endAsync();
  await adapter.write!({ device: "s1", point: "valve" }, 1); // expires after 1 s
  const queuedAt = Date.now();
  await waitFor("the command's expiry to pass", () => Date.now() - queuedAt > 1500, 10_000);
  const publisher = await client(t, port);
  await publisher.publishAsync("s1/valve/set", "0", { qos: 1 }); // queued behind it, without expiry
  const got: string[] = [];
  const again = connect(`mqtt://127.0.0.1:${port}`, {
    ...USER,
    protocolVersion: 5,
    reconnectPeriod: 0,
    ...opts,
  });
  t.after(() => again.endAsync(true));
  again.on("message", (_topic, payload) => got.push(payload.toString()));
  await waitFor("the second command", () => got.length >= 1);
  assert.deepEqual(got, ["0"]);

  await publisher.publishAsync("s1/retained-short", "a", {
    qos: 1,
    retain: true,
    properties: { messageExpiryInterval: 1 },
  });
  await publisher.publishAsync("s1/retained-long", "b", { qos: 1, retain: true });
  const retainedAt = Date.now();
  await waitFor("the retained message's expiry to pass", () => Date.now() - retainedAt > 1500, 10_000);
  const reader = await client(t, port);
  const retained: string[] = [];
  reader.on("message", (topic) => retained.push(topic));
  await reader.subscribeAsync("s1/+", { qos: 1 });
  await waitFor("the long-lived retained message", () => retained.includes("s1/retained-long"));
  assert.deepEqual(retained, ["s1/retained-long"]);
});

test("v5: a retained message kept on disk keeps its properties and its expiry across a restart", async (t) => {
  const stateDir = tempDir(t);
  const persisted = { broker: { mqtt5: true, persist: true }, stateDir };
  const first = await embedded(t, [sensor], persisted);
  const publisher = await client(t, first.port);
  await publisher.publishAsync("s1/kept", "k", {
    qos: 1,
    retain: true,
    properties: {
      messageExpiryInterval: 3600,
      contentType: "text/plain",
      userProperties: { origin: "test" },
    },
  });
  await publisher.endAsync();
  await first.adapter.stop();
  const second = await embedded(t, [sensor], persisted);
  const reader = await client(t, second.port);
  const got = new Promise<{ payload: string; properties: Record<string, unknown> | undefined }>((resolve) =>
    reader.once("message", (_topic, payload, packet) =>
      resolve({ payload: payload.toString(), properties: packet.properties as Record<string, unknown> }),
    ),
  );
  await reader.subscribeAsync("s1/kept", { qos: 1 });
  const { payload, properties } = await got;
  assert.equal(payload, "k");
  assert.equal(properties?.contentType, "text/plain");
  assert.deepEqual({ ...(properties?.userProperties as object) }, { origin: "test" });
  const left = properties?.messageExpiryInterval as number;
  assert.ok(left > 0 && left <= 3600, `expiry left: ${left}`);
});

test("aedes 2 hardening: a client id or filter named like an Object.prototype member does not crash it", async (t) => {
  const { port, rec } = await embedded(t, [sensor], V5);
  for (const clientId of ["constructor", "__proto__", "toString"]) {
    await assert.rejects(
      connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, clientId, protocolVersion: 5, reconnectPeriod: 0 }),
      /Client Identifier not valid|identifier rejected/i,
    );
  }
  const c = await client(t, port);
  for (const filter of ["constructor", "__proto__"])
    await assert.rejects(c.subscribeAsync(filter, { qos: 1 }), /Not authorized/);
  await c.subscribeAsync("s1/temp", { qos: 1 });
  assert.equal(await reasonCode(c, "s1/temp", "1"), 0);
  assert.equal(rec.readings.length, 1);
});

test("aedes 2 hardening: QoS2 publishes awaiting PUBREL count against max_inflight (0x97 beyond it)", async (t) => {
  const { port, rec } = await embedded(t, [sensor], { broker: { mqtt5: true, max_inflight: 3 } });
  const socket = net.connect(port, "127.0.0.1");
  t.after(() => socket.destroy());
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const received: mqttPacket.Packet[] = [];
  parser.on("packet", (p) => received.push(p));
  socket.on("data", (b) => parser.parse(b));
  const send = (p: mqttPacket.Packet) => socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
  send({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: true,
    clientId: "no-pubrel",
    keepalive: 60,
    username: USER.username,
    password: Buffer.from(USER.password),
  });
  await waitFor("CONNACK", () => received.some((p) => p.cmd === "connack"));
  // Three QoS2 publishes, committed and never released; then a fourth finds three awaiting PUBREL.
  const publish = (id: number) =>
    send({
      cmd: "publish",
      topic: "s1/temp",
      payload: Buffer.from(String(id)),
      qos: 2,
      messageId: id,
      dup: false,
      retain: false,
    });
  const pubrecs = () => received.filter((p): p is mqttPacket.IPubrecPacket => p.cmd === "pubrec");
  for (let id = 1; id <= 3; id++) publish(id);
  await waitFor("three PUBRECs", () => pubrecs().length === 3);
  publish(4);
  await waitFor("the fourth PUBREC", () => pubrecs().length === 4);
  assert.deepEqual(
    pubrecs().map((p) => [p.messageId, p.reasonCode ?? 0]),
    [
      [1, 0],
      [2, 0],
      [3, 0],
      [4, 0x97],
    ],
  );
  // Releasing one makes room for the next.
  send({ cmd: "pubrel", messageId: 1 });
  await waitFor("PUBCOMP", () => received.some((p) => p.cmd === "pubcomp"));
  send({
    cmd: "publish",
    topic: "s1/temp",
    payload: Buffer.from("5"),
    qos: 2,
    messageId: 5,
    dup: false,
    retain: false,
  });
  await waitFor("the fifth PUBREC", () => received.filter((p) => p.cmd === "pubrec").length === 5);
  assert.equal((received.at(-1) as mqttPacket.IPubrecPacket).reasonCode ?? 0, 0);
  assert.deepEqual(
    rec.readings.map((r) => r.value),
    [1, 2, 3, 5],
  );
});

/** A raw MQTT 5 connection with clean start: what it received, and a way to send packets. */
async function rawV5(t: TestContext, port: number, clientId: string) {
  const socket = net.connect(port, "127.0.0.1");
  const closed = new Promise((r) => socket.once("close", r));
  t.after(() => socket.destroy());
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  const received: mqttPacket.Packet[] = [];
  parser.on("packet", (p) => received.push(p));
  socket.on("data", (b) => parser.parse(b));
  const send = (p: mqttPacket.Packet) => socket.write(mqttPacket.generate(p, { protocolVersion: 5 }));
  send({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 5,
    clean: true,
    clientId,
    keepalive: 60,
    username: USER.username,
    password: Buffer.from(USER.password),
  });
  await waitFor("CONNACK", () => received.some((p) => p.cmd === "connack"));
  const publish = (id: number, payload: string) =>
    send({
      cmd: "publish",
      topic: "s1/temp",
      payload: Buffer.from(payload),
      qos: 2,
      messageId: id,
      dup: false,
      retain: false,
    });
  const pubrecs = () => received.filter((p): p is mqttPacket.IPubrecPacket => p.cmd === "pubrec");
  return { socket, closed, send, publish, pubrecs };
}

test("aedes 2 hardening: a clean session's QoS2 state goes with it (ids awaiting PUBREL do not outlive the session)", async (t) => {
  const { port, rec } = await embedded(t, [sensor], { broker: { mqtt5: true, max_inflight: 2 } });
  const watcher = await client(t, port, { clientId: "watcher" });
  const seen: string[] = [];
  watcher.on("message", (_topic, payload) => seen.push(payload.toString()));
  await watcher.subscribeAsync("s1/temp", { qos: 0 });

  // A clean session: two QoS2 publishes committed and never released, then the connection ends.
  const first = await rawV5(t, port, "clean-qos2");
  first.publish(1, "1");
  first.publish(2, "2");
  await waitFor("two PUBRECs", () => first.pubrecs().length === 2);
  assert.deepEqual(
    first.pubrecs().map((p) => p.reasonCode ?? 0),
    [0, 0],
  );
  first.send({ cmd: "disconnect" });
  await first.closed;

  // The same client id in a new clean session: ids 1 and 2 are new messages. Kept state would
  // count them against max_inflight (0x97) and make aedes take id 1 for a duplicate (not forwarded).
  const second = await rawV5(t, port, "clean-qos2");
  second.publish(1, "3");
  second.publish(2, "4");
  await waitFor("two PUBRECs in the new session", () => second.pubrecs().length === 2);
  assert.deepEqual(
    second.pubrecs().map((p) => [p.messageId, p.reasonCode ?? 0]),
    [
      [1, 0],
      [2, 0],
    ],
  );
  await waitFor("the watcher got all four", () => seen.length === 4);
  assert.deepEqual(seen, ["1", "2", "3", "4"]);
  assert.deepEqual(
    rec.readings.map((r) => r.value),
    [1, 2, 3, 4],
  );
});
