// Server mode against real clients: libcoap's coap-client posts every supported format and gets the
// right codes (malformed payloads 4.00 with a diagnostic and a count, unknown paths 4.04, oversized
// 4.13, unknown formats 4.15); with the coap package's client, an answer comes only after the commit,
// a refused append is answered 5.03 with Max-Age, and a source over its rate 4.29.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { encode as cborEncode } from "cborg";
import type { Reading } from "../../protocols/adapter.js";
import { BufferFullError } from "../../buffer/errors.js";
import { waitFor } from "../helpers/wait.js";
import {
  clientAgent,
  coapClient,
  coapDevice,
  coapRequest,
  needLibcoap,
  section,
  startAdapter,
} from "./helpers.js";

const opts = { timeout: 120_000 };

function meter() {
  return coapDevice({
    id: "meter-2",
    points: [
      { name: "power", path: "/d/meter-2/power", unit: "W" },
      { name: "temp", path: "/d/meter-2/all", decode: { json: "env.t" } },
      { name: "hum", path: "/d/meter-2/all", decode: { json: "env.h" } },
      { name: "state", path: "/d/meter-2/state", decode: "string" },
    ],
  });
}

function values(readings: Reading[], point: string): unknown[] {
  return readings.filter((r) => r.point === point).map((r) => r.value);
}

test("coap-client posts every supported format and gets the right codes", opts, async (t) => {
  if (!needLibcoap(t)) return;
  const { port, rec, adapter } = await startAdapter(t, [meter()], section({ max_request_bytes: 256 }));
  const url = (p: string) => `coap://127.0.0.1:${port}${p}`;
  const dir = mkdtempSync(join(tmpdir(), "coap-test-"));
  const file = (name: string, bytes: Uint8Array) => {
    const f = join(dir, name);
    writeFileSync(f, bytes);
    return f;
  };

  // text/plain, confirmable POST and PUT: success codes print nothing.
  let r = await coapClient(["-m", "post", "-e", "12.5", url("/d/meter-2/power")]);
  assert.equal(r.out.trim(), "");
  r = await coapClient(["-m", "put", "-t", "0", "-e", "13", url("/d/meter-2/power")]);
  assert.equal(r.out.trim(), "");
  assert.deepEqual(values(rec.readings, "power"), [12.5, 13]);
  assert.equal(rec.readings[0]!.unit, "W");

  // JSON: one path carrying two points.
  r = await coapClient(["-m", "post", "-t", "50", "-e", '{"env":{"t":21.5,"h":40}}', url("/d/meter-2/all")]);
  assert.equal(r.out.trim(), "");
  assert.deepEqual(values(rec.readings, "temp"), [21.5]);
  assert.deepEqual(values(rec.readings, "hum"), [40]);

  // CBOR, from a file.
  r = await coapClient([
    "-m",
    "put",
    "-t",
    "60",
    "-f",
    file("doc.cbor", cborEncode({ env: { t: 22, h: 41 } })),
    url("/d/meter-2/all"),
  ]);
  assert.equal(r.out.trim(), "");
  assert.deepEqual(values(rec.readings, "temp"), [21.5, 22]);

  // SenML JSON: base name, base time, base unit, relative time.
  r = await coapClient([
    "-m",
    "post",
    "-t",
    "110",
    "-e",
    '[{"bn":"urn:dev:meter-2:","bt":1.7e9,"bu":"W","n":"power","v":100},{"n":"power","t":10,"v":101}]',
    url("/d/meter-2/power"),
  ]);
  assert.equal(r.out.trim(), "");
  const senml = rec.readings.filter((x) => x.point === "power").slice(-2);
  assert.deepEqual(
    senml.map((x) => [x.ts, x.value]),
    [
      [1_700_000_000_000, 100],
      [1_700_000_010_000, 101],
    ],
  );

  // SenML CBOR (integer labels: -2 bn, -3 bt, 0 n, 2 v, 3 vs, 6 t); a relative time (< 2^28) is from now.
  const before = Date.now();
  const pack = [
    new Map<number, unknown>([
      [-2, "meter-2/"],
      [0, "state"],
      [3, "running"],
      [6, -5],
    ]),
  ];
  r = await coapClient([
    "-m",
    "post",
    "-t",
    "112",
    "-f",
    file("pack.cbor", cborEncode(pack)),
    url("/d/meter-2/state"),
  ]);
  assert.equal(r.out.trim(), "");
  const state = rec.readings.at(-1)!;
  assert.equal(state.value, "running");
  assert.ok(state.ts >= before - 5000 - 1000 && state.ts <= Date.now() - 5000 + 1000, `ts ${state.ts}`);

  const stored = rec.readings.length;
  // Malformed payloads: 4.00 with a diagnostic, counted, nothing stored.
  r = await coapClient(["-m", "post", "-e", "abc", url("/d/meter-2/power")]);
  assert.match(r.out, /4\.00 not_a_number: not a number: "abc"/);
  r = await coapClient(["-m", "post", "-t", "50", "-e", '{"env":', url("/d/meter-2/all")]);
  assert.match(r.out, /4\.00 bad_json/);
  r = await coapClient(["-m", "post", "-t", "110", "-e", '[{"n":"other","v":1}]', url("/d/meter-2/power")]);
  assert.match(r.out, /4\.00 unknown_senml_name/);
  r = await coapClient(["-m", "post", "-t", "60", "-e", "0xff", url("/d/meter-2/all")]);
  assert.match(r.out, /4\.00 bad_cbor/);
  assert.deepEqual(
    rec.rejects.map((x) => [x.reason, x.device]),
    [
      ["not_a_number", "meter-2"],
      ["bad_json", "meter-2"],
      ["unknown_senml_name", "meter-2"],
      ["bad_cbor", "meter-2"],
    ],
  );

  // Unknown path 4.04; a payload over max_request_bytes 4.13; a format not read here 4.15; GET 4.05.
  r = await coapClient(["-m", "post", "-e", "1", url("/d/nobody/power")]);
  assert.match(r.out, /4\.04 no resource \/d\/nobody\/power/);
  r = await coapClient(["-m", "post", "-e", "9".repeat(257), url("/d/meter-2/power")]);
  assert.match(r.out, /4\.13 the payload is 257 bytes; at most 256/);
  r = await coapClient(["-m", "post", "-t", "41", "-e", "<v/>", url("/d/meter-2/power")]);
  assert.match(r.out, /4\.15 /);
  r = await coapClient(["-m", "get", url("/d/meter-2/power")]);
  assert.match(r.out, /4\.05 /);
  assert.equal(rec.readings.length, stored, "nothing stored from refused requests");
  const s = adapter.stats().server!;
  assert.equal(s.notFound, 1);
  assert.equal(s.tooLarge, 1);
  assert.equal(s.malformed, 5);
});

