// Modbus RTU on a pseudo-terminal pair made with socat (the simulator on one end, the adapter on the
// other), and RTU framing over TCP.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { makePtyPair, ModbusSimulator } from "../../protocols/modbus/simulator.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { everyTypePoints, modbusDevice, recorder, waitFor } from "./helpers.js";

test("RTU over a pty pair: several unit ids on one line, every type, writes, a dead unit does not stall", async (t) => {
  if (!requirePeer(t, "socat", hasCommand("socat", ["-V"]), "apt-get install socat")) return;
  const dir = mkdtempSync(join(tmpdir(), "iggy-edge-rtu-"));
  const gwPath = join(dir, "ttyGW");
  const simPath = join(dir, "ttySIM");
  const { points, values } = everyTypePoints(0);
  const serial = { path: gwPath, baud: 38400, parity: "even", stop_bits: 1 };
  const dev = (id: string, unit: number, extra: Record<string, unknown> = {}) =>
    modbusDevice({
      id,
      poll_ms: 100,
      connection: { transport: "rtu", serial, unit_id: unit, timeout_ms: 600, retries: 1 },
      points: [
        ...points,
        { name: "sp", address: "holding:300", type: "float32", order: "CDAB", write: { readback: true } },
      ],
      ...extra,
    });
  const u1 = dev("rtu-1", 1);
  const u2 = dev("rtu-2", 2);
  const dead = dev("rtu-dead", 9);
  const sim = new ModbusSimulator([u1, u2], { animateMs: 0, serialPaths: { [gwPath]: simPath } });
  const rec = recorder();
  const adapter = new ModbusAdapter([u1, u2, dead], rec.deps, { maxProbeBackoffMs: 2000 });
  // t.after hooks run in the order they were added.
  t.after(() => adapter.stop());
  t.after(() => sim.stop());
  killAtEnd(t, await makePtyPair(gwPath, simPath, 20_000));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  await sim.start();
  for (const [name, v] of Object.entries(values)) {
    sim.set("rtu-1", name, v as never);
    sim.set("rtu-2", name, v as never);
  }
  for (const id of ["rtu-1", "rtu-2"]) {
    const readings = await adapter.pollOnce(id);
    const byName = new Map(readings.map((r) => [r.point, r]));
    for (const [name, v] of Object.entries(values)) {
      assert.equal(byName.get(name)?.quality, "good", `${id} ${name}`);
      assert.deepEqual(byName.get(name)!.value, v, `${id} ${name}`);
    }
  }
  await adapter.write({ device: "rtu-2", point: "sp" }, 12.25);
  assert.equal(sim.get("rtu-2", "sp"), 12.25);
  assert.notEqual(sim.get("rtu-1", "sp"), 12.25, "the write went to unit 2 only");

  await adapter.start(rec.emit);
  const good = (d: string) =>
    rec.readings.filter((r) => r.device === d && r.point === "i16_abcd" && r.quality === "good").length;
  await waitFor(
    "10 readings of each live unit and the dead one logged down",
    () =>
      good("rtu-1") >= 10 && good("rtu-2") >= 10 && rec.messages("modbus device down", "rtu-dead").length > 0,
  );
  const up = Object.fromEntries(adapter.health().devices.map((d) => [d.device, d.up]));
  assert.deepEqual(up, { "rtu-1": true, "rtu-2": true, "rtu-dead": false });
  assert.equal(rec.messages("modbus device down", "rtu-dead").length, 1);
});

test("RTU framing over TCP (a serial-to-Ethernet converter in transparent mode)", async (t) => {
  const cfg = modbusDevice({
    id: "rot",
    connection: { transport: "rtu_over_tcp", host: "127.0.0.1", port: 0, unit_id: 5, timeout_ms: 300 },
    points: everyTypePoints(10).points,
  });
  const { values } = everyTypePoints(10);
  const sim = new ModbusSimulator([cfg], { animateMs: 0 });
  await sim.start();
  const port = (sim.address("rot") as { port: number }).port;
  const rec = recorder();
  const adapter = new ModbusAdapter([{ ...cfg, connection: { ...cfg.connection, port } }], rec.deps);
  t.after(() => adapter.stop());
  t.after(() => sim.stop());
  for (const [name, v] of Object.entries(values)) sim.set("rot", name, v as never);
  const readings = await adapter.pollOnce("rot");
  assert.equal(readings.length, Object.keys(values).length);
  for (const r of readings)
    assert.deepEqual(r.value, values[r.point], `${r.point} ${JSON.stringify(adapter.health())}`);
  sim.fault("rot", { kind: "garbage", count: 1 });
  const afterGarbage = await adapter.pollOnce("rot"); // one garbled answer, then a good retry
  assert.equal(afterGarbage.filter((r) => r.quality === "good").length, readings.length);
});
