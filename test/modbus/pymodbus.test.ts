// The adapter against a Modbus peer that is not ours: a pymodbus 3.x TCP server (test/modbus/pymodbus_server.py)
// serving known values of every type and byte order, checked after writes with pymodbus's own client.
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { test, type TestContext } from "node:test";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { freePort } from "../../protocols/free-port.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { hasPythonModule, peerPython, repoRoot, requirePeer } from "../helpers/peers.js";
import { modbusDevice, recorder, waitFor } from "./helpers.js";

interface ManifestPoint {
  name: string;
  address: string;
  type: string;
  value: unknown;
  [k: string]: unknown;
}

class Peer {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    createInterface({ input: proc.stdout }).on("line", (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  next(timeoutMs = 20_000): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error("pymodbus server said nothing")), timeoutMs);
      this.waiters.push((x) => {
        clearTimeout(t);
        res(x);
      });
    });
  }
  async get(table: string, address: number, count: number): Promise<number[]> {
    this.proc.stdin.write(`get ${table} ${address} ${count}\n`);
    return JSON.parse(await this.next()) as number[];
  }
}

async function startPeer(
  t: TestContext,
  port: number,
): Promise<{ peer: Peer; points: ManifestPoint[]; stderr: () => string }> {
  const script = resolve(repoRoot, "test/modbus/pymodbus_server.py");
  const proc = killAtEnd(t, spawn(peerPython(), [script, String(port)], { stdio: ["pipe", "pipe", "pipe"] }));
  let stderr = "";
  proc.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const peer = new Peer(proc);
  const first = await peer.next().catch((e: Error) => {
    throw new Error(`${e.message}; stderr: ${stderr}`);
  });
  const { points } = JSON.parse(first) as { points: ManifestPoint[] };
  return { peer, points, stderr: () => stderr };
}

const expected = (p: ManifestPoint) =>
  p.type === "int64" || p.type === "uint64" ? BigInt(p.value as string) : p.value;

test("pymodbus server: every type and byte order read exactly, writes land, exceptions handled", async (t) => {
  if (!requirePeer(t, "pymodbus", hasPythonModule("pymodbus"), "scripts/setup.sh --peers (PyPI pymodbus)"))
    return;
  const port = await freePort();
  const { peer, points, stderr } = await startPeer(t, port);
  const rec = recorder();
  const conn = { host: "127.0.0.1", port, timeout_ms: 1000, retries: 2 };
  const reads = modbusDevice({
    id: "py",
    connection: conn,
    points: points.map(({ value: _v, ...p }) => p),
  });
  const writes = modbusDevice({
    id: "pyw",
    connection: conn,
    points: [
      {
        name: "f32",
        address: "holding:250",
        type: "float32",
        order: "CDAB",
        write: { min: -1000, max: 1000, readback: true },
      },
      { name: "u16", address: "holding:252", type: "uint16", write: true },
      { name: "i64", address: "holding:253", type: "int64", order: "BADC", write: true },
      {
        name: "temp",
        address: "holding:257",
        type: "int16",
        scale: 0.1,
        offset: -50,
        write: { min: -50, max: 150 },
      },
      { name: "label", address: "holding:258", type: "string", length: 3, write: true },
      { name: "flag", address: "holding:261", type: "bool", bit: 5, write: { readback: true } },
      { name: "valve", address: "coil:10", type: "bool", write: { readback: true } },
    ],
  });
  const bad = modbusDevice({
    id: "pybad",
    connection: conn,
    points: [{ name: "beyond", address: "holding:299", type: "uint32" }],
  });
  const adapter = new ModbusAdapter([reads, writes, bad], rec.deps);
  try {
    // The server may need a moment after printing its manifest: poll until every point is read.
    let readings = await adapter.pollOnce("py");
    await waitFor("pymodbus to answer every point", async () => {
      if (readings.length === points.length && readings.every((r) => r.quality === "good")) return true;
      readings = await adapter.pollOnce("py");
      return false;
    });
    assert.equal(readings.length, points.length, `readings: ${JSON.stringify(adapter.health())} ${stderr()}`);
    const byName = new Map(readings.map((r) => [r.point, r]));
    for (const p of points) {
      const r = byName.get(p.name)!;
      assert.equal(r.quality, "good", p.name);
      if (p.type === "float32") {
        // Python holds the float32 exactly; we read its shortest decimal, the same float32.
        assert.equal(Math.fround(r.value as number), p.value, `${p.name}: got ${String(r.value)}`);
        assert.ok(String(r.value).length <= String(p.value).length, `${p.name}: got ${String(r.value)}`);
      } else assert.deepEqual(r.value, expected(p), `${p.name}: got ${String(r.value)}`);
    }
    // Holding 0..99 in one read (4 orders x 25 registers), 200..201, one input, one coil read, one discrete.
    assert.equal(adapter.plan("py").length, 5);

    await adapter.write({ device: "pyw", point: "f32" }, -273.5);
    assert.deepEqual(await peer.get("holding", 250, 2), [0xc000, 0xc388]); // -273.5 = 0xC388C000, CDAB
    await adapter.write({ device: "pyw", point: "u16" }, 40000);
    assert.deepEqual(await peer.get("holding", 252, 1), [40000]);
    await adapter.write({ device: "pyw", point: "i64" }, 0x0102030405060708n);
    assert.deepEqual(await peer.get("holding", 253, 4), [0x0201, 0x0403, 0x0605, 0x0807]);
    await adapter.write({ device: "pyw", point: "temp" }, 21.7); // (21.7 + 50) / 0.1 = 717
    assert.deepEqual(await peer.get("holding", 257, 1), [717]);
    await adapter.write({ device: "pyw", point: "label" }, "OK!");
    assert.deepEqual(await peer.get("holding", 258, 3), [0x4f4b, 0x2100, 0]);
    await adapter.write({ device: "pyw", point: "flag" }, true);
    assert.deepEqual(await peer.get("holding", 261, 1), [32]);
    await adapter.write({ device: "pyw", point: "valve" }, true);
    assert.deepEqual(await peer.get("coil", 10, 1), [1]);
    const back = new Map((await adapter.pollOnce("pyw")).map((r) => [r.point, r.value]));
    assert.equal(back.get("f32"), -273.5);
    assert.equal(back.get("i64"), 0x0102030405060708n);
    assert.ok(Math.abs((back.get("temp") as number) - 21.7) < 1e-9);
    assert.equal(back.get("label"), "OK!");
    await assert.rejects(
      adapter.write({ device: "pyw", point: "temp" }, 151),
      /outside the allowed range -50\.\.150/,
    );

    // Past the end of pymodbus's table: exception 2, a bad-quality reading, a counted reject, no crash.
    const beyond = await adapter.pollOnce("pybad");
    assert.deepEqual(
      beyond.map((r) => [r.point, r.value, r.quality]),
      [["beyond", null, "bad"]],
    );
    assert.ok(rec.rejects.some((r) => r.reason === "modbus_exception" && r.device === "pybad"));
    const h = adapter.health().devices.find((d) => d.device === "pybad")!;
    assert.equal(h.up, true);
    assert.equal(h.error, undefined, "health names an error only for a device that is down");
    assert.match(adapter.stats().pybad!.lastException ?? "", /exception 2 \(illegal data address\)/);
  } finally {
    await adapter.stop();
    peer.proc.kill();
  }
});
