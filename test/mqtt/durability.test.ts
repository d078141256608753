// The durability contract at the embedded broker: a QoS1 PUBACK / QoS2 PUBREC never goes out before
// the publish's readings are committed, and a publish the buffer refused is not acknowledged.
import assert from "node:assert/strict";
import { test } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { openBuffer } from "../../buffer/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { embedded, tempDir, USER, waitFor } from "./helpers.js";

const device = { id: "d", points: [{ name: "v", topic: "d/v", qos: 2 }] };

/** The acknowledgements a client receives, in order. */
function acks(client: MqttClient): { cmd: string; messageId: number }[] {
  const seen: { cmd: string; messageId: number }[] = [];
  client.on("packetreceive", (p) => {
    if (p.cmd === "puback" || p.cmd === "pubrec") seen.push({ cmd: p.cmd, messageId: p.messageId! });
  });
  return seen;
}

for (const qos of [1, 2] as const) {
  test(`QoS${qos}: the ${qos === 1 ? "PUBACK" : "PUBREC"} waits for the commit`, async (t) => {
    let release!: () => void;
    const committed = new Promise<void>((r) => (release = r));
    const emitted: Reading[] = [];
    const { port } = await embedded(t, [device], {
      emit: async (rs) => {
        emitted.push(...rs);
        await committed;
      },
    });
    const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, reconnectPeriod: 0 });
    t.after(() => client.endAsync(true));
    const seen = acks(client);
    let heldId = -1;
    client.on("packetsend", (p) => {
      if (p.cmd === "publish" && p.topic === "d/v") heldId = p.messageId!;
    });
    const done = client.publishAsync("d/v", "42", { qos });
    await waitFor("the readings handed to the buffer", () => emitted.length === 1);
    // A broker that did not wait for the commit would have written that acknowledgement by the time
    // it handed the readings over; the PUBACK of a publish sent after that comes behind it.
    await client.publishAsync("other/topic", "x", { qos: 1 }); // the connection is alive and answering
    assert.ok(heldId > 0);
    assert.deepEqual(
      seen.filter((a) => a.messageId === heldId),
      [],
      "no acknowledgement of the held publish before its commit",
    );
    assert.equal(seen.length, 1, "the other topic's PUBACK came: the broker is answering");
    release();
    await done;
    assert.deepEqual(
      seen.filter((a) => a.messageId === heldId),
      [{ cmd: qos === 1 ? "puback" : "pubrec", messageId: heldId }],
    );
  });
}

test("with the real buffer, every PUBACK of 2,000 QoS1 publishes from 4 connections follows its commit", async (t) => {
  const buffer = await openBuffer({ dir: tempDir(t), sync: "full" });
  t.after(() => buffer.close());
  const committed = new Set<string>();
  const { port } = await embedded(
    t,
    [{ id: "d", points: [{ name: "v", topic: "d/+conn/v", decode: "string" }] }],
    {
      emit: async (rs, options) => {
        await buffer.append(rs, options);
        for (const r of rs) committed.add(r.value as string);
      },
    },
  );
  const violations: string[] = [];
  await Promise.all(
    [0, 1, 2, 3].map(async (c) => {
      const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, reconnectPeriod: 0 });
      const inflight = new Map<number, string>();
      client.on("packetsend", (p) => {
        if (p.cmd === "publish" && p.messageId !== undefined) inflight.set(p.messageId, String(p.payload));
      });
      client.on("packetreceive", (p) => {
        if (p.cmd !== "puback") return;
        const payload = inflight.get(p.messageId!)!;
        if (!committed.has(payload)) violations.push(payload);
      });
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        pending.push(client.publishAsync(`d/${c}/v`, `${c}-${i}`, { qos: 1 }));
        if (pending.length >= 100) await pending.shift();
      }
      await Promise.all(pending);
      await client.endAsync();
    }),
  );
  assert.deepEqual(violations, []);
  assert.equal(committed.size, 2000);
});

test("QoS1 and QoS2 readings reach the buffer as awaited (a device waits for them), QoS0 readings not", async (t) => {
  const seen: [string, boolean | undefined][] = [];
  const { port } = await embedded(
    t,
    [{ id: "d", points: [{ name: "v", topic: "d/+qos/v", decode: "string" }] }],
    {
      emit: async (rs, options) => {
        for (const r of rs) seen.push([r.value as string, options?.awaited]);
      },
    },
  );
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  await client.publishAsync("d/0/v", "qos0", { qos: 0 });
  await client.publishAsync("d/1/v", "qos1", { qos: 1 });
  await client.publishAsync("d/2/v", "qos2", { qos: 2 });
  await waitFor("all three readings handed to the buffer", () => seen.length === 3);
  assert.deepEqual(seen.sort(), [
    ["qos0", false],
    ["qos1", true],
    ["qos2", true],
  ]);
});

test("a publish the buffer refuses is not acknowledged; the device sends it again and it is stored once accepted", async (t) => {
  let refuse = 3;
  const stored: Reading[] = [];
  const { port, adapter, rec } = await embedded(t, [device], {
    emit: async (rs) => {
      if (refuse > 0) {
        refuse--;
        throw Object.assign(new Error("buffer full"), { code: "BUFFER_FULL" });
      }
      stored.push(...rs);
    },
  });
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, {
    ...USER,
    clientId: "retrier",
    clean: false,
    reconnectPeriod: 50,
  });
  t.after(() => client.endAsync(true));
  const seen = acks(client);
  let closes = 0;
  client.on("close", () => closes++);
  await client.publishAsync("d/v", "7", { qos: 1 });
  assert.equal(refuse, 0);
  assert.ok(closes >= 3, "each refusal closed the connection");
  assert.deepEqual(
    stored.map((r) => r.value),
    [7],
  );
  assert.equal(seen.length, 1, "one PUBACK, after the accepted attempt");
  assert.equal(adapter.stats().refused, 3);
  assert.equal(
    rec.messages("the buffer refused an MQTT message: not acknowledged, the device will send it again")
      .length,
    1,
  );
});

test("QoS0 is best effort: a refused QoS0 publish is counted and the connection stays", async (t) => {
  let refuse = true;
  const stored: Reading[] = [];
  const { port, adapter } = await embedded(t, [{ id: "d", points: [{ name: "v", topic: "d/v", qos: 0 }] }], {
    emit: async (rs) => {
      if (refuse) throw Object.assign(new Error("buffer full"), { code: "BUFFER_FULL" });
      stored.push(...rs);
    },
  });
  const client = await connectAsync(`mqtt://127.0.0.1:${port}`, { ...USER, reconnectPeriod: 0 });
  t.after(() => client.endAsync(true));
  await client.publishAsync("d/v", "1", { qos: 0 });
  await waitFor("the QoS0 refusal", () => adapter.stats().qos0Dropped === 1);
  refuse = false;
  await client.publishAsync("d/v", "2", { qos: 1 });
  assert.ok(client.connected);
  assert.deepEqual(
    stored.map((r) => r.value),
    [2],
  );
});