test(
  "an answer comes only after the commit; a refused append is answered 5.03 with Max-Age",
  opts,
  async (t) => {
    let hold: (() => void) | null = null;
    let refuseNext = false;
    const committed: Reading[] = [];
    const emit = (readings: Reading[]): Promise<void> => {
      if (refuseNext) {
        refuseNext = false;
        return Promise.reject(
          new BufferFullError("max_bytes", "the buffer is full (max_bytes): refusing new readings"),
        );
      }
      if (readings[0]!.value === 1) {
        return new Promise((resolve) => {
          hold = () => {
            committed.push(...readings);
            resolve();
          };
        });
      }
      committed.push(...readings);
      return Promise.resolve();
    };
    const { port } = await startAdapter(t, [meter()], section({ busy_max_age_s: 7 }), emit);
    const agent = clientAgent(t);

    let answered: string | null = null;
    const first = coapRequest(agent, port, "POST", "/d/meter-2/power", "1").then((res) => {
      answered = res.code;
      return res;
    });
    await waitFor("the held commit", () => hold !== null);
    // A later request of the same client is answered while the first one's commit is pending.
    const second = await coapRequest(agent, port, "PUT", "/d/meter-2/power", "2");
    assert.equal(second.code, "2.04");
    assert.equal(answered, null, "the first request was answered before its readings were committed");
    assert.deepEqual(
      committed.map((r) => r.value),
      [2],
    );
    hold!();
    assert.equal((await first).code, "2.01");
    assert.deepEqual(
      committed.map((r) => r.value),
      [2, 1],
    );

    refuseNext = true;
    const refused = await coapRequest(agent, port, "POST", "/d/meter-2/power", "3");
    assert.equal(refused.code, "5.03");
    assert.equal(refused.headers["Max-Age"], 7);
    assert.match(refused.payload.toString(), /not stored: the buffer is full/);
    const retried = await coapRequest(agent, port, "POST", "/d/meter-2/power", "3");
    assert.equal(retried.code, "2.01");
    assert.deepEqual(
      committed.map((r) => r.value),
      [2, 1, 3],
    );
  },
);

test("a source over its rate is answered 4.29 with Max-Age, and counted", opts, async (t) => {
  const { port, rec, adapter } = await startAdapter(
    t,
    [meter()],
    section({ source_rate: 1, source_burst: 3 }),
  );
  const agent = clientAgent(t);
  const codes: string[] = [];
  for (let i = 0; i < 4; i++)
    codes.push((await coapRequest(agent, port, "PUT", "/d/meter-2/power", String(i))).code);
  assert.deepEqual(codes.slice(0, 3), ["2.04", "2.04", "2.04"]);
  assert.equal(codes[3], "4.29");
  assert.equal(adapter.stats().server!.rateLimited, 1);
  assert.ok(rec.rejects.some((r) => r.reason === "rate_limited"));
  assert.equal(rec.readings.length, 3);
});

test(
  "each acknowledgement's delay goes to the metrics under the server's name, as in health",
  opts,
  async (t) => {
    const { port, rec, adapter } = await startAdapter(t, [meter()]);
    const delays: { connection: string; seconds: number }[] = [];
    rec.deps.ackDelay = (connection, seconds) => delays.push({ connection, seconds });
    const agent = clientAgent(t);
    for (let i = 0; i < 3; i++)
      assert.equal((await coapRequest(agent, port, "POST", "/d/meter-2/power", String(i))).code, "2.01");
    const name = `coap server 127.0.0.1:${port}`;
    assert.deepEqual(
      delays.map((d) => d.connection),
      [name, name, name],
    );
    assert.ok(delays.every((d) => d.seconds >= 0 && Number.isFinite(d.seconds)));
    const conn = adapter.health().connections![0]!;
    assert.equal(conn.name, name);
    assert.equal(conn.acknowledged, 3);
    assert.ok(conn.ack_delay_ms !== null && conn.ack_delay_ms >= 0);
    await adapter.stop();
    assert.equal(adapter.health().connections, undefined);
  },
);
