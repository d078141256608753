// Byte-exact checks of the 0.8 layouts against the worked examples of the protocol brief, and the
// framing's answers to truncated, oversized and garbage input.
import assert from "node:assert/strict";
import { test } from "node:test";
import { header, IggyProtocolError, IggyServerError } from "../../gateway/iggy/index.js";
import { decodeHeaders, encodeHeaders } from "../../gateway/iggy/wire/headers.js";
import { serverWire08 } from "../../gateway/iggy/dev-server/wire/v0_8.js";
import { wire08 } from "../../gateway/iggy/wire/v0_8/index.js";

const hex = (s: string): Buffer => Buffer.from(s.replace(/[^0-9a-f]/gi, ""), "hex");
const client = () => wire08.newSession({ maxReplyBytes: 1 << 20 });

test("LOGIN_USER root/secret is the 28 bytes of example A", () => {
  const bytes = Buffer.concat(
    client().encode({ op: "login", credentials: { username: "root", password: "secret" } }),
  );
  assert.deepEqual(bytes, hex("18000000 26000000 04726f6f74 06736563726574 00000000 00000000"));
});

test("SEND_MESSAGES is the 217 bytes of example B", () => {
  const origin = 1_767_225_600_000_000n;
  const bytes = Buffer.concat(
    client().encode({
      op: "send",
      stream: "iot",
      topic: "telemetry",
      partitioning: { kind: "balanced" },
      messages: [
        {
          id: 1n,
          payload: Buffer.from("21.5"),
          headers: new Map([["unit", header.string("C")]]),
          originTimestamp: origin,
        },
        { id: 2n, payload: Buffer.from("22.0"), originTimestamp: origin },
      ],
    }),
  );
  const expected = hex(`
    d5000000 65000000 16000000 0203696f74 020974656c656d65747279 0100 02000000
    00000000 53000000 0000000000000000  00000000 97000000 0000000000000000
    0000000000000000 01000000000000000000000000000000 0000000000000000 0000000000000000
    0040204648470600 0f000000 04000000 0000000000000000 32312e35 020400000075 6e697402 0100000043
    0000000000000000 02000000000000000000000000000000 0000000000000000 0000000000000000
    0040204648470600 00000000 04000000 0000000000000000 32322e30`);
  assert.equal(bytes.length, 217);
  assert.deepEqual(bytes, expected);
});

test("POLL_MESSAGES Next is the 50 bytes of example C", () => {
  const bytes = Buffer.concat(
    client().encode({
      op: "poll",
      consumer: { kind: "consumer", id: 1 },
      stream: "iot",
      topic: "telemetry",
      partition: 0,
      strategy: { kind: "next" },
      count: 10,
      autoCommit: true,
    }),
  );
  assert.deepEqual(
    bytes,
    hex(
      "2e000000 64000000 01010401000000 0203696f74 020974656c656d65747279 0100000000 050000000000000000 0a000000 01",
    ),
  );
});

test("the dev server's decoder reads example B back", () => {
  const s = serverWire08.newSession({ maxRequestBytes: 1 << 20 });
  const sent = Buffer.concat(
    client().encode({
      op: "send",
      stream: "iot",
      topic: 7,
      partitioning: { kind: "key", key: Buffer.from("k1") },
      messages: [{ id: 9n << 100n, payload: Buffer.from("x"), headers: new Map([["a", header.uint64(5n)]]) }],
    }),
  );
  const [f] = s.push(sent);
  const req = s.decodeRequest(f!.code, f!.body);
  assert.equal(req.op, "send");
  if (req.op !== "send") return;
  assert.equal(req.stream, "iot");
  assert.equal(req.topic, 7);
  assert.deepEqual(req.partitioning, { kind: "key", key: Buffer.from("k1") });
  assert.equal(req.messages[0]!.id, 9n << 100n);
  assert.deepEqual(decodeHeaders(req.messages[0]!.headers), new Map([["a", header.uint64(5n)]]));
});

