import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../helpers/cli.js";

const contract = ["run", "check", "simulate", "tail", "command", "dev-iggy", "status"];

test("--help lists every command of the contract", () => {
  const r = runCli(["--help"]);
  assert.equal(r.code, 0);
  for (const c of contract) assert.match(r.stdout, new RegExp(`^  ${c} `, "m"), c);
});

for (const c of contract) {
  test(`iggy-edge ${c} --help describes its options`, () => {
    const r = runCli([c, "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: iggy-edge ${c} `, "m"));
    assert.match(r.stdout, /^Options:/m);
  });
}

test("iggy-edge command without a config or --gateway says which file it could not read, exit 1", () => {
  const r = runCli([
    "command",
    "-c",
    "/nonexistent/iggy-edge.yaml",
    "--device",
    "b",
    "--point",
    "t",
    "--value",
    "20",
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /\/nonexistent\/iggy-edge\.yaml/);
});

test("an unknown command or option is an error with a hint", () => {
  const r = runCli(["chekc"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown command 'chekc'/);
  assert.match(r.stderr, /Did you mean check\?/);
});

test("check --print shows the effective config with secrets redacted", () => {
  const r = runCli(["check", "-c", "protocols/mqtt/example.yaml", "--print"], {
    IGGY_PASSWORD: "iggy-pw-123",
    MQTT_SENSORS_PASSWORD: "sensors-pw-456",
    SITE_MQTT_PASSWORD: "site-pw-789",
  });
  assert.equal(r.code, 0, r.stderr);
  for (const s of ["iggy-pw-123", "sensors-pw-456", "site-pw-789"]) assert.ok(!r.stdout.includes(s), s);
  assert.match(r.stdout, /password: "\[redacted\]"/);
  assert.match(r.stdout, /linger_ms: 20/);
});

test("--version prints the package version", () => {
  const r = runCli(["--version"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout.trim(), /^\d+\.\d+\.\d+$/);
});

test("check --print shows that a config without Iggy credentials logs in as Iggy's default user", () => {
  const r = runCli(["check", "-c", "config/examples/demo.yaml", "--print"]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /default root user/, "demo.yaml gives its credentials");
  const dir = mkdtempSync(join(tmpdir(), "iggy-edge-cli-"));
  try {
    const file = join(dir, "gw.yaml");
    writeFileSync(file, "gateway: { id: gw }\n");
    const d = runCli(["check", "-c", file, "--print"]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(
      d.stdout,
      /\n {2}# no credentials in the file: Iggy's default root user is used\n {2}username: iggy\n {2}password: iggy\n/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
