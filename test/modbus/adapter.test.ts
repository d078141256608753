// The adapter against our own simulator over Modbus TCP: values, faults, down/up, writes.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { ModbusSimulator } from "../../protocols/modbus/simulator.js";
import { everyTypePoints, modbusDevice, recorder, waitFor } from "./helpers.js";

interface Rig {
  sim: ModbusSimulator;
  adapter: ModbusAdapter;
  rec: ReturnType<typeof recorder>;
  gw: ModbusDeviceConfig[];
  stop(): Promise<void>;
}

/** A simulator on a free port and an adapter pointed at it. Devices sharing `shared: true` share one endpoint. */
async function rig(
  devices: Record<string, unknown>[],
  opts: { strict?: boolean; animateMs?: number; start?: boolean; emit?: (n: number) => Promise<void> } = {},
): Promise<Rig> {
  const simDevs = devices.map((d) =>
    modbusDevice({ ...d, connection: { host: "127.0.0.1", port: 0, ...(d.connection as object) } }),
  );
  // Devices with the same unit-less `group` tag go behind one listener: give the simulator one port for them.
  const sim = new ModbusSimulator(simDevs, {
    animateMs: opts.animateMs ?? 0,
    strictAddresses: opts.strict ?? false,
  });
  await sim.start();
  const gw = simDevs.map((d) => {
    const a = sim.address(d.id) as { host: string; port: number };
    return { ...d, connection: { ...d.connection, port: a.port } };
  });
  const rec = recorder();
  const adapter = new ModbusAdapter(gw, rec.deps, { maxProbeBackoffMs: 2000 });
  if (opts.start !== false) await adapter.start(rec.emit);
  return {
    sim,
    adapter,
    rec,
    gw,
    async stop() {
      await adapter.stop();
      await sim.stop();
    },
  };
}

// Short enough for the fault tests, long enough that a loaded machine does not time out a healthy device.
const fast = { timeout_ms: 500, retries: 1 };

/**
 * Waits until the simulator has received `n` more requests for `device` than it had when called.
 * A device's poll loop sends its next request only after the cycle before has been emitted, so
 * once two more requests arrived, a poll that started after this call has been handled in full.
 */
async function afterRequests(sim: ModbusSimulator, device: string, n = 2): Promise<void> {
  const from = sim.requestCounts()[device]!;
  await waitFor(`${n} more requests to ${device}`, () => sim.requestCounts()[device]! >= from + n);
}

test("reads every type, byte order, scale and bit exactly", async () => {
  const { points, values } = everyTypePoints(100);
  const r = await rig([{ id: "all", connection: fast, points }], { start: false });
  try {
    for (const [name, v] of Object.entries(values)) r.sim.set("all", name, v as never);
    const readings = await r.adapter.pollOnce("all");
    assert.equal(readings.length, points.length);
    for (const rd of readings) {
      assert.equal(rd.quality, "good", rd.point);
      assert.deepEqual(rd.value, values[rd.point], rd.point);
    }
    assert.equal(typeof readings.find((x) => x.point === "i64_abcd")!.value, "bigint");
    // 100..(end) is contiguous: one read does it all.
    assert.equal(r.adapter.plan("all").length, 1);
    assert.equal(r.sim.requestCounts().all, 1);
  } finally {
    await r.stop();
  }
});

test("coils and discrete inputs; points of another interval poll on their own schedule", async () => {
  const r = await rig([
    {
      id: "io",
      poll_ms: 50,
      connection: fast,
      points: [
        { name: "run", address: "coil:0", type: "bool" },
        { name: "alarm", address: "discrete:17", type: "bool" },
        { name: "slow", address: "input:3", type: "uint16", poll_ms: 1000 },
      ],
    },
  ]);
  try {
    r.sim.set("io", "run", true);
    r.sim.set("io", "alarm", true);
    r.sim.set("io", "slow", 77);
    const of = (point: string) => r.rec.readings.filter((x) => x.point === point);
    await waitFor("two readings of the slow point", () => of("slow").length >= 2);
    assert.ok(of("run").every((x) => x.value === true && x.quality === "good"));
    assert.ok(r.rec.readings.some((x) => x.point === "alarm" && x.value === true));
    assert.equal(of("slow")[0]!.value, 77);
    // A twentieth of the slow point's interval: even when every fast poll is five times late, the
    // fast points are read more than twice as often.
    assert.ok(
      of("run").length >= 2 * of("slow").length,
      `run polled ${of("run").length} times, slow ${of("slow").length} times`,
    );
  } finally {
    await r.stop();
  }
});

