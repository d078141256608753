// A Modbus device simulator: serves the device map's points over Modbus TCP, RTU over TCP, or RTU on
// a serial line (a pseudo-terminal pair made with socat), with values that change, writes accepted on
// writable points, and faults on demand. A small server of its own over `net`: modbus-serial's
// ServerTCP answers about 570 sequential requests/s, this one several thousand, which 100 simulated
// devices at 1 s need comfortably.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import type { Logger } from "pino";
import type { ModbusDeviceConfig } from "./schema.js";
import type { Simulator } from "../adapter.js";
import { parseFaultSpec, type FaultKind } from "../fault-spec.js";
import { sleep } from "../sleep.js";
import { decodeRegisters, encodeRegisters, fromEngineering, toEngineering, type RawValue } from "./codec.js";
import { crc16 } from "./crc.js";
import { isBitTable, resolvePoints, type ResolvedPoint, type Table } from "./points.js";

/** What a simulated device does wrong, for every request (or the next `count` requests) until cleared. */
export type SimFault = (
  | { kind: "exception"; code: number }
  | { kind: "delay"; ms: number }
  /** Never answers. */
  | { kind: "silent" }
  /** Closes the connection when asked (TCP transports). */
  | { kind: "drop" }
  /** Answers bytes that are not a Modbus frame. */
  | { kind: "garbage" }
  /** Refuses FC5/FC6 (illegal function), like devices that only take multiple writes. */
  | { kind: "no_single_writes" }
  /** Acknowledges writes without storing them (for read-back checks). */
  | { kind: "ignore_writes" }
) & { count?: number };

export interface SimulatorOptions {
  /** How often values of read-only points change; 0 freezes them. Default 1000 ms. */
  animateMs?: number;
  /** Only addresses of declared points exist; reads that touch others get exception 2. */
  strictAddresses?: boolean;
  /** Gateway serial path -> the path the simulator opens (the other end of a pty pair). */
  serialPaths?: Record<string, string>;
  /** Faults from the start, by device id. */
  faults?: Record<string, SimFault>;
  log?: Logger;
}

interface SimDevice {
  id: string;
  unit: number;
  points: ResolvedPoint[];
  coil: Uint8Array;
  discrete: Uint8Array;
  holding: Uint16Array;
  input: Uint16Array;
  /** 1 where a writable point lives (coil and holding). */
  writableCoil: Uint8Array;
  writableHolding: Uint8Array;
  /** 1 where a declared point lives, for strictAddresses. */
  declared: Record<Table, Uint8Array>;
  fault?: SimFault | undefined;
  requests: number;
  /** Write requests (FC5, FC6, FC15, FC16) that reached the device, answered or not. */
  writes: number;
}

interface Endpoint {
  key: string;
  kind: "tcp" | "rtu_over_tcp" | "rtu";
  host?: string;
  port?: number;
  serialPath?: string;
  baud?: number;
  units: Map<number, SimDevice>;
  server?: net.Server;
  sockets: Set<net.Socket>;
  close?: () => Promise<void>;
  socat?: ChildProcess;
}

export class ModbusSimulator implements Simulator {
  private readonly devices = new Map<string, SimDevice>();
  private readonly endpoints = new Map<string, Endpoint>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  private readonly animateMs: number;

