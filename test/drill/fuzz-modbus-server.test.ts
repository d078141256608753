// Hostile input at the Modbus TCP poller: a misbehaving server (node:net, loopback) answers each
// request of the gateway's Modbus adapter from a fuzzed script: frames cut short, the wrong unit id,
// transaction id or function code, wrong byte counts or MBAP lengths, exception storms, random
// bytes, silence, the connection closed. Then it behaves again. Checked: the adapter keeps running,
// a reading it emits as good always holds the server's true values (garbage never becomes a
// reading), it reads correctly again once the server behaves, it counts what went wrong, and it
// logs per burst (device down/up transitions), not per bad answer. Fixed seed, bounded runs.
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test } from "node:test";
import fc from "fast-check";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { closeAtEnd } from "../helpers/cleanup.js";
import { listen } from "../iggy/helpers.js";
import { modbusDevice, recorder, waitFor } from "../modbus/helpers.js";

const UNIT = 1;
/** The true values: holding:0 = 1234 (int16), holding:1 = 4321 (uint16). */
const REGISTERS = [1234, 4321];

type Misbehaviour =
  | { kind: "cut"; at: number }
  | { kind: "unit"; unit: number }
  | { kind: "tid"; delta: number }
  | { kind: "fc"; fc: number }
  | { kind: "byteCount"; delta: number }
  | { kind: "length"; length: number }
  | { kind: "exception"; code: number; times: number }
  | { kind: "garbage"; bytes: Uint8Array }
  | { kind: "silence" }
  | { kind: "close" };

const misbehaviour: fc.Arbitrary<Misbehaviour> = fc.oneof(
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat(12) }),
  fc.record({
    kind: fc.constant("unit" as const),
    unit: fc.integer({ min: 0, max: 255 }).filter((u) => u !== UNIT),
  }),
  fc.record({ kind: fc.constant("tid" as const), delta: fc.integer({ min: 1, max: 0xffff }) }),
  fc.record({
    kind: fc.constant("fc" as const),
    fc: fc.integer({ min: 0, max: 255 }).filter((f) => f !== 3),
  }),
  fc.record({
    kind: fc.constant("byteCount" as const),
    delta: fc.integer({ min: -4, max: 250 }).filter((d) => d !== 0),
  }),
  fc.record({
    kind: fc.constant("length" as const),
    length: fc.integer({ min: 0, max: 300 }).filter((l) => l !== 7),
  }),
  fc.record({
    kind: fc.constant("exception" as const),
    code: fc.integer({ min: 0, max: 255 }),
    times: fc.integer({ min: 1, max: 12 }),
  }),
  fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.constant({ kind: "silence" as const }),
  fc.constant({ kind: "close" as const }),
);

function goodReply(tid: number, unit: number, count: number): Buffer {
  const data = Buffer.alloc(2 * count);
  for (let i = 0; i < count; i++) data.writeUInt16BE(REGISTERS[i] ?? 0, 2 * i);
  const pdu = Buffer.concat([Buffer.from([3, data.length]), data]);
  const head = Buffer.alloc(7);
  head.writeUInt16BE(tid, 0);
  head.writeUInt16BE(0, 2);
  head.writeUInt16BE(pdu.length + 1, 4);
  head.writeUInt8(unit, 6);
  return Buffer.concat([head, pdu]);
}

function badReply(m: Misbehaviour, tid: number, count: number): Buffer | "silence" | "close" {
  const good = goodReply(tid, UNIT, count);
  switch (m.kind) {
    case "cut":
      return good.subarray(0, Math.min(m.at, good.length - 1));
    case "unit":
      return goodReply(tid, m.unit, count);
    case "tid":
      return goodReply((tid + m.delta) & 0xffff, UNIT, count);
    case "fc":
      good.writeUInt8(m.fc, 7);
      return good;
    case "byteCount":
      good.writeUInt8(Math.max(0, Math.min(255, good.readUInt8(8) + m.delta)), 8);
      return good;
    case "length":
      good.writeUInt16BE(m.length, 4);
      return good;
    case "exception": {
      const r = Buffer.alloc(9);
      r.writeUInt16BE(tid, 0);
      r.writeUInt16BE(3, 4);
      r.writeUInt8(UNIT, 6);
      r.writeUInt8(0x83, 7);
      r.writeUInt8(m.code, 8);
      return r;
    }
    case "garbage":
      return Buffer.from(m.bytes);
    case "silence":
      return "silence";
    case "close":
      return "close";
  }
}

