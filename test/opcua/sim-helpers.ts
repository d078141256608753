// Shared by the OPC-UA tests: device maps for the simulator, a simulator that stops with the test,
// and the asyncua peers (a client and a server that are not ours) driven over stdin/stdout lines.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { TestContext } from "node:test";
import type { OpcuaDeviceConfig } from "../../protocols/opcua/schema.js";
import { opcuaDevice } from "../../protocols/opcua/schema.js";
import { OpcuaSimulator, type OpcuaSimulatorOptions } from "../../protocols/opcua/simulator.js";
import { killAtEnd } from "../helpers/cleanup.js";
export { freePort } from "../iggy/helpers.js";
import { peerPython, repoRoot } from "../helpers/peers.js";

/** A device of the given points on a port the simulator picks (0), validated by the real schema. */
export function opcuaDeviceConfig(
  id: string,
  points: Record<string, unknown>[],
  connection: Record<string, unknown> = {},
): OpcuaDeviceConfig {
  return opcuaDevice.parse({
    id,
    protocol: "opcua",
    connection: { endpoint: "opc.tcp://127.0.0.1:0", ...connection },
    points,
  });
}

/** One point of every type we read; the writable ones have a range or `write: true`. */
export const EVERY_TYPE: Record<string, unknown>[] = [
  { name: "running", node: "ns=1;s=Running", type: "Boolean", write: true },
  { name: "small", node: "ns=1;i=1001", type: "SByte" },
  { name: "mode", node: "ns=2;i=7", type: "Byte", write: { min: 0, max: 9 } },
  { name: "pressure", node: "ns=2;s=Pressure", type: "Int16", unit: "mbar" },
  { name: "count16", node: "ns=1;s=Count16", type: "UInt16" },
  { name: "position", node: "ns=1;s=Position", type: "Int32", unit: "mm", write: true },
  { name: "hours", node: "ns=1;s=Hours", type: "UInt32", unit: "h" },
  { name: "energy", node: "ns=3;s=Energy", type: "Int64", unit: "Wh", write: true },
  { name: "serial", node: "ns=1;s=Serial", type: "UInt64" },
  { name: "temperature", node: "ns=2;s=Temperature", type: "Float", unit: "degC" },
  { name: "speed", node: "ns=2;s=Speed", type: "Double", unit: "rpm", write: { min: 0, max: 3000 } },
  { name: "label", node: "ns=1;s=Label", type: "String", write: true },
];

/** Starts a simulator and stops it when the test ends. */
export async function startSimulator(
  t: { after(fn: () => Promise<void>): void },
  devices: OpcuaDeviceConfig[],
  opts: OpcuaSimulatorOptions = {},
): Promise<OpcuaSimulator> {
  const sim = new OpcuaSimulator(devices, opts);
  t.after(() => sim.stop());
  await sim.start();
  return sim;
}

/** A temporary folder removed when the test ends. */
export function tempDir(t: { after(fn: () => void): void }, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A child that answers one JSON line per line it is sent. */
export class LinePeer {
  private lines: string[] = [];
  private waiters: ((l: string) => void)[] = [];
  stderr = "";
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    proc.stderr.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-4000)));
    createInterface({ input: proc.stdout }).on("line", (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  next<T>(what: string, timeoutMs = 60_000): Promise<T> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l) as T);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error(`${what}: no answer; stderr: ${this.stderr}`)), timeoutMs);
      const onExit = (code: number | null) => {
        clearTimeout(timer);
        rej(new Error(`${what}: the peer exited (${code}); stderr: ${this.stderr}`));
      };
      this.proc.once("exit", onExit);
      this.waiters.push((x) => {
        clearTimeout(timer);
        this.proc.off("exit", onExit);
        res(JSON.parse(x) as T);
      });
    });
  }
  ask<T>(line: string): Promise<T> {
    this.proc.stdin.write(line + "\n");
    return this.next<T>(line);
  }
}

export function spawnPeer(t: TestContext, script: string, args: string[]): LinePeer {
  const proc = killAtEnd(
    t,
    spawn(peerPython(), [resolve(repoRoot, "test/opcua", script), ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    }),
  );
  t.after(() => proc.stdin.end());
  return new LinePeer(proc);
}

export interface AsyncuaInfo {
  value: unknown;
  type: string | null;
  status: string;
  access: number;
  user_access: number;
  unit: string | null;
  error?: string;
}