test("deadband: a reading only when the value moved by at least the deadband", async () => {
  const r = await rig([
    {
      id: "db",
      poll_ms: 30,
      connection: fast,
      points: [{ name: "t", address: "holding:0", type: "int16", deadband: 5 }],
    },
  ]);
  try {
    r.sim.set("db", "t", 100);
    await waitFor("first", () => r.rec.readings.length >= 1);
    r.sim.set("db", "t", 103);
    await afterRequests(r.sim, "db");
    assert.equal(r.rec.readings.length, 1, "103 is within 5 of 100");
    r.sim.set("db", "t", 106);
    await waitFor("moved", () => r.rec.readings.length >= 2);
    assert.deepEqual(
      r.rec.readings.map((x) => x.value),
      [100, 106],
    );
  } finally {
    await r.stop();
  }
});

test("a Modbus exception becomes one bad-quality reading and a counted reject; the device stays up", async () => {
  const r = await rig([
    {
      id: "ex",
      poll_ms: 30,
      connection: fast,
      points: [{ name: "p", address: "holding:0", type: "uint16", deadband: 0 }],
    },
  ]);
  try {
    r.sim.set("ex", "p", 5);
    await waitFor("good", () => r.rec.readings.some((x) => x.quality === "good"));
    r.sim.fault("ex", { kind: "exception", code: 4 });
    await waitFor("bad", () => r.rec.readings.some((x) => x.quality === "bad"));
    await waitFor("three rejects", () => r.rec.rejects.length >= 3);
    await afterRequests(r.sim, "ex");
    assert.equal(
      r.rec.readings.filter((x) => x.quality === "bad").length,
      1,
      "bad is reported once, not every poll",
    );
    assert.ok(
      r.rec.rejects.length >= 3 &&
        r.rec.rejects.every((x) => x.reason === "modbus_exception" && x.device === "ex"),
    );
    const h = r.adapter.health().devices[0]!;
    assert.equal(h.up, true);
    assert.equal(h.error, undefined, "health names an error only for a device that is down");
    assert.match(r.adapter.stats().ex!.lastException ?? "", /exception 4 \(server device failure\)/);
    r.sim.fault("ex", null);
    r.sim.set("ex", "p", 6);
    await waitFor("good again", () => r.rec.readings.at(-1)?.quality === "good");
    assert.equal(r.rec.readings.at(-1)!.value, 6);
  } finally {
    await r.stop();
  }
});

test("a silent device goes down and comes back up: logged once per transition, bad readings once", async () => {
  const r = await rig([
    { id: "d", poll_ms: 30, connection: fast, points: [{ name: "p", address: "holding:0" }] },
  ]);
  try {
    await waitFor("up", () => r.adapter.health().devices[0]!.up);
    r.sim.fault("d", { kind: "silent" });
    await waitFor("down", () => !r.adapter.health().devices[0]!.up);
    const timeouts = r.adapter.stats().d!.timeouts;
    await waitFor("two probes while down", () => r.adapter.stats().d!.timeouts >= timeouts + 2);
    assert.equal(r.rec.messages("modbus device down", "d").length, 1);
    assert.equal(r.rec.readings.filter((x) => x.quality === "bad").length, 1);
    assert.match(r.adapter.health().devices[0]!.error ?? "", /timed out/);
    r.sim.fault("d", null);
    await waitFor("up again", () => r.adapter.health().devices[0]!.up);
    await waitFor("a good reading again", () => r.rec.readings.at(-1)!.quality === "good");
    assert.equal(r.rec.messages("modbus device up", "d").length, 2, "first up, then recovered");
    assert.equal(r.adapter.stats().d!.downs, 1);
  } finally {
    await r.stop();
  }
});