  constructor(
    devices: ModbusDeviceConfig[],
    private readonly opts: SimulatorOptions = {},
  ) {
    this.animateMs = opts.animateMs ?? 1000;
    let anon = 0;
    for (const cfg of devices) {
      if (!cfg.enabled) continue;
      const points = resolvePoints(cfg);
      const size = (t: Table) =>
        Math.min(65536, Math.max(8, ...points.filter((p) => p.table === t).map((p) => p.address + p.count)));
      const dev: SimDevice = {
        id: cfg.id,
        unit: cfg.connection.unit_id,
        points,
        coil: new Uint8Array(size("coil")),
        discrete: new Uint8Array(size("discrete")),
        holding: new Uint16Array(size("holding")),
        input: new Uint16Array(size("input")),
        writableCoil: new Uint8Array(size("coil")),
        writableHolding: new Uint8Array(size("holding")),
        declared: {
          coil: new Uint8Array(size("coil")),
          discrete: new Uint8Array(size("discrete")),
          holding: new Uint8Array(size("holding")),
          input: new Uint8Array(size("input")),
        },
        fault: opts.faults?.[cfg.id],
        requests: 0,
        writes: 0,
      };
      for (const p of points) {
        for (let a = p.address; a < p.address + p.count; a++) {
          dev.declared[p.table][a] = 1;
          if (p.write && p.table === "coil") dev.writableCoil[a] = 1;
          if (p.write && p.table === "holding") dev.writableHolding[a] = 1;
        }
      }
      this.devices.set(cfg.id, dev);
      const c = cfg.connection;
      // Port 0 (tests): every such device gets a listener of its own on a free port.
      const key =
        c.transport === "rtu"
          ? `serial:${c.serial!.path}`
          : `${c.transport}://${c.host}:${c.port === 0 ? `0#${anon++}` : c.port}`;
      let ep = this.endpoints.get(key);
      if (!ep) {
        ep = {
          key,
          kind: c.transport,
          units: new Map(),
          sockets: new Set(),
          ...(c.transport === "rtu"
            ? { serialPath: c.serial!.path, baud: c.serial!.baud }
            : { host: c.host!, port: c.port }),
        };
        this.endpoints.set(key, ep);
      }
      if (ep.units.has(dev.unit)) throw new Error(`simulator: unit ${dev.unit} twice on ${key}`);
      ep.units.set(dev.unit, dev);
      this.animate(dev, true);
    }
  }

