// Hostile input at the embedded MQTT broker's socket: a client logs in with a valid CONNECT, then
// sends valid QoS1 PUBLISH packets with bytes changed, cut or inserted, and random bytes, and goes.
// After each such client the broker still takes a well-behaved QoS1 publish: PUBACKed, and its
// reading recorded. Every PUBACK the fuzzing client got is for a reading that was recorded.
// Before login: a mutated CONNECT (right or wrong password), random bytes or nothing, then a
// publish: unless what was sent parses as a CONNECT with the right credentials, no CONNACK accepts
// it, no PUBACK comes and no reading gets in. Fixed seeds, bounded runs (fast-check).
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import fc from "fast-check";
import mqttPacket from "mqtt-packet";
import { connectAsync } from "mqtt";
import { embedded, USER } from "../mqtt/helpers.js";
import { onceWithin } from "../helpers/wait.js";

const gen = (p: object): Buffer => mqttPacket.generate(p as mqttPacket.Packet);
const CONNECT = gen({
  cmd: "connect",
  protocolId: "MQTT",
  protocolVersion: 4,
  clean: true,
  clientId: "fuzz",
  keepalive: 0,
  username: USER.username,
  password: Buffer.from(USER.password),
});
const publish = (id: number, value: string): Buffer =>
  gen({
    cmd: "publish",
    topic: `f/fuzz/v`,
    payload: Buffer.from(value),
    qos: 1,
    messageId: id,
    dup: false,
    retain: false,
  });

/** The embedded broker with one device whose point takes any `f/<device>/v` topic. */
const fuzzedBroker = (t: TestContext) =>
  embedded(t, [{ id: "fuzzed", points: [{ name: "v", topic: "f/+device/v", decode: "number" }] }]);

/** A raw TCP connection to the broker whose incoming bytes are parsed into `onPacket`; errors ignored. */
function rawClient(port: number, onPacket: (p: mqttPacket.Packet) => void): Socket {
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  parser.on("packet", onPacket);
  parser.on("error", () => undefined);
  const sock = connect(port, "127.0.0.1");
  sock.on("error", () => undefined);
  sock.on("data", (b: Buffer) => parser.parse(b));
  return sock;
}

const edits = fc.array(
  fc.tuple(fc.constantFrom("set", "cut", "insert"), fc.nat(), fc.integer({ min: 0, max: 255 })),
  { minLength: 0, maxLength: 3 },
);
const packet = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 1e6 }), edits)
    .map(([id, v, es]) => mutate(publish(id, String(v)), es)),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
);

test(
  "embedded broker: mutated and random packets from a logged-in client leave it taking QoS1 publishes",
  { timeout: 600_000 },
  async (t) => {
    const rig = await fuzzedBroker(t);
    let good = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(packet, { minLength: 1, maxLength: 6 }), async (packets) => {
        // The fuzzing client: its PUBACKs, parsed as they come.
        const acked: number[] = [];
        const sock = rawClient(rig.port, (p) => {
          if (p.cmd === "puback" && p.messageId !== undefined) acked.push(p.messageId);
        });
        const closed = new Promise((r) => sock.once("close", r));
        await onceWithin(sock, "connect", "the fuzzing client's connection");
        sock.write(CONNECT);
        const sentValues = new Map<number, string>();
        for (const p of packets) {
          const decoded = tryParse(p);
          // Only a publish on the point's topic makes a reading (others are acknowledged and not routed).
          if (decoded?.cmd === "publish" && decoded.messageId !== undefined && decoded.topic === "f/fuzz/v")
            sentValues.set(decoded.messageId, decoded.payload.toString());
          sock.write(p);
        }
        // A well-behaved client afterwards: proves the broker handled what came before.
        const value = String(1e7 + good++);
        const client = await connectAsync(`mqtt://127.0.0.1:${rig.port}`, { ...USER, reconnectPeriod: 0 });
        try {
          await client.publishAsync("f/probe/v", value, { qos: 1 });
        } finally {
          await client.endAsync();
        }
        assert.ok(
          rig.rec.readings.some((r) => r.device === "probe" && r.value === Number(value)),
          "probe recorded",
        );
        sock.end();
        sock.destroy();
        await closed;
        // What the broker acknowledged to the fuzzer, it recorded (when the packet parsed as a publish).
        for (const id of acked) {
          const v = sentValues.get(id);
          if (v !== undefined && Number.isFinite(Number(v)) && v.trim() !== "")
            assert.ok(
              rig.rec.readings.some((r) => r.device === "fuzz" && r.value === Number(v)),
              `PUBACK ${id} for ${JSON.stringify(v)} without its reading`,
            );
        }
      }),
      { seed: 18_301, numRuns: 150 },
    );
    assert.equal(good, 150);
  },
);