test("user headers round-trip every value kind", () => {
  const h = new Map([
    ["raw", header.raw(Buffer.from([0, 1, 2]))],
    ["s", header.string("ünïcode")],
    ["b", header.bool(true)],
    ["i8", { kind: "int8", value: -5 }],
    ["i16", { kind: "int16", value: -300 }],
    ["i32", { kind: "int32", value: -70000 }],
    ["i64", { kind: "int64", value: -(1n << 40n) }],
    ["i128", { kind: "int128", value: -(1n << 100n) }],
    ["u8", { kind: "uint8", value: 200 }],
    ["u16", { kind: "uint16", value: 60000 }],
    ["u32", header.uint32(4_000_000_000)],
    ["u64", header.uint64((1n << 64n) - 1n)],
    ["u128", { kind: "uint128", value: (1n << 128n) - 1n }],
    ["f32", { kind: "float32", value: 1.5 }],
    ["f64", header.float64(Math.PI)],
  ] as const);
  assert.deepEqual(decodeHeaders(encodeHeaders(new Map(h))), new Map(h));
  assert.throws(() => encodeHeaders(new Map([["", header.string("x")]])), RangeError);
  assert.throws(() => encodeHeaders(new Map([["k", header.string("x".repeat(256))]])), RangeError);
});

test("replies split at every byte boundary are reassembled", () => {
  const reply = hex("00000000 04000000 07000000  00000000 00000000");
  for (let cut = 0; cut <= reply.length; cut++) {
    const s = client();
    const got = [...s.push(reply.subarray(0, cut)), ...s.push(reply.subarray(cut))];
    assert.equal(got.length, 2, `cut at ${cut}`);
    assert.equal(s.decode({ op: "login", credentials: { token: "t" } }, got[0]!).userId, 7);
    assert.equal(got[1]!.body.length, 0);
  }
});

test("an error status becomes a typed error with the server's code", () => {
  const s = client();
  const [r] = s.push(hex("2a000000 00000000"));
  assert.throws(
    () => s.decode({ op: "login", credentials: { username: "a", password: "b" } }, r!),
    (e: unknown) => e instanceof IggyServerError && e.code === 42 && e.codeName === "InvalidCredentials",
  );
});

test("an oversized reply length is a protocol error before any body is buffered", () => {
  const s = wire08.newSession({ maxReplyBytes: 1024 });
  assert.throws(() => s.push(hex("00000000 01040000")), IggyProtocolError);
});

test("a reply body that does not fit its layout is a protocol error", () => {
  const s = client();
  const [r] = s.push(hex("00000000 03000000 010203"));
  assert.throws(
    () => s.decode({ op: "getOffset", consumer: { kind: "consumer", id: 1 }, stream: 1, topic: 1 }, r!),
    IggyProtocolError,
  );
  const s2 = client();
  // poll reply claiming one message but holding only the 16-byte prefix
  const [p] = s2.push(hex("00000000 10000000 00000000 0000000000000000 01000000"));
  assert.throws(
    () =>
      s2.decode(
        {
          op: "poll",
          consumer: { kind: "consumer", id: 1 },
          stream: 1,
          topic: 1,
          strategy: { kind: "first" },
          count: 1,
          autoCommit: false,
        },
        p!,
      ),
    IggyProtocolError,
  );
});

test("server framing refuses a length below 4 and an oversized length", () => {
  assert.throws(
    () => serverWire08.newSession({ maxRequestBytes: 100 }).push(hex("03000000 01000000")),
    /below 4/,
  );
  assert.throws(
    () => serverWire08.newSession({ maxRequestBytes: 100 }).push(hex("ff000000 01000000")),
    /exceeds/,
  );
});

test("server decoding maps bad SEND metadata to Iggy's codes", () => {
  const s = serverWire08.newSession({ maxRequestBytes: 1 << 20 });
  const code = (body: Buffer): number => {
    try {
      s.decodeRequest(101, body);
      return 0;
    } catch (e) {
      return (e as { code: number }).code;
    }
  };
  // stream identifier kind 9
  assert.equal(code(hex("0e000000 0901aa 0203747474 0100 01000000")), 6);
  // zero messages
  assert.equal(code(hex("10000000 0203737373 0203747474 0100 00000000")), 4009);
  // index says 10 bytes for a message (shorter than its 64-byte header)
  assert.equal(
    code(
      hex(
        "10000000 0203737373 0203747474 0100 01000000 00000000 0a000000 0000000000000000 00000000000000000000",
      ),
    ),
    4037,
  );
  // unknown command
  assert.equal(code(Buffer.alloc(0)) === 0, false);
  assert.throws(() => s.decodeRequest(999, Buffer.alloc(0)), /unknown command/);
});
