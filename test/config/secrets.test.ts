import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, parseConfig } from "../../gateway/config.js";

const dir = mkdtempSync(join(tmpdir(), "iggy-edge-secrets-"));
const file = join(dir, "gw.yaml");

test("${env:...} and ${file:...} are substituted and remembered as secrets", () => {
  writeFileSync(join(dir, "token.txt"), "tok-from-file-123\n");
  const text = [
    "gateway: { id: gw }",
    "iggy: { token: '${file:token.txt}' }",
    "mqtt:",
    "  broker:",
    "    users: [ { username: dev, password: 'pre-${env:PW}-post' } ]",
  ].join("\n");
  const loaded = parseConfig(text, file, { PW: "hunter22" });
  assert.equal(loaded.config.iggy.token, "tok-from-file-123");
  assert.equal(loaded.config.mqtt?.broker?.users[0]?.password, "pre-hunter22-post");
  assert.deepEqual(loaded.secrets.sort(), ["hunter22", "tok-from-file-123"]);
});

test("an unquoted value that is one whole reference takes the type of its text", () => {
  const text = [
    "gateway: { id: gw }",
    "devices:",
    "  - id: d",
    "    protocol: modbus",
    "    connection:",
    "      host: 127.0.0.1",
    "      port: ${env:PORT}",
    "    points: [ { name: p, address: 'holding:1' } ]",
  ].join("\n");
  const { config } = parseConfig(text, file, { PORT: "5020" });
  const d = config.devices[0]!;
  assert.ok(d.protocol === "modbus");
  assert.equal(d.connection.port, 5020);
});

test("a quoted reference stays a string, so a numeric field rejects it at its position", () => {
  const text = [
    "gateway: { id: gw }",
    "http: { listen: 127.0.0.1:9100 }",
    "iggy:",
    "  connect_timeout_ms: '${env:T}'",
  ].join("\n");
  assert.throws(
    () => parseConfig(text, file, { T: "100" }),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.issues[0]!.line === 4 &&
      /expected number, found "100"/.test(e.issues[0]!.message),
  );
});

test("$${ is a literal ${ and no secret", () => {
  const loaded = parseConfig("gateway: { id: gw }\niggy: { username: u, password: 'a$${env:X}' }", file, {});
  assert.equal(loaded.config.iggy.password, "a${env:X}");
  assert.deepEqual(loaded.secrets, []);
});

test("every unresolvable reference is reported with its own position", () => {
  const text = [
    "gateway: { id: gw }",
    "iggy:",
    "  username: ${env:NOPE_A}",
    "  password: ${file:/nonexistent/pw}",
    "  stream: ${vault:x}",
  ].join("\n");
  try {
    parseConfig(text, file, {});
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(
      e.issues.map((i) => [i.line, i.col]),
      [
        [3, 13],
        [4, 13],
        [5, 11],
      ],
    );
    assert.match(e.issues[0]!.message, /NOPE_A is not set/);
    assert.match(e.issues[1]!.message, /cannot read secret file \/nonexistent\/pw \(ENOENT/);
    assert.match(e.issues[2]!.message, /unknown reference \$\{vault:x\}/);
  }
});

test("several mistakes in one file are all reported, in file order", () => {
  const text = [
    "gateway: { id: 'bad id!' }",
    "buffer: { sync: sometimes, max_rows: -1 }",
    "colour: blue",
  ].join("\n");
  try {
    parseConfig(text, file, {});
    assert.fail("expected a ConfigError");
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(
      e.issues.map((i) => `${i.line}:${i.col}`),
      ["1:16", "2:17", "2:38", "3:1"],
    );
    assert.match(
      e.issues[3]!.message,
      /^unknown key 'colour' \(expected one of: gateway, iggy, buffer, http, commands, mqtt, coap, devices\)$/,
    );
  }
});

test("iggy.protocol accepts 0.8, 0.9 and 0.10 written as YAML numbers", () => {
  for (const [written, meant] of [
    ["0.8", "0.8"],
    ["0.9", "0.9"],
    ["0.10", "0.10"],
    ["'0.10'", "0.10"],
    ["auto", "auto"],
  ]) {
    const { config } = parseConfig(`gateway: { id: gw }\niggy: { protocol: ${written} }`, file, {});
    assert.equal(config.iggy.protocol, meant);
  }
  assert.throws(() => parseConfig("gateway: { id: gw }\niggy: { protocol: 0.11 }", file, {}), ConfigError);
});

test("${env:NAME:-default} takes the default when NAME is unset or empty, and a default is no secret", () => {
  const text = "gateway: { id: gw }\niggy: { username: '${env:U:-iggy}', password: '${env:P:-dev-only}' }";
  const unset = parseConfig(text, file, {});
  assert.equal(unset.config.iggy.username, "iggy");
  assert.equal(unset.config.iggy.password, "dev-only");
  assert.deepEqual(unset.secrets, []);
  const empty = parseConfig(text, file, { U: "", P: "" });
  assert.equal(empty.config.iggy.password, "dev-only");
  const set = parseConfig(text, file, { U: "ops", P: "real-secret" });
  assert.equal(set.config.iggy.password, "real-secret");
  assert.deepEqual(set.secrets.sort(), ["ops", "real-secret"]);
  const port = parseConfig("gateway: { id: gw }\nhttp:\n  listen: ${env:LISTEN:-127.0.0.1:9200}", file, {});
  assert.equal(port.config.http.listen, "127.0.0.1:9200");
});
