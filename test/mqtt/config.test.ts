// The MQTT sections of the config schema and rules, and broker password hashes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { configSpec } from "../../protocols/config-schema.js";
import { Credentials, hashPassword, verifyHash } from "../../protocols/mqtt/password.js";

const base = (
  devices: unknown[],
  mqtt: unknown = { broker: { users: [{ username: "u", password: "p" }] } },
) => ({
  gateway: { id: "gw" },
  mqtt,
  devices,
});

const messages = (input: unknown) => {
  const r = configSpec.schema.safeParse(input);
  return r.success ? configSpec.checks(r.data).map((i) => i.message) : r.error.issues.map((i) => i.message);
};

test("point topics accept named wildcards and refuse malformed ones", () => {
  const dev = (topic: string) => [{ id: "d", protocol: "mqtt", points: [{ name: "p", topic }] }];
  assert.deepEqual(messages(base(dev("plant/+site/+device/temp"))), []);
  assert.match(messages(base(dev("plant/+si-te/x")))[0]!, /named wildcard/);
  assert.match(messages(base(dev("plant/+a/+a")))[0]!, /used twice/);
  assert.match(messages(base(dev("plant/a+/x")))[0]!, /'\+' may only start/);
  assert.match(messages(base(dev("plant/#/x")))[0]!, /'#' may only/);
});

test("password_hash must be a scrypt hash; a made one verifies, a wrong password does not", async () => {
  const hash = await hashPassword("correct horse", { N: 1024, r: 8, p: 1 });
  assert.match(hash, /^scrypt\$1024\$8\$1\$/);
  const users = (u: unknown) => base([], { broker: { users: [u] } });
  assert.deepEqual(messages(users({ username: "u", password_hash: hash })), []);
  assert.match(messages(users({ username: "u", password_hash: "md5:abc" }))[0]!, /scrypt\$N\$r\$p/);
  assert.ok(await verifyHash(Buffer.from("correct horse"), hash));
  assert.ok(!(await verifyHash(Buffer.from("correct horsf"), hash)));

  const creds = new Credentials([
    { username: "h", password_hash: hash, publish: [], subscribe: [] },
    { username: "p", password: "plain", publish: [], subscribe: [] },
  ]);
  assert.equal((await creds.check("h", Buffer.from("correct horse")))?.username, "h");
  assert.equal((await creds.check("h", Buffer.from("correct horse")))?.username, "h"); // remembered
  assert.equal(await creds.check("h", Buffer.from("wrong")), null);
  assert.equal((await creds.check("p", Buffer.from("plain")))?.username, "p");
  assert.equal(await creds.check("p", Buffer.from("plain2")), null);
  assert.equal(await creds.check("nobody", Buffer.from("plain")), null);
  assert.equal(await creds.check("p", undefined), null);
});

test("site connections: reconnect bounds in order, one client id per connection", () => {
  const dev = (id: string, connection: object) => ({
    id,
    protocol: "mqtt",
    connection: { url: "mqtt://127.0.0.1:1884", ...connection },
    points: [{ name: "p", topic: `t/${id}` }],
  });
  assert.match(
    messages(base([dev("a", { reconnect_min_ms: 5000, reconnect_max_ms: 1000 })], undefined))[0]!,
    /reconnect_min_ms/,
  );
  assert.match(
    messages(
      base(
        [dev("a", { client_id: "same" }), dev("b", { client_id: "same", url: "mqtt://10.0.0.1:1883" })],
        undefined,
      ),
    )[0]!,
    /client_id 'same'/,
  );
  assert.deepEqual(
    messages(base([dev("a", { client_id: "same" }), dev("b", { client_id: "same" })], undefined)),
    [],
  );
});

test("MQTT 5 point options: a response topic needs mqtt5 at the embedded broker or an MQTT 5 site connection, a command topic, no wildcard", () => {
  const point = (extra: Record<string, unknown>) => [
    { id: "d", protocol: "mqtt", points: [{ name: "p", topic: "d/p", ...extra }] },
  ];
  const v5 = { broker: { users: [{ username: "u", password: "p" }], mqtt5: true } };
  const answered = { command_topic: "d/p/set", command_response_topic: "d/p/answer", write: {} };
  assert.deepEqual(messages(base(point(answered), v5)), []);
  assert.match(messages(base(point(answered)))[0]!, /needs mqtt\.broker\.mqtt5: true/);
  assert.match(
    messages(base(point({ command_response_topic: "d/p/answer" }), v5))[0]!,
    /command_response_topic needs command_topic/,
  );
  assert.match(
    messages(base(point({ ...answered, command_response_topic: "d/+/answer" }), v5))[0]!,
    /no '\+' or '#'/,
  );
  const siteDevice = [{ ...point(answered)[0], connection: { url: "mqtt://127.0.0.1:1883" } }];
  assert.deepEqual(messages(base(siteDevice, undefined)), []);
  const v311 = [{ ...siteDevice[0], connection: { url: "mqtt://127.0.0.1:1883", protocol_version: 4 } }];
  assert.deepEqual(messages(base(v311, undefined)), [
    "command_response_topic is MQTT 5: the connection to the site broker is MQTT 3.1.1 (protocol_version: 4); use protocol_version: 5, or leave command_response_topic out",
  ]);
  const expiring = [
    { ...v311[0], points: [{ name: "p", topic: "d/p", command_topic: "d/p/set", command_expiry_s: 5 }] },
  ];
  assert.match(messages(base(expiring, undefined))[0]!, /command_expiry_s is MQTT 5/);
  assert.deepEqual(
    messages(
      base(
        point({
          decode_by_content_type: { "text/plain": "number" },
          user_property_tags: { "line-id": "line" },
        }),
        v5,
      ),
    ),
    [],
  );
});