test("garbage and dropped connections are survived: the device recovers once the fault clears", async () => {
  for (const kind of ["garbage", "drop"] as const) {
    const r = await rig([
      { id: "g", poll_ms: 30, connection: fast, points: [{ name: "p", address: "holding:0" }] },
    ]);
    try {
      await waitFor("up", () => r.adapter.health().devices[0]!.up);
      r.sim.fault("g", { kind });
      await waitFor(`down on ${kind}`, () => !r.adapter.health().devices[0]!.up);
      r.sim.fault("g", null);
      await waitFor(`up after ${kind}`, () => r.adapter.health().devices[0]!.up);
      const n = r.rec.readings.length;
      await waitFor("more readings", () => r.rec.readings.length > n + 2);
    } finally {
      await r.stop();
    }
  }
});

test("one dead unit id behind a shared gateway does not stall the others", async (t) => {
  // Three unit ids behind one TCP endpoint: the simulator serves them on one port.
  const base = (id: string, unit: number) =>
    modbusDevice({
      id,
      poll_ms: 100,
      connection: { host: "127.0.0.1", port: 0, unit_id: unit, timeout_ms: 500, retries: 1 },
      points: [{ name: "p", address: "holding:0" }],
    });
  const devs = [base("u1", 1), base("u2", 2), base("u3", 3)];
  // One listener: give all three the same non-zero port after the first one got a free port.
  const probe = new ModbusSimulator([devs[0]!], { animateMs: 0 });
  await probe.start();
  const port = (probe.address("u1") as { port: number }).port;
  await probe.stop();
  const shared = devs.map((d) => ({ ...d, connection: { ...d.connection, port } }));
  const sim = new ModbusSimulator(shared, { animateMs: 0 });
  const rec = recorder();
  const adapter = new ModbusAdapter(shared, rec.deps, { maxProbeBackoffMs: 2000 });
  t.after(() => adapter.stop());
  t.after(() => sim.stop());
  await sim.start();
  sim.fault("u2", { kind: "silent" });
  const started = Date.now();
  await adapter.start(rec.emit);
  const count = (d: string) => rec.readings.filter((x) => x.device === d && x.quality === "good").length;
  await waitFor("12 readings each of the live units", () => count("u1") >= 12 && count("u3") >= 12);
  const elapsed = Date.now() - started;
  assert.equal(count("u2"), 0);
  const h = Object.fromEntries(adapter.health().devices.map((d) => [d.device, d.up]));
  assert.deepEqual(h, { u1: true, u2: false, u3: true });
  // The dead unit costs one timeout per probe, not one per 100 ms poll: after its first poll (two
  // requests with the retry), probes come at least 900 ms apart (timers are late, never early).
  const asked = sim.requestCounts().u2!;
  assert.ok(asked <= 3 + elapsed / 900, `dead unit was asked ${asked} times in ${elapsed} ms`);
});

test("a slow device on its own endpoint does not delay the others", async () => {
  const r = await rig([
    {
      id: "slow",
      poll_ms: 50,
      connection: { timeout_ms: 2000 },
      points: [{ name: "p", address: "holding:0" }],
    },
    { id: "quick", poll_ms: 50, connection: fast, points: [{ name: "p", address: "holding:0" }] },
  ]);
  r.sim.fault("slow", { kind: "delay", ms: 700 });
  try {
    const seq = () => r.rec.readings.map((x) => x.device);
    const slowAt = () => seq().flatMap((d, i) => (d === "slow" ? [i] : []));
    await waitFor("two readings of the slow device", () => slowAt().length >= 2);
    // Between two answers of the slow device, 700 ms apart, the quick one (50 ms polls) kept going.
    const [first, second] = slowAt();
    const quickBetween = seq()
      .slice(first, second)
      .filter((d) => d === "quick").length;
    assert.ok(quickBetween >= 4, `quick got ${quickBetween} readings while slow answered once`);
  } finally {
    await r.stop();
  }
});

