// Hostile input at the command consumer: arbitrary bytes, arbitrary JSON and MessagePack documents,
// and structured-but-wrong commands (wrong types, unknown devices and points, values of the wrong
// kind or out of range, odd expiry times), each with either codec header, no header or an unknown
// one. What the router does with a message before a device is touched (decodeCommand, then
// validate) never throws: each is refused with a reason, or valid and then truly valid (the device
// and a writable point exist, the value has its kind and lies in its range, the command has not
// expired). Fixed seeds, bounded runs (fast-check).
import assert from "node:assert/strict";
import { test } from "node:test";
import { encode as msgpackEncode } from "@msgpack/msgpack";
import fc from "fast-check";
import { decodeCommand, parseTime } from "../../gateway/commands/message.js";
import { validate, writeKindOf } from "../../gateway/commands/validate.js";
import type { PolledMessage } from "../../gateway/iggy/index.js";
import { commandConfig, polled } from "../commands/fixtures.js";

const config = commandConfig;
const NOW = Date.parse("2026-12-02T00:00:00Z");

let tried = 0;

/** What the router decides for a message before it touches a device; throws only on a defect. */
function check(m: PolledMessage): void {
  tried++;
  const decoded = decodeCommand(m);
  if (!decoded.ok) {
    assert.ok(decoded.reason.length > 0, "a refusal says why");
    assert.equal(typeof decoded.id, "string");
    return;
  }
  const c = decoded.command;
  const r = validate(c, config.devices, "gw", NOW);
  if ("status" in r) {
    assert.ok(r.status === "rejected" || r.status === "expired", r.status);
    assert.ok(r.error.length > 0, "a refusal says why");
    return;
  }
  // Valid: check it independently.
  const device = config.devices.find((d) => d.id === c.device);
  assert.ok(device?.enabled, `valid for an unknown or disabled device ${c.device}`);
  const point = device.points.find((p) => p.name === c.point);
  assert.ok(point?.write !== undefined, `valid for a point that cannot be written: ${c.point}`);
  const kind = writeKindOf(device, point);
  const v = c.value;
  if (kind === "boolean") assert.equal(typeof v, "boolean");
  if (kind === "string") assert.equal(typeof v, "string");
  if (kind === "integer") assert.ok(typeof v === "bigint" || Number.isInteger(v), String(v));
  if (kind === "number") assert.ok(typeof v === "bigint" || typeof v === "number", String(v));
  if (point.write !== true && (point.write.min !== undefined || point.write.max !== undefined)) {
    assert.ok(typeof v === "number" || typeof v === "bigint");
    assert.ok(point.write.min === undefined || Number(v) >= point.write.min);
    assert.ok(point.write.max === undefined || Number(v) <= point.write.max);
  }
  assert.ok(c.expiresAt === undefined || c.expiresAt > NOW, "valid although expired");
}

const codecHeader = fc.constantFrom<string | null>("json", "msgpack", null, "cbor", "", "JSON");
const anyValue = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.boolean(),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 }),
  fc.uint8Array({ maxLength: 8 }),
);
const time = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
  fc.constantFrom(-1e20, 1e20, 8.64e15 + 1, -8.64e15 - 1, NOW - 1, NOW + 60_000),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom("2026-13-45T99:99:99Z", "0000-00-00T", "+275760-09-13T00:00:00.001Z", "2026-12-02T"),
  fc.string({ maxLength: 30 }),
  anyValue,
);
/** Commands with the right shape and wrong contents, or a field missing, or a field of a wrong type. */
const command = fc
  .record(
    {
      id: fc.oneof(fc.string({ maxLength: 10 }), fc.string({ minLength: 250, maxLength: 300 }), anyValue),
      device: fc.oneof(fc.constantFrom("boiler", "off", "thermo", "nope", ""), anyValue),
      point: fc.oneof(
        fc.constantFrom("setpoint", "count", "burner", "label", "pressure", "mode", "x", "nope"),
        anyValue,
      ),
      value: fc.oneof(fc.constantFrom(0, 45, 90, 90.0001, -0, 65535, 65536, true, "ab", 1.5), anyValue),
      expires_at: time,
      extra: anyValue,
    },
    { requiredKeys: [] },
  )
  .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)));
/** A valid command with one or two of its fields replaced by what `command` generates. */
const nearlyValid = fc
  .tuple(
    command,
    fc.subarray(["id", "device", "point", "value", "expires_at"], { minLength: 1, maxLength: 2 }),
  )
  .map(([wrong, keys]) => {
    const doc: Record<string, unknown> = { id: "c-1", device: "boiler", point: "count", value: 7 };
    for (const k of keys) {
      if (k in wrong) doc[k] = wrong[k];
      else delete doc[k];
    }
    return doc;
  });

function encode(doc: unknown, codec: "json" | "msgpack"): Uint8Array {
  if (codec === "msgpack") return msgpackEncode(doc, { useBigInt64: true });
  return Buffer.from(JSON.stringify(doc, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v)) ?? "");
}

test("commands: arbitrary bytes with any codec header are refused with a reason, never thrown", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), codecHeader, (bytes, codec) =>
      check(polled(bytes, codec)),
    ),
    { seed: 18_401, numRuns: 2_000 },
  );
});

test("commands: structured but wrong commands in JSON and MessagePack are refused with a reason or truly valid", () => {
  fc.assert(
    fc.property(
      fc.oneof(command, nearlyValid),
      fc.constantFrom<"json" | "msgpack">("json", "msgpack"),
      fc.boolean(),
      (doc, codec, withHeader) =>
        check(polled(encode(doc, codec), withHeader || codec === "msgpack" ? codec : null)),
    ),
    { seed: 18_402, numRuns: 3_000 },
  );
  fc.assert(
    fc.property(fc.jsonValue(), codecHeader, (doc, codec) =>
      check(polled(encode(doc, codec === "msgpack" ? "msgpack" : "json"), codec)),
    ),
    { seed: 18_403, numRuns: 1_000 },
  );
  assert.equal(tried, 2_000 + 3_000 + 1_000);
});

test("commands: an expiry beyond a date's range is refused, not thrown (found by seed 18_402, fixed)", () => {
  for (const expires_at of [-1e20, 1e20, -(2n ** 62n), 8.64e15 + 1]) {
    const m = polled(
      msgpackEncode(
        { id: "a", device: "boiler", point: "count", value: 1, expires_at },
        { useBigInt64: true },
      ),
      "msgpack",
    );
    check(m);
    const d = decodeCommand(m);
    assert.ok(!d.ok && /expires_at/.test(d.reason), JSON.stringify(d));
  }
  assert.equal(parseTime(8.64e15), 8.64e15);
});