test(
  "Modbus adapter: a misbehaving server never makes a wrong reading, and the adapter reads again once it behaves",
  { timeout: 600_000 },
  async (t) => {
    /** The answers still to give badly; an exception storm takes several requests. */
    let script: Misbehaviour[] = [];
    let behavingSince = 0;
    let requests = 0;
    let badAnswers = 0;
    const sockets = new Set<Socket>();
    const server = closeAtEnd(
      t,
      createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => undefined);
        let buf = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 12) {
            const tid = buf.readUInt16BE(0);
            const count = buf.readUInt16BE(10);
            buf = buf.subarray(6 + buf.readUInt16BE(4));
            requests++;
            const m = script[0];
            if (m === undefined) {
              socket.write(goodReply(tid, UNIT, count));
              continue;
            }
            if (m.kind === "exception" && m.times > 1) m.times--;
            else script.shift();
            if (script.length === 0) behavingSince = Date.now();
            badAnswers++;
            const r = badReply(m, tid, count);
            if (r === "close") socket.destroy();
            else if (r !== "silence") socket.write(r);
          }
        });
      }),
    );
    t.after(() => {
      for (const s of sockets) s.destroy();
    });
    const port = await listen(server);
    const rec = recorder();
    const device = modbusDevice({
      id: "m",
      connection: { host: "127.0.0.1", port, unit_id: UNIT, timeout_ms: 300, retries: 1 },
      poll_ms: 20,
      points: [
        { name: "a", address: "holding:0", type: "int16" },
        { name: "b", address: "holding:1", type: "uint16" },
      ],
    });
    const adapter = new ModbusAdapter([device], rec.deps, { maxProbeBackoffMs: 200 });
    await adapter.start(rec.emit);
    t.after(() => adapter.stop());
    const goodValues = (): boolean =>
      rec.readings.every((r) => r.quality !== "good" || r.value === REGISTERS[r.point === "a" ? 0 : 1]);
    await waitFor("a first good reading", () => rec.readings.some((r) => r.quality === "good"));

    let runs = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(misbehaviour, { minLength: 1, maxLength: 6 }), async (bad) => {
        runs++;
        const from = rec.readings.length;
        behavingSince = Number.POSITIVE_INFINITY;
        script = bad.map((m) => ({ ...m }));
        await waitFor(
          "a good reading of both points after the server behaves again",
          () =>
            !goodValues() ||
            new Set(
              rec.readings
                .slice(from)
                .filter((r) => r.quality === "good" && r.ts >= behavingSince)
                .map((r) => r.point),
            ).size === 2,
          120_000,
        ).catch((e: Error) => {
          throw new Error(
            `${e.message}; requests ${requests}, script left ${JSON.stringify(script)}, stats ${JSON.stringify(adapter.stats())}, last logs ${JSON.stringify(rec.logs.slice(-3))}`,
          );
        });
        assert.ok(
          goodValues(),
          `a wrong value became a good reading: ${JSON.stringify(rec.readings.slice(from))}`,
        );
      }),
      {
        seed: 18_501,
        includeErrorInReport: true,
        numRuns: 40,
      },
    );
    assert.equal(runs, 40);
    const s = adapter.stats().m!;
    t.diagnostic(`requests ${requests}, bad answers ${badAnswers}, stats ${JSON.stringify(s)}`);
    assert.ok(s.timeouts + s.exceptions + s.errors > 0, "what went wrong was counted");
    // Logged per burst: warnings and errors at most one per down/up transition or split read, not one per bad answer.
    const loud = rec.logs.filter((l) => (l.level as number) >= 40);
    assert.ok(
      loud.length <= 2 * (s.downs + 1) + 4,
      `${loud.length} warnings for ${s.downs} downs: ${JSON.stringify(loud.slice(0, 5))}`,
    );
    assert.ok(loud.length < badAnswers, `${loud.length} warnings for ${badAnswers} bad answers`);
  },
);