test("a device that refuses a coalesced read (illegal address in a gap) is read point by point", async () => {
  const r = await rig(
    [
      {
        id: "holes",
        connection: fast,
        points: [
          { name: "a", address: "holding:0" },
          { name: "b", address: "holding:5" },
          { name: "c", address: "holding:6" },
        ],
      },
    ],
    { strict: true, start: false },
  );
  try {
    r.sim.set("holes", "a", 1);
    r.sim.set("holes", "b", 2);
    r.sim.set("holes", "c", 3);
    assert.equal(r.adapter.plan("holes").length, 1);
    const first = await r.adapter.pollOnce("holes");
    assert.deepEqual(first, []); // the refused read; the plan is split
    assert.equal(r.adapter.plan("holes").length, 2);
    const second = await r.adapter.pollOnce("holes");
    assert.deepEqual(
      second.map((x) => [x.point, x.value]),
      [
        ["a", 1],
        ["b", 2],
        ["c", 3],
      ],
    );
    assert.equal(
      r.rec.messages(
        "modbus device refuses a coalesced read (illegal data address); reading its points separately from now on",
      ).length,
      1,
    );
  } finally {
    await r.stop();
  }
});

test("an emit that rejects (buffer full) is survived and counted", async () => {
  const r = await rig(
    [{ id: "e", poll_ms: 20, connection: fast, points: [{ name: "p", address: "holding:0" }] }],
    {
      start: false,
    },
  );
  let calls = 0;
  await r.adapter.start(async () => {
    calls++;
    if (calls <= 5) throw new Error("buffer full");
  });
  try {
    await waitFor("accepted again", () => calls > 8);
    const s = r.adapter.stats().e!;
    assert.equal(s.emitFailures, 5);
    assert.ok(s.readings >= 3);
    assert.equal(
      r.rec.messages("modbus readings not accepted by the buffer; polling goes on and counts what is lost")
        .length,
      1,
    );
    assert.equal(r.rec.messages("modbus readings accepted by the buffer again").length, 1);
  } finally {
    await r.stop();
  }
});

test("a device nobody listens for is down with a clear error, and nothing crashes", async () => {
  const rec = recorder();
  const dev = modbusDevice({
    id: "nobody",
    poll_ms: 50,
    connection: { host: "127.0.0.1", port: 1, timeout_ms: 100 },
    points: [{ name: "p", address: "holding:0" }],
  });
  const adapter = new ModbusAdapter([dev], rec.deps);
  await adapter.start(rec.emit);
  try {
    await waitFor("down", () => adapter.health().devices[0]!.error?.includes("cannot connect") ?? false);
    assert.match(adapter.health().devices[0]!.error!, /cannot connect to 127\.0\.0\.1:1: .*ECONNREFUSED/);
    assert.equal(adapter.health().devices[0]!.up, false);
  } finally {
    await adapter.stop();
  }
});

// ---- writes -------------------------------------------------------------------------------------

const writable = [
  {
    name: "sp",
    address: "holding:0",
    type: "float32",
    scale: 0.1,
    write: { min: 0, max: 90, readback: true },
  },
  { name: "count", address: "holding:2", type: "uint16", write: true },
  { name: "big", address: "holding:3", type: "int64", order: "DCBA", write: true },
  { name: "label", address: "holding:7", type: "string", length: 4, write: true },
  { name: "flag", address: "holding:11", type: "bool", bit: 2, write: { readback: true } },
  { name: "other", address: "holding:11", type: "bool", bit: 9 },
  { name: "pump", address: "coil:4", type: "bool", write: { readback: true } },
  { name: "ro", address: "holding:20", type: "uint16" },
];

