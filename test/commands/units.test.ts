// The router's parts on their own: reading a command off the wire (every malformed shape answered
// with its reason), the checks before a device is touched (every refusal), the per-device lanes and
// the ledger's idempotency window.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import { DeviceLanes, withTimeout, WriteTimeoutError } from "../../gateway/commands/lanes.js";
import { CommandLedger } from "../../gateway/commands/ledger.js";
import {
  commandMessage,
  decodeCommand,
  decodeResult,
  resultMessage,
  type Command,
} from "../../gateway/commands/message.js";
import { validate, type Refusal } from "../../gateway/commands/validate.js";
import type { PolledMessage } from "../../gateway/iggy/index.js";
import { commandConfig, polled } from "./fixtures.js";

test("a command round-trips in JSON and MessagePack; a result in both", () => {
  const c: Command = {
    id: "a-1",
    device: "boiler",
    point: "setpoint",
    value: 42.5,
    expiresAt: 1_800_000_000_000,
  };
  for (const codec of ["json", "msgpack"] as const) {
    const m = commandMessage(c, codec);
    const d = decodeCommand(polled(m.payload, codec));
    assert.deepEqual(d, { ok: true, command: c, codec });
    const r = resultMessage(
      { id: "a-1", status: "failed", error: "why", at: 1_800_000_000_123 },
      "gw",
      codec,
    );
    assert.deepEqual(decodeResult(polled(r.payload, codec)), {
      id: "a-1",
      status: "failed",
      error: "why",
      at: 1_800_000_000_123,
    });
  }
  // A message without a codec header is JSON.
  assert.equal(
    decodeCommand(polled(Buffer.from('{"id":"x","device":"d","point":"p","value":true}'))).ok,
    true,
  );
  // MessagePack's 64-bit integers stay exact.
  const big = decodeCommand(
    polled(
      msgpackEncode({ id: "b", device: "d", point: "p", value: 2n ** 63n - 1n }, { useBigInt64: true }),
      "msgpack",
    ),
  );
  assert.ok(big.ok && big.command.value === 2n ** 63n - 1n);
});

test("every malformed command is a refusal with its reason, and keeps its id where it has one", () => {
  const cases: [PolledMessage, RegExp, string][] = [
    [polled(Buffer.from("{oops"), "json"), /the payload is not JSON/, ""],
    [polled(Buffer.from([0xc1]), "msgpack"), /the payload is not MessagePack/, ""],
    [polled(Buffer.from("{}"), "cbor"), /unknown codec 'cbor' .*expected json or msgpack/, ""],
    [polled(Buffer.from("[1,2]"), "json"), /a command is an object .*got a list/, ""],
    [
      polled(Buffer.from('{"device":"d","point":"p","value":1}')),
      /id must be a non-empty text, got undefined/,
      "",
    ],
    [
      polled(Buffer.from('{"id":7,"device":"d","point":"p","value":1}')),
      /id must be a non-empty text, got number 7/,
      "",
    ],
    [
      polled(Buffer.from(`{"id":"${"x".repeat(300)}","device":"d","point":"p","value":1}`)),
      /longer than 256/,
      "x".repeat(300),
    ],
    [polled(Buffer.from('{"id":"i","point":"p","value":1}')), /device must be a non-empty text/, "i"],
    [
      polled(Buffer.from('{"id":"i","device":"d","point":"","value":1}')),
      /point must be a non-empty text/,
      "i",
    ],
    [polled(Buffer.from('{"id":"i","device":"d","point":"p"}')), /has no value/, "i"],
    [
      polled(Buffer.from('{"id":"i","device":"d","point":"p","value":null}')),
      /value must be a number, true\/false or a text, got null/,
      "i",
    ],
    [polled(Buffer.from('{"id":"i","device":"d","point":"p","value":[1]}')), /got a list/, "i"],
    [
      polled(Buffer.from('{"id":"i","device":"d","point":"p","value":1,"expires_at":"soon"}')),
      /expires_at must be ms since the epoch or an ISO 8601 time/,
      "i",
    ],
  ];
  for (const [m, reason, id] of cases) {
    const d = decodeCommand(m);
    assert.equal(d.ok, false, m.payload.toString());
    if (d.ok) continue;
    assert.match(d.reason, reason);
    assert.equal(d.id, id);
  }
});

const config = commandConfig;

function check(c: Partial<Command>, now = 1_000): Refusal | "valid" {
  const r = validate(
    { id: "i", device: "boiler", point: "setpoint", value: 1, ...c },
    config.devices,
    "gw",
    now,
  );
  return "status" in r ? r : "valid";
}

