// Payload decoders and the route from a message to readings.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { Router } from "../../protocols/mqtt/routes.js";
import { mqttConfig, mqttDevices } from "./helpers.js";

function router(points: Record<string, unknown>[], device: Record<string, unknown> = {}): Router {
  return new Router(mqttDevices(mqttConfig([{ id: "dev-1", points, ...device }])));
}

const b = (s: string) => Buffer.from(s);

test("number, boolean, string and raw payloads become typed readings, scaled", () => {
  const r = router([
    { name: "t", topic: "d/t", scale: 0.1, offset: 1, unit: "degC" },
    { name: "on", topic: "d/on", decode: "boolean" },
    { name: "s", topic: "d/s", decode: "string" },
    { name: "raw", topic: "d/raw", decode: "raw" },
  ]);
  const one = (topic: string, payload: Buffer) => r.route(topic, payload, 1000).readings[0];
  assert.deepEqual(one("d/t", b(" 215 ")), {
    device: "dev-1",
    point: "t",
    ts: 1000,
    value: 22.5,
    quality: "good",
    unit: "degC",
  });
  assert.equal(one("d/on", b("ON"))?.value, true);
  assert.equal(one("d/on", b("0"))?.value, false);
  assert.equal(one("d/s", b("héllo"))?.value, "héllo");
  const raw = one("d/raw", Buffer.from([0, 255, 7]))?.value;
  assert.ok(raw instanceof Uint8Array);
  assert.deepEqual([...raw], [0, 255, 7]);
  assert.equal(r.route("other/topic", b("1"), 0).matched, false);
});

test("one JSON message carries many points, with a timestamp from the payload", () => {
  const r = router([
    { name: "temp", topic: "d/state", decode: { json: "env.temp", ts: "at" } },
    { name: "hum", topic: "d/state", decode: { json: "env.hum" } },
    { name: "first", topic: "d/state", decode: { json: 'list[1]["odd key"]' } },
    { name: "ok", topic: "d/state", decode: { json: "ok" } },
  ]);
  const doc = {
    at: "2026-01-02T03:04:05Z",
    env: { temp: 21.5, hum: 40 },
    list: [{}, { "odd key": "x" }],
    ok: true,
  };
  const out = r.route("d/state", b(JSON.stringify(doc)), 5);
  assert.deepEqual(out.problems, []);
  assert.deepEqual(
    out.readings.map((x) => [x.point, x.value, x.ts]),
    [
      ["temp", 21.5, Date.parse("2026-01-02T03:04:05Z")],
      ["hum", 40, 5],
      ["first", "x", 5],
      ["ok", true, 5],
    ],
  );
});

test("MessagePack scalars and fields, 64-bit integers stay bigint", () => {
  const r = router([
    { name: "v", topic: "d/v", decode: "msgpack" },
    { name: "big", topic: "d/doc", decode: { msgpack: "n" } },
    { name: "f", topic: "d/doc", decode: { msgpack: "f" } },
  ]);
  assert.equal(r.route("d/v", Buffer.from(encode(3.25)), 0).readings[0]?.value, 3.25);
  const doc = r.route("d/doc", Buffer.from(encode({ n: 2n ** 62n, f: -1.5 }, { useBigInt64: true })), 0);
  assert.deepEqual(
    doc.readings.map((x) => x.value),
    [2n ** 62n, -1.5],
  );
});

test("undecodable payloads are problems with a reason, never exceptions; other points still read", () => {
  const r = router([
    { name: "a", topic: "d/j", decode: { json: "a" } },
    { name: "b", topic: "d/j", decode: { json: "b" } },
    { name: "n", topic: "d/n" },
    { name: "m", topic: "d/m", decode: "msgpack" },
    { name: "s", topic: "d/s", decode: "string" },
  ]);
  const partial = r.route("d/j", b('{"a": 1, "b": {"deep": 2}}'), 0);
  assert.deepEqual(
    partial.readings.map((x) => x.point),
    ["a"],
  );
  assert.deepEqual(
    partial.problems.map((p) => p.reason),
    ["not_a_scalar"],
  );
  assert.deepEqual(
    r.route("d/j", b("{nope"), 0).problems.map((p) => p.reason),
    ["bad_json", "bad_json"],
  );
  assert.deepEqual(
    r.route("d/j", b('{"a": 1}'), 0).problems.map((p) => p.reason),
    ["missing_field"],
  );
  assert.equal(r.route("d/n", b("abc"), 0).problems[0]?.reason, "not_a_number");
  assert.equal(r.route("d/n", b(""), 0).problems[0]?.reason, "not_a_number");
  assert.equal(r.route("d/m", Buffer.from([0xc1]), 0).problems[0]?.reason, "bad_msgpack");
  assert.equal(r.route("d/s", Buffer.from([0xff, 0xfe]), 0).problems[0]?.reason, "bad_utf8");
});

test("named wildcards set the device id, the point name and tags; bad names are problems", () => {
  const r = router([{ name: "value", topic: "plant/+site/+device/+point", tags: { src: "mqtt" } }], {
    id: "plant-template",
    tags: { line: "3" },
  });
  const ok = r.route("plant/north/boiler-3/temperature", b("7"), 0);
  assert.deepEqual(ok.readings[0], {
    device: "boiler-3",
    point: "temperature",
    ts: 0,
    value: 7,
    quality: "good",
    tags: { line: "3", site: "north", src: "mqtt" },
  });
  assert.deepEqual([...(ok.sources ?? [])], ["plant-template"]);
  const bad = r.route("plant/north/ bad id/temperature", b("7"), 0);
  assert.equal(bad.readings.length, 0);
  assert.equal(bad.problems[0]?.reason, "bad_topic_name");
});

test("deadband compares with the last committed value, so a refused publish is not lost as 'unchanged'", () => {
  const r = router([{ name: "t", topic: "d/t", deadband: 0.5 }]);
  const first = r.route("d/t", b("10"), 0);
  assert.equal(first.readings.length, 1);
  // The buffer refused the first one: the device sends it again, and it must pass again.
  const again = r.route("d/t", b("10"), 0);
  assert.equal(again.readings.length, 1);
  r.committed(again);
  assert.equal(r.route("d/t", b("10.2"), 0).readings.length, 0);
  assert.equal(r.route("d/t", b("10.6"), 0).readings.length, 1);
});