  async start(): Promise<void> {
    try {
      for (const ep of this.endpoints.values()) {
        if (ep.kind === "rtu") await this.startSerial(ep);
        else await this.startTcp(ep);
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    if (this.animateMs > 0) {
      this.timer = setInterval(() => {
        this.tick++;
        for (const d of this.devices.values()) this.animate(d, false);
      }, this.animateMs);
      this.timer.unref();
    }
    this.opts.log?.info(
      { devices: this.devices.size, endpoints: this.endpoints.size },
      "modbus simulator listening",
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all(
      [...this.endpoints.values()].map(async (ep) => {
        for (const s of ep.sockets) s.destroy();
        ep.sockets.clear();
        if (ep.server) {
          await new Promise<void>((r) => ep.server!.close(() => r()));
          ep.server = undefined;
        }
        if (ep.close) await ep.close();
        ep.close = undefined;
        if (ep.socat) {
          ep.socat.kill();
          ep.socat = undefined;
        }
      }),
    );
  }

  /** Where a device is served: host and the actual port (for port 0), or the simulator's serial path. */
  address(deviceId: string): { host: string; port: number } | { path: string } {
    for (const ep of this.endpoints.values()) {
      for (const d of ep.units.values()) {
        if (d.id !== deviceId) continue;
        if (ep.kind === "rtu") return { path: ep.serialPath! };
        const a = ep.server?.address();
        return { host: ep.host!, port: a && typeof a === "object" ? a.port : ep.port! };
      }
    }
    throw new Error(`simulator has no device ${deviceId}`);
  }

  /** Sets a point's value (engineering units, as a reading would show it). */
  set(deviceId: string, point: string, value: RawValue): void {
    const { dev, p } = this.find(deviceId, point);
    if (isBitTable(p.table)) {
      dev[p.table as "coil" | "discrete"][p.address] = value === true || value === 1 ? 1 : 0;
      return;
    }
    const table = dev[p.table as "holding" | "input"];
    const regs = encodeRegisters(fromEngineering(value, p.type, p.scale, p.offset), p);
    if (p.type === "bool" && p.bit !== undefined) {
      const mask = 1 << p.bit;
      table[p.address] = regs[0] ? table[p.address]! | mask : table[p.address]! & ~mask;
      return;
    }
    table.set(regs, p.address);
  }

  /** A point's current value (engineering units). */
  get(deviceId: string, point: string): RawValue {
    const { dev, p } = this.find(deviceId, point);
    if (isBitTable(p.table)) return dev[p.table as "coil" | "discrete"][p.address] === 1;
    return toEngineering(
      decodeRegisters(dev[p.table as "holding" | "input"], p.address, p),
      p.scale,
      p.offset,
    );
  }

  /** Raw registers, for tests. */
  registers(deviceId: string, table: "holding" | "input", address: number, count: number): number[] {
    const dev = this.devices.get(deviceId);
    if (!dev) throw new Error(`simulator has no device ${deviceId}`);
    return Array.from(dev[table].subarray(address, address + count));
  }

  /** Sets or clears (null) a device's fault. */
  fault(deviceId: string, fault: SimFault | null): void {
    const dev = this.devices.get(deviceId);
    if (!dev) throw new Error(`simulator has no device ${deviceId}`);
    dev.fault = fault ?? undefined;
    if (fault?.kind === "drop") {
      // Drop now, too: every connection that reaches this device.
      for (const ep of this.endpoints.values()) {
        if ([...ep.units.values()].includes(dev)) for (const s of ep.sockets) s.destroy();
      }
    }
  }

  /** Requests served per device since start. */
  requestCounts(): Record<string, number> {
    return Object.fromEntries([...this.devices.values()].map((d) => [d.id, d.requests]));
  }

  /** Write requests that reached each device since start. */
  writeCounts(): Record<string, number> {
    return Object.fromEntries([...this.devices.values()].map((d) => [d.id, d.writes]));
  }

  private find(deviceId: string, point: string): { dev: SimDevice; p: ResolvedPoint } {
    const dev = this.devices.get(deviceId);
    if (!dev) throw new Error(`simulator has no device ${deviceId}`);
    const p = dev.points.find((x) => x.name === point);
    if (!p) throw new Error(`simulated device ${deviceId} has no point ${point}`);
    return { dev, p };
  }

  // ---- changing values --------------------------------------------------------------------------

  private animate(dev: SimDevice, initial: boolean): void {
    const t = this.tick;
    for (const p of dev.points) {
      if (!initial && p.write) continue; // a writable point keeps what was written
      let v: RawValue;
      switch (p.type) {
        case "bool":
          v = Math.floor(t / ((p.index % 5) + 2)) % 2 === p.index % 2;
          break;
        case "string":
          if (!initial) continue;
          v = `${dev.id}`.slice(0, (p.length ?? 1) * 2);
          break;
        case "float32":
        case "float64":
          v = Math.round((20 + 5 * Math.sin(t / 10 + p.index)) * 1000) / 1000;
          break;
        default: {
          const raw = (t + p.index * 7) % (p.type === "int16" || p.type === "uint16" ? 1000 : 100_000);
          v = raw * p.scale + p.offset;
        }
      }
      try {
        this.set(dev.id, p.name, v);
      } catch {
        /* a value that does not fit the point's type after scaling: leave the register alone */
      }
    }
  }

  // ---- the protocol -----------------------------------------------------------------------------

  /** Answers one request PDU for a unit; null means "no answer" (unknown unit on a serial bus). */
  private handle(dev: SimDevice, pdu: Buffer): Buffer {
    dev.requests++;
    const fc = pdu[0] ?? 0;
    const ex = (code: number) => Buffer.from([fc | 0x80, code]);
    if (pdu.length < 5) return ex(3);
    const addr = pdu.readUInt16BE(1);
    const qty = pdu.readUInt16BE(3);
    const f = dev.fault;
    if (f?.kind === "exception") return ex(f.code);
    if (f?.kind === "no_single_writes" && (fc === 5 || fc === 6)) return ex(1);
    if (f?.kind === "ignore_writes" && (fc === 5 || fc === 6 || fc === 15 || fc === 16)) {
      return Buffer.from(pdu.subarray(0, 5));
    }
    const strict = this.opts.strictAddresses === true;
    const inRange = (t: Table, len: number) => {
      const table = dev[t];
      if (qty < 1 || addr + len > table.length) return false;
      if (!strict) return true;
      for (let a = addr; a < addr + len; a++) if (!dev.declared[t][a]) return false;
      return true;
    };
    switch (fc) {
      case 1:
      case 2: {
        if (qty < 1 || qty > 2000) return ex(3);
        const t: Table = fc === 1 ? "coil" : "discrete";
        if (!inRange(t, qty)) return ex(2);
        const bytes = (qty + 7) >> 3;
        const out = Buffer.alloc(2 + bytes);
        out[0] = fc;
        out[1] = bytes;
        const src = dev[t];
        for (let i = 0; i < qty; i++) if (src[addr + i]) out[2 + (i >> 3)]! |= 1 << (i & 7);
        return out;
      }
      case 3:
      case 4: {
        if (qty < 1 || qty > 125) return ex(3);
        const t: Table = fc === 3 ? "holding" : "input";
        if (!inRange(t, qty)) return ex(2);
        const out = Buffer.allocUnsafe(2 + qty * 2);
        out[0] = fc;
        out[1] = qty * 2;
        const src = dev[t];
        for (let i = 0; i < qty; i++) out.writeUInt16BE(src[addr + i]!, 2 + 2 * i);
        return out;
      }
      case 5: {
        if (qty !== 0xff00 && qty !== 0) return ex(3);
        if (addr >= dev.coil.length || !dev.writableCoil[addr]) return ex(2);
        dev.coil[addr] = qty === 0xff00 ? 1 : 0;
        return Buffer.from(pdu.subarray(0, 5));
      }
      case 6: {
        if (addr >= dev.holding.length || !dev.writableHolding[addr]) return ex(2);
        dev.holding[addr] = qty;
        return Buffer.from(pdu.subarray(0, 5));
      }
      case 15:
      case 16: {
        const n = pdu[5] ?? 0;
        if (qty < 1 || pdu.length < 6 + n) return ex(3);
        if (fc === 15) {
          if (qty > 1968 || n !== (qty + 7) >> 3) return ex(3);
          for (let a = addr; a < addr + qty; a++)
            if (a >= dev.coil.length || !dev.writableCoil[a]) return ex(2);
          for (let i = 0; i < qty; i++) dev.coil[addr + i] = (pdu[6 + (i >> 3)]! >> (i & 7)) & 1;
        } else {
          if (qty > 123 || n !== qty * 2) return ex(3);
          for (let a = addr; a < addr + qty; a++)
            if (a >= dev.holding.length || !dev.writableHolding[a]) return ex(2);
          for (let i = 0; i < qty; i++) dev.holding[addr + i] = pdu.readUInt16BE(6 + 2 * i);
        }
        return Buffer.from(pdu.subarray(0, 5));
      }
      default:
        return ex(1);
    }
  }

  /**
   * Runs the device's fault (if any) around answering: calls `send` with the answer, or with garbage,
   * later, or never; or destroys the connection.
   */
  private respond(
    dev: SimDevice,
    pdu: Buffer,
    send: (pdu: Buffer | "garbage") => void,
    drop: () => void,
  ): void {
    if (WRITE_FUNCTIONS.has(pdu[0] ?? 0)) dev.writes++;
    const f = dev.fault;
    if (f && f.count !== undefined && --f.count <= 0) dev.fault = undefined;
    switch (f?.kind) {
      case "silent":
        dev.requests++;
        return;
      case "drop":
        dev.requests++;
        drop();
        return;
      case "garbage":
        dev.requests++;
        send("garbage");
        return;
      case "delay": {
        const answer = this.handle(dev, pdu);
        setTimeout(() => send(answer), f.ms).unref();
        return;
      }
      default:
        send(this.handle(dev, pdu));
    }
  }

  // ---- transports -------------------------------------------------------------------------------

  private startTcp(ep: Endpoint): Promise<void> {
    const server = net.createServer((sock) => {
      ep.sockets.add(sock);
      sock.setNoDelay(true);
      sock.on("close", () => ep.sockets.delete(sock));
      sock.on("error", () => sock.destroy());
      const onData =
        ep.kind === "tcp"
          ? this.mbapReader(ep, sock)
          : this.rtuReader(
              ep,
              (b) => sock.write(b),
              () => sock.destroy(),
            );
      sock.on("data", onData);
    });
    ep.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", (e) =>
        reject(new Error(`simulator cannot listen on ${ep.host}:${ep.port}: ${e.message}`)),
      );
      server.listen(ep.port, ep.host, () => {
        server.removeAllListeners("error");
        server.on("error", (e) => this.opts.log?.warn({ err: e.message }, "modbus simulator server error"));
        resolve();
      });
    });
  }