test("every refusal before a device is touched says why", () => {
  const refusals: [Partial<Command>, RegExp, string?][] = [
    [{ device: "nope" }, /^gateway gw has no device named 'nope'$/],
    [{ device: "off", point: "x" }, /^device off is disabled in the gateway's config$/],
    [
      { point: "nope" },
      /^device boiler has no point named 'nope' \(its points: setpoint, count, scaled, burner, label, pressure\)$/,
    ],
    [{ point: "pressure" }, /^point boiler\/pressure is read-only \(the config declares no write: for it\)$/],
    [{ point: "burner", value: 1 }, /^point boiler\/burner takes true or false, not 1$/],
    [{ point: "label", value: 5 }, /^point boiler\/label takes a text, not 5$/],
    [{ point: "count", value: 2.5 }, /^point boiler\/count takes a whole number, not 2.5$/],
    [{ point: "setpoint", value: "warm" }, /^point boiler\/setpoint takes a number, not "warm"$/],
    [{ point: "setpoint", value: true }, /^point boiler\/setpoint takes a number, not true$/],
    [{ point: "setpoint", value: 90.5 }, /^90.5 is outside the write range of boiler\/setpoint \(0 to 90\)$/],
    [{ point: "setpoint", value: -1 }, /^-1 is outside the write range/],
    [{ device: "thermo", point: "mode", value: 3 }, /^point thermo\/mode takes a text, not 3$/],
    [
      { expiresAt: 1_000 },
      /^the command expired at 1970-01-01T00:00:01.000Z, before it could run/,
      "expired",
    ],
  ];
  for (const [c, reason, status = "rejected"] of refusals) {
    const r = check(c);
    assert.notEqual(r, "valid", JSON.stringify(c));
    if (r === "valid") continue;
    assert.equal(r.status, status);
    assert.match(r.error, reason);
  }
  for (const ok of [
    { point: "setpoint", value: 90 },
    { point: "setpoint", value: 0 },
    { point: "count", value: 65535 },
    { point: "count", value: 7n },
    { point: "scaled", value: 2.5 },
    { point: "burner", value: false },
    { point: "label", value: "AB" },
    { device: "thermo", point: "mode", value: "auto" },
    { device: "thermo", point: "doc", value: 1 },
    { device: "thermo", point: "doc", value: "x" },
    { expiresAt: 1_001 },
  ] as Partial<Command>[]) {
    assert.equal(
      check(ok),
      "valid",
      JSON.stringify(ok, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
    );
  }
});

test("lanes: one device's tasks in order, another device's not held by a stuck one", async () => {
  const lanes = new DeviceLanes();
  const order: string[] = [];
  let release!: () => void;
  const stuck = lanes.run("dead", () => new Promise<void>((r) => (release = r)));
  const a = [1, 2, 3].map((i) => lanes.run("live", async () => void order.push(`live-${i}`)));
  const behind = lanes.run("dead", async () => void order.push("dead-2"));
  await Promise.all(a);
  assert.deepEqual(order, ["live-1", "live-2", "live-3"]);
  assert.equal(lanes.pending("dead"), 2);
  release();
  await stuck;
  await behind;
  assert.deepEqual(order, ["live-1", "live-2", "live-3", "dead-2"]);
  assert.equal(lanes.pending("dead"), 0);
});

test("a write past its time limit fails with a reason; its lane waits for it to end", async () => {
  let finish!: () => void;
  const write = new Promise<void>((r) => (finish = r));
  const { outcome, settled } = withTimeout(write, 20);
  await assert.rejects(
    outcome,
    (e: Error) => e instanceof WriteTimeoutError && /within 20 ms .*may still take effect/.test(e.message),
  );
  let ended = false;
  void settled.then(() => (ended = true));
  finish();
  await settled;
  assert.equal(ended, true);
  const quick = withTimeout(Promise.reject(new Error("device said no")), 60_000);
  await assert.rejects(quick.outcome, /device said no/);
  await quick.settled;
});

test("the ledger keeps answered ids and begun writes across a reopen, and forgets them after the window", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ledger-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "commands.sqlite");
  let ledger = new CommandLedger(file);
  ledger.answer({ id: "a", device: "d", point: "p", value: 1 }, { id: "a", status: "ok", at: 100 });
  ledger.begin("b", 200);
  ledger.answer({ id: "a", device: "d", point: "p", value: 1 }, { id: "a", status: "ok", at: 100 }, true);
  ledger.close();
  ledger = new CommandLedger(file);
  t.after(() => ledger.close());
  assert.deepEqual(ledger.known("a"), { result: { id: "a", status: "ok", at: 100 } });
  assert.deepEqual(ledger.known("b"), { begunAt: 200 });
  assert.equal(ledger.known("c"), null);
  assert.deepEqual(
    ledger.recent(10).map((r) => [r.id, r.status, r.repeat, r.value]),
    [
      ["a", "ok", false, "1"],
      ["a", "ok", true, "1"],
    ],
  );
  ledger.prune(150);
  assert.equal(ledger.known("a"), null);
  assert.deepEqual(ledger.known("b"), { begunAt: 200 });
  const reader = new CommandLedger(file, { readonly: true });
  t.after(() => reader.close());
  assert.deepEqual(reader.recent(10), []);
});

test("the ledger makes commits durable off the event loop, and commits made meanwhile share one sync", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "ledger-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ledger = new CommandLedger(join(dir, "commands.sqlite"));
  t.after(() => ledger.close());
  await ledger.durable();
  assert.equal(ledger.syncs, 0, "nothing committed, nothing synced");
  ledger.begin("a", 1);
  await ledger.durable();
  assert.equal(ledger.syncs, 1);
  await ledger.durable();
  assert.equal(ledger.syncs, 1, "a second call with nothing new does not sync again");
  const waits: Promise<void>[] = [];
  for (let i = 0; i < 50; i++) {
    ledger.begin(`b${i}`, 2);
    waits.push(ledger.durable());
  }
  await Promise.all(waits);
  assert.ok(
    ledger.syncs <= 3,
    `50 commits made while syncs ran took ${ledger.syncs - 1} syncs, not one each`,
  );
  assert.ok(ledger.syncs >= 2);
  ledger.answer({ id: "a" }, { id: "a", status: "ok", at: 3 });
  const before = ledger.syncs;
  await ledger.durable();
  assert.equal(ledger.syncs, before + 1, "an answer is synced too");
});
