import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { createLogger, registerSecrets } from "../../gateway/log.js";

function capture(format: "json" | "pretty") {
  const out = new PassThrough();
  const chunks: string[] = [];
  out.on("data", (c: Buffer) => chunks.push(c.toString()));
  return { log: createLogger({ format, destination: out, level: "debug" }), text: () => chunks.join("") };
}

test("json format writes one JSON object a line with level, time and message", () => {
  const { log, text } = capture("json");
  log.info({ device: "boiler-1" }, "device up");
  log.warn("slow");
  const lines = text()
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.level, "info");
  assert.equal(lines[0]!.msg, "device up");
  assert.equal(lines[0]!.device, "boiler-1");
  assert.match(String(lines[0]!.time), /^\d{4}-\d\d-\d\dT/);
  assert.equal(lines[1]!.level, "warn");
});

test("fields named like secrets are redacted at any depth we log", () => {
  const { log, text } = capture("json");
  log.info(
    { password: "pw-aaaa", iggy: { token: "tok-bbbb" }, mqtt: { user: { password: "pw-cccc" } } },
    "config",
  );
  const t = text();
  for (const s of ["pw-aaaa", "tok-bbbb", "pw-cccc"]) assert.ok(!t.includes(s), `${s} leaked: ${t}`);
  assert.ok(t.includes("[redacted]"));
});

test("registered secret values are scrubbed wherever they appear, in both formats", () => {
  registerSecrets(['Sup3r"Secret', "tokentoken-42"]);
  for (const format of ["json", "pretty"] as const) {
    const { log, text } = capture(format);
    log.error(
      { err: new Error("login failed for mqtt://u:tokentoken-42@host") },
      'cannot connect with Sup3r"Secret',
    );
    log.info({ url: 'x?pw=Sup3r"Secret' }, "plain");
    const t = text();
    assert.ok(!t.includes("tokentoken-42"), `${format}: ${t}`);
    assert.ok(!t.includes("Sup3r"), `${format}: ${t}`);
    assert.ok(t.includes("login failed for mqtt://u:[redacted]@host"), `${format}: ${t}`);
  }
});