  /** Modbus TCP: MBAP header (transaction, protocol 0, length, unit) + PDU. */
  private mbapReader(ep: Endpoint, sock: net.Socket): (chunk: Buffer) => void {
    let buf: Buffer = Buffer.alloc(0);
    return (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const len = buf.readUInt16BE(4);
        if (len < 2 || len > 254 || buf.readUInt16BE(2) !== 0) {
          sock.destroy(); // not Modbus TCP: a real device would drop it too
          return;
        }
        if (buf.length < 6 + len) break;
        const tid = buf.readUInt16BE(0);
        const unit = buf[6]!;
        const pdu = buf.subarray(7, 6 + len);
        buf = buf.subarray(6 + len);
        const dev =
          ep.units.get(unit) ??
          (ep.units.size === 1 && unit === 0xff ? [...ep.units.values()][0] : undefined);
        if (!dev) {
          // A TCP gateway with no such unit behind it: "gateway target device failed to respond".
          sock.write(mbap(tid, unit, Buffer.from([pdu[0]! | 0x80, 0x0b])));
          continue;
        }
        const copy = Buffer.from(pdu);
        this.respond(
          dev,
          copy,
          (answer) => {
            if (sock.destroyed) return;
            if (answer === "garbage") sock.write(garbage());
            else sock.write(mbap(tid, unit, answer));
          },
          () => sock.destroy(),
        );
      }
    };
  }

  /** Modbus RTU framing (unit, PDU, CRC), on a serial line or a TCP stream. */
  private rtuReader(ep: Endpoint, write: (b: Buffer) => void, drop: () => void): (chunk: Buffer) => void {
    let buf: Buffer = Buffer.alloc(0);
    return (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 8) {
        const fc = buf[1]!;
        let len: number;
        if (fc >= 1 && fc <= 6) len = 8;
        else if (fc === 15 || fc === 16) {
          if (buf.length < 7) break;
          len = 9 + buf[6]!;
        } else {
          buf = buf.subarray(1); // not a request we know: resynchronise byte by byte
          continue;
        }
        if (buf.length < len) break;
        if (crc16(buf, 0, len - 2) !== buf.readUInt16LE(len - 2)) {
          buf = buf.subarray(1);
          continue;
        }
        const unit = buf[0]!;
        const pdu = Buffer.from(buf.subarray(1, len - 2));
        buf = buf.subarray(len);
        if (unit === 0) {
          // Broadcast: every unit performs a write, nobody answers.
          for (const d of ep.units.values()) {
            if (!WRITE_FUNCTIONS.has(fc)) continue;
            d.writes++;
            this.handle(d, pdu);
          }
          continue;
        }
        const dev = ep.units.get(unit);
        if (!dev) continue; // someone else's unit on the bus
        this.respond(
          dev,
          pdu,
          (answer) => {
            if (answer === "garbage") return write(garbage());
            const frame = Buffer.allocUnsafe(answer.length + 3);
            frame[0] = unit;
            answer.copy(frame, 1);
            frame.writeUInt16LE(crc16(frame, 0, answer.length + 1), answer.length + 1);
            write(frame);
          },
          drop,
        );
      }
      if (buf.length > 512) buf = Buffer.alloc(0);
    };
  }

  private async startSerial(ep: Endpoint): Promise<void> {
    const gatewayPath = ep.serialPath!;
    let simPath = this.opts.serialPaths?.[gatewayPath];
    if (simPath === undefined) {
      if (existsSync(gatewayPath)) {
        throw new Error(
          `simulator: ${gatewayPath} exists; give the path of the other end of its line (serialPaths), or remove it so the simulator makes a pty pair with socat`,
        );
      }
      simPath = `${gatewayPath}.sim`;
      ep.socat = await makePtyPair(gatewayPath, simPath);
    }
    const { SerialPort } = await import("serialport");
    const port = new SerialPort({ path: simPath, baudRate: ep.baud ?? 9600, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((e) => (e ? reject(new Error(`simulator cannot open ${simPath}: ${e.message}`)) : resolve())),
    );
    port.on("error", (e) =>
      this.opts.log?.warn({ err: e.message, path: simPath }, "modbus simulator serial error"),
    );
    port.on(
      "data",
      this.rtuReader(
        ep,
        (b) => port.write(b),
        () => {},
      ),
    );
    ep.close = () => new Promise<void>((r) => (port.isOpen ? port.close(() => r()) : r()));
  }
}