test("writes land with type encoding, scale, bit read-modify-write and read-back", async () => {
  const r = await rig([{ id: "w", connection: fast, points: writable }], { start: false });
  try {
    r.sim.set("w", "other", true);
    await r.adapter.write({ device: "w", point: "sp" }, 42.5);
    assert.equal(r.sim.get("w", "sp"), Math.fround(425) * 0.1);
    await r.adapter.write({ device: "w", point: "count" }, 65535);
    assert.equal(r.sim.get("w", "count"), 65535);
    await r.adapter.write({ device: "w", point: "big" }, -(2n ** 62n));
    assert.equal(r.sim.get("w", "big"), -(2n ** 62n));
    await r.adapter.write({ device: "w", point: "label" }, "ABC");
    assert.equal(r.sim.get("w", "label"), "ABC");
    await r.adapter.write({ device: "w", point: "flag" }, true);
    assert.equal(r.sim.get("w", "flag"), true);
    assert.equal(r.sim.get("w", "other"), true, "the other bits of the register are kept");
    assert.deepEqual(r.sim.registers("w", "holding", 11, 1), [(1 << 9) | (1 << 2)]);
    await r.adapter.write({ device: "w", point: "flag" }, false);
    assert.deepEqual(r.sim.registers("w", "holding", 11, 1), [1 << 9]);
    await r.adapter.write({ device: "w", point: "pump" }, true);
    assert.equal(r.sim.get("w", "pump"), true);
    assert.equal(r.adapter.stats().w!.writes, 7);
  } finally {
    await r.stop();
  }
});

test("writes are refused: not writable, out of range, wrong type, unknown point, too long", async () => {
  const r = await rig([{ id: "w", connection: fast, points: writable }], { start: false });
  try {
    const w = (point: string, v: never) => r.adapter.write({ device: "w", point }, v);
    await assert.rejects(w("ro", 1 as never), /w\/ro is not writable/);
    await assert.rejects(w("sp", 90.5 as never), /90\.5 is outside the allowed range 0\.\.90/);
    await assert.rejects(w("sp", -1 as never), /outside the allowed range/);
    await assert.rejects(w("sp", "12" as never), /expected a number, got string/);
    await assert.rejects(w("count", 70000 as never), /out of range for uint16/);
    await assert.rejects(w("pump", 2 as never), /expected a boolean/);
    await assert.rejects(w("label", "ABCDEFGHI" as never), /does not fit in 4 registers/);
    await assert.rejects(w("nope", 1 as never), /has no point named nope/);
    await assert.rejects(
      r.adapter.write({ device: "ghost", point: "sp" }, 1),
      /no enabled modbus device named ghost/,
    );
    assert.equal(r.sim.requestCounts().w, 0, "nothing reached the device");
  } finally {
    await r.stop();
  }
});

test("read-back catches a write the device did not keep; exceptions on write are clear errors", async () => {
  const r = await rig([{ id: "w", connection: fast, points: writable }], { start: false });
  try {
    r.sim.fault("w", { kind: "ignore_writes" });
    await assert.rejects(
      r.adapter.write({ device: "w", point: "sp" }, 50),
      /read-back: the device holds 20 \(registers 17224,0\), not the 50 written \(registers 17402,0\)/,
    );
    assert.equal(r.sim.get("w", "pump"), true);
    await assert.rejects(
      r.adapter.write({ device: "w", point: "pump" }, false),
      /read-back: wrote false, device holds true/,
    );
    r.sim.fault("w", { kind: "exception", code: 3 });
    await assert.rejects(
      r.adapter.write({ device: "w", point: "count" }, 1),
      /write of w\/count failed: Modbus exception 3 \(illegal data value\)/,
    );
    assert.equal(r.adapter.stats().w!.writeFailures, 3);
  } finally {
    await r.stop();
  }
});

test("a device that refuses FC5/FC6 gets FC15/FC16", async () => {
  const r = await rig([{ id: "w", connection: fast, points: writable }], { start: false });
  try {
    r.sim.fault("w", { kind: "no_single_writes" });
    await r.adapter.write({ device: "w", point: "count" }, 1234);
    await r.adapter.write({ device: "w", point: "pump" }, true);
    assert.equal(r.sim.get("w", "count"), 1234);
    assert.equal(r.sim.get("w", "pump"), true);
    assert.equal(r.rec.messages("modbus device refuses single writes (FC5/FC6); using FC15/FC16").length, 1);
  } finally {
    await r.stop();
  }
});

test("writes queue on the same line as polls and go first", async () => {
  const r = await rig([{ id: "w", poll_ms: 10, connection: fast, points: writable }]);
  try {
    await waitFor("polling", () => r.rec.readings.length > 5);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => r.adapter.write({ device: "w", point: "count" }, i)),
    );
    assert.equal(r.sim.get("w", "count"), 19, "the writes ran one at a time, in order");
  } finally {
    await r.stop();
  }
});