const connectAs = (username: string, password: string, clientId: string): Buffer =>
  gen({
    cmd: "connect",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    clientId,
    keepalive: 0,
    username,
    password: Buffer.from(password),
  });

/** A CONNECT with bytes changed, cut or inserted, with the right or a wrong password; or random bytes; or none. */
const opening = fc.oneof(
  fc
    .tuple(fc.boolean(), edits)
    .map(([rightPassword, es]) =>
      mutate(connectAs(USER.username, rightPassword ? USER.password : "wrong", "fuzz"), es),
    ),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.alloc(0)),
);

test(
  "embedded broker: before a valid login, mutated CONNECTs, wrong passwords and random bytes get no session and no reading in",
  { timeout: 600_000 },
  async (t) => {
    const rig = await fuzzedBroker(t);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(opening, async (first) => {
        run++;
        const value = 2e7 + run;
        const sent = Buffer.concat([first, publish(1, String(value))]);
        // The broker reads one byte stream: what the first packet of it is decides the login.
        const parsed = tryParseAny(sent);
        const validLogin =
          parsed?.cmd === "connect" &&
          parsed.username === USER.username &&
          Buffer.from(parsed.password ?? "").toString() === USER.password;
        const seen: mqttPacket.Packet[] = [];
        const sock = rawClient(rig.port, (p) => seen.push(p));
        const closed = new Promise((r) => sock.once("close", r));
        await onceWithin(sock, "connect", "the fuzzing client's connection");
        sock.write(sent);
        // A well-behaved client afterwards: the broker still serves.
        const probe = String(3e7 + run);
        const client = await connectAsync(`mqtt://127.0.0.1:${rig.port}`, { ...USER, reconnectPeriod: 0 });
        try {
          await client.publishAsync("f/probe/v", probe, { qos: 1 });
        } finally {
          await client.endAsync();
        }
        assert.ok(rig.rec.readings.some((r) => r.device === "probe" && r.value === Number(probe)));
        sock.end();
        await closed;
        if (!validLogin) {
          assert.ok(
            !seen.some((p) => p.cmd === "connack" && (p.returnCode ?? 0) === 0),
            `a session for ${first.toString("hex")}`,
          );
          assert.ok(!seen.some((p) => p.cmd === "puback"), "a PUBACK without a valid login");
          assert.ok(
            !rig.rec.readings.some((r) => r.device === "fuzz" && r.value === value),
            "a reading in without a valid login",
          );
        }
      }),
      { seed: 18_302, numRuns: 150 },
    );
    assert.equal(run, 150);
  },
);

function mutate(packet: Buffer, es: [string, number, number][]): Buffer {
  let b = Array.from(packet);
  for (const [kind, at, byte] of es) {
    const i = at % b.length;
    if (kind === "set") b[i] = byte;
    else if (kind === "cut") b = b.slice(0, Math.max(1, i));
    else b.splice(i, 0, byte);
  }
  return Buffer.from(b);
}

function tryParseAny(b: Buffer): mqttPacket.Packet | null {
  let out: mqttPacket.Packet | null = null;
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on("packet", (pk: mqttPacket.Packet) => {
    out ??= pk;
  });
  p.on("error", () => undefined);
  p.parse(b);
  return out;
}

function tryParse(b: Buffer): mqttPacket.IPublishPacket | null {
  let out: mqttPacket.IPublishPacket | null = null;
  const p = mqttPacket.parser({ protocolVersion: 4 });
  p.on("packet", (pk: mqttPacket.Packet) => {
    if (pk.cmd === "publish" && out === null) out = pk;
  });
  p.on("error", () => undefined);
  p.parse(b);
  return out;
}