const WRITE_FUNCTIONS = new Set([5, 6, 15, 16]);

function mbap(tid: number, unit: number, pdu: Buffer): Buffer {
  const out = Buffer.allocUnsafe(7 + pdu.length);
  out.writeUInt16BE(tid, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unit;
  pdu.copy(out, 7);
  return out;
}

function garbage(): Buffer {
  const n = 3 + Math.floor(Math.random() * 20);
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(Math.random() * 256);
  return b;
}

/** Starts `socat` with a linked pty pair and waits until both links exist. */
export async function makePtyPair(a: string, b: string, timeoutMs = 5000): Promise<ChildProcess> {
  const child = spawn("socat", ["-d", "-d", `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const failed = new Promise<never>((_, reject) => {
    child.once("error", (e) =>
      reject(
        new Error(`cannot start socat to make a pty pair (${e.message}); install it: apt-get install socat`),
      ),
    );
    child.once("exit", (code) => reject(new Error(`socat exited (${code}): ${stderr.trim()}`)));
  });
  failed.catch(() => {});
  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(a) && existsSync(b))) {
    if (Date.now() > deadline) {
      child.kill();
      throw new Error(`socat made no pty pair at ${a} / ${b} within ${timeoutMs} ms: ${stderr.trim()}`);
    }
    await Promise.race([sleep(20), failed]);
  }
  return child;
}

/** The Modbus simulator's fault kinds, for `DEVICE:KIND[=N]` specs (see fault-spec.ts). */
export const MODBUS_FAULT_KINDS = {
  exception: { number: "CODE", min: 1, max: 255 },
  delay: { number: "MS" },
  silent: {},
  drop: {},
  garbage: {},
  no_single_writes: {},
  ignore_writes: {},
} satisfies Record<SimFault["kind"], FaultKind>;

/**
 * Faults from an environment variable such as
 * `IGGY_EDGE_MODBUS_FAULTS="boiler-1:exception=4,press-2:delay=1500,pump-3:silent"`.
 */
export function parseFaults(
  spec: string | undefined,
  source = "IGGY_EDGE_MODBUS_FAULTS",
): Record<string, SimFault> {
  const out: Record<string, SimFault> = {};
  for (const { device, kind, value } of parseFaultSpec(spec, MODBUS_FAULT_KINDS, source).values()) {
    out[device] =
      kind === "exception" ? { kind, code: value! } : kind === "delay" ? { kind, ms: value! } : { kind };
  }
  return out;
}
