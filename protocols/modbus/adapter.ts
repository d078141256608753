// The Modbus source and sink: polls each device's coalesced reads on its line's scheduler, turns
// answers into Readings (deadband, quality), marks devices down and up, and writes writable points.
import { setMaxListeners } from "node:events";
import type { Logger } from "pino";
import type { ModbusDeviceConfig } from "./schema.js";
import type {
  AdapterDeps,
  AdapterHealth,
  Emit,
  PointRef,
  ProtocolAdapter,
  Quality,
  Reading,
  ReadingValue,
  WriteValue,
} from "../adapter.js";
import { Backoff } from "../backoff.js";
import { BurstLog } from "../burst-log.js";
import { DeviceStates } from "../device-state.js";
import { sleep } from "../sleep.js";
import {
  decodeRegisters,
  encodeRegisters,
  EncodeError,
  fromEngineering,
  toBool,
  toEngineering,
  type RawValue,
} from "./codec.js";
import { classify, Line, lineKey, ModbusError, type LineSpec, type ModbusClient } from "./line.js";
import { planReads, type ReadBlock } from "./planner.js";
import { isBitTable, resolvePoints, type ResolvedPoint } from "./points.js";

/** Exceptions that mean "the device behind the gateway did not answer": treated like a timeout. */
const GATEWAY_EXCEPTIONS = new Set([10, 11]);
/** Worth another try after a pause. */
const BUSY_EXCEPTION = 6;

export interface DeviceStats {
  requests: number;
  /** Answers that were not a Modbus exception. */
  responses: number;
  timeouts: number;
  exceptions: number;
  /** Connect failures and garbled answers. */
  errors: number;
  readings: number;
  /** Poll cycles run (one per interval group and period). */
  polls: number;
  /** Times `emit` rejected (buffer full, ...); those readings are not collected. */
  emitFailures: number;
  /** Times the device went down (up -> down transitions). */
  downs: number;
  writes: number;
  writeFailures: number;
}

interface PointState {
  value?: ReadingValue;
  quality?: Quality;
}

interface Device {
  cfg: ModbusDeviceConfig;
  id: string;
  unit: number;
  timeoutMs: number;
  retries: number;
  points: ResolvedPoint[];
  /** Current read plan per poll interval (a block may be split after an "illegal data address"). */
  groups: Map<number, ReadBlock[]>;
  line: Line;
  /** The last Modbus exception while the device is up (health shows errors only of devices down). */
  lastException?: string | undefined;
  /** Pauses between probes while the device is down. */
  probe: Backoff;
  nextProbeAt: number;
  state: PointState[];
  stats: DeviceStats;
  /** Learned: the device refuses FC5/FC6, so single writes go as FC15/FC16. */
  multipleWritesOnly: boolean;
}

export interface ModbusAdapterOptions {
  /** Longest pause between probes of a device that is down. */
  maxProbeBackoffMs?: number;
}

const newStats = (): DeviceStats => ({
  requests: 0,
  responses: 0,
  timeouts: 0,
  exceptions: 0,
  errors: 0,
  readings: 0,
  polls: 0,
  emitFailures: 0,
  downs: 0,
  writes: 0,
  writeFailures: 0,
});

export class ModbusAdapter implements ProtocolAdapter {
  readonly protocol = "modbus";
  private readonly devices = new Map<string, Device>();
  private readonly lines = new Map<string, Line>();
  private readonly log: Logger;
  private abort = new AbortController();
  private loops: Promise<void>[] = [];
  private emit: Emit | undefined;
  private readonly maxProbeBackoffMs: number;
  /** Up or down, logged once per transition; the first poll's outcome is a transition too. */
  private readonly states: DeviceStates;
  /** Per device: from the first refused emit to the next accepted one. */
  private readonly refusals: BurstLog;

  constructor(
    devices: ModbusDeviceConfig[],
    private readonly deps: AdapterDeps,
    opts: ModbusAdapterOptions = {},
  ) {
    this.log = deps.log;
    this.maxProbeBackoffMs = opts.maxProbeBackoffMs ?? 30_000;
    this.refusals = new BurstLog({
      onEnd: ({ key: device, notes, total }) =>
        this.log.info(
          { device, refused_polls: notes, readings_lost: total },
          "modbus readings accepted by the buffer again",
        ),
    });
    for (const cfg of devices) {
      if (!cfg.enabled) continue;
      if (this.devices.has(cfg.id)) throw new Error(`modbus: device id ${cfg.id} appears twice`);
      const c = cfg.connection;
      const spec: LineSpec = { kind: c.transport, host: c.host, port: c.port, serial: c.serial };
      const key = lineKey(spec);
      let line = this.lines.get(key);
      if (!line) {
        const timeouts = devices.filter((d) => d.enabled).map((d) => d.connection.timeout_ms);
        line = new Line(spec, this.log, Math.min(10_000, Math.max(1000, ...timeouts)));
        this.lines.set(key, line);
      }
      const points = resolvePoints(cfg);
      let blocks: ReadBlock[];
      try {
        blocks = planReads(points, {
          maxGap: c.max_gap,
          maxRegisters: c.max_registers_per_read,
          maxBits: c.max_bits_per_read,
        });
      } catch (e) {
        throw new Error(`modbus device ${cfg.id}: ${(e as Error).message}`);
      }
      this.devices.set(cfg.id, {
        cfg,
        id: cfg.id,
        unit: c.unit_id,
        timeoutMs: c.timeout_ms,
        retries: c.retries,
        points,
        groups: groupByInterval(blocks),
        line,
        probe: new Backoff({
          initialMs: Math.min(1000, this.maxProbeBackoffMs),
          maxMs: this.maxProbeBackoffMs,
        }),
        nextProbeAt: 0,
        state: points.map(() => ({})),
        stats: newStats(),
        multipleWritesOnly: false,
      });
    }
    this.states = new DeviceStates("modbus", this.devices.keys(), this.log, "not polled yet");
  }

  /** The reads one poll of every interval group costs, per device (what the planner decided). */
  plan(deviceId: string): ReadBlock[] {
    const d = this.devices.get(deviceId);
    return d ? [...d.groups.values()].flat() : [];
  }

  async start(emit: Emit): Promise<void> {
    if (this.emit) throw new Error("modbus adapter already started");
    this.emit = emit;
    const signal = this.abort.signal;
    setMaxListeners(0, signal); // every poll loop waits on it
    const all = [...this.devices.values()];
    all.forEach((dev, i) => {
      for (const interval of dev.groups.keys()) {
        // Spread the first polls over the interval so 100 devices do not all fire in the same ms.
        const firstDelay = all.length > 1 ? Math.floor((i / all.length) * Math.min(interval, 1000)) : 0;
        this.loops.push(this.supervise(dev, interval, firstDelay, signal));
      }
    });
    this.log.info(
      {
        devices: this.devices.size,
        lines: this.lines.size,
        reads: all.reduce((s, d) => s + this.plan(d.id).length, 0),
      },
      "modbus adapter started",
    );
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.lines.values()].map((l) => l.close()));
    await Promise.allSettled(this.loops);
    this.loops = [];
    this.emit = undefined;
    this.abort = new AbortController();
  }

  health(): AdapterHealth {
    return { protocol: "modbus", devices: this.states.all() };
  }

  /** Counters per device, for metrics and the status page. */
  stats(): Record<string, DeviceStats & { up: boolean; queued: number; lastException?: string }> {
    const out: Record<string, DeviceStats & { up: boolean; queued: number; lastException?: string }> = {};
    for (const d of this.devices.values()) {
      out[d.id] = {
        ...d.stats,
        up: this.states.isUp(d.id),
        queued: d.line.queued,
        ...(d.lastException !== undefined ? { lastException: d.lastException } : {}),
      };
    }
    return out;
  }

  /** One poll of every point of a device, outside the schedule; returns the readings (no emit, no deadband). */
  async pollOnce(deviceId: string): Promise<Reading[]> {
    const dev = this.mustDevice(deviceId);
    const out: Reading[] = [];
    for (const interval of dev.groups.keys()) out.push(...(await this.cycle(dev, interval, false)));
    return out;
  }

  // ---- polling ----------------------------------------------------------------------------------

  private async supervise(
    dev: Device,
    interval: number,
    firstDelay: number,
    signal: AbortSignal,
  ): Promise<void> {
    let next = Date.now() + firstDelay;
    while (!signal.aborted) {
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait, signal);
      if (signal.aborted) break;
      const started = Date.now();
      try {
        if (this.states.isDown(dev.id) && started < dev.nextProbeAt) {
          next = dev.nextProbeAt;
          continue;
        }
        dev.stats.polls++;
        const readings = await this.cycle(dev, interval, true);
        if (readings.length > 0 && !signal.aborted) await this.emitSafe(dev, readings);
      } catch (e) {
        // Nothing above should throw; if it does, the device is marked down and polling goes on.
        this.log.error({ device: dev.id, err: e }, "modbus poll loop failed; retrying");
        this.markDown(dev, e instanceof Error ? e.message : String(e));
      }
      next = started + interval;
      const now = Date.now();
      // A cycle that overran its interval skips the missed slots instead of firing a burst.
      if (next <= now) next += Math.ceil((now - next + 1) / interval) * interval;
    }
  }

  private async cycle(dev: Device, interval: number, filter: boolean): Promise<Reading[]> {
    const blocks = dev.groups.get(interval) ?? [];
    const out: Reading[] = [];
    const probing = this.states.isDown(dev.id);
    for (let bi = 0; bi < blocks.length; bi++) {
      const block = blocks[bi]!;
      if (this.abort.signal.aborted) break;
      let data: ArrayLike<number> | ArrayLike<boolean>;
      try {
        data = await this.readBlock(dev, block, probing ? 0 : dev.retries);
      } catch (e) {
        const err = classify(e);
        if (err.kind === "exception" && !GATEWAY_EXCEPTIONS.has(err.code ?? 0)) {
          // The device answered: it is up, but these points have no value.
          this.markUp(dev);
          this.deps.reject("modbus_exception", dev.id);
          if (err.code === 2 && block.points.length > 1) {
            const parts = planReads(
              block.points.map((i) => dev.points[i]!),
              { maxGap: 0, maxRegisters: block.count, maxBits: block.count },
            );
            const split = parts.length > 1 ? parts : block.points.map((i) => singleRead(dev.points[i]!));
            blocks.splice(bi, 1, ...split);
            bi += split.length - 1;
            this.log.warn(
              {
                device: dev.id,
                table: block.table,
                start: block.start,
                count: block.count,
                reads: split.length,
              },
              "modbus device refuses a coalesced read (illegal data address); reading its points separately from now on",
            );
            continue;
          }
          const ts = Date.now();
          for (const i of block.points) this.push(dev, out, dev.points[i]!, null, "bad", ts, filter);
          if (err.code !== undefined) dev.lastException = `${err.message} reading ${describeBlock(block)}`;
          continue;
        }
        this.markDown(dev, `${err.message} (${describeBlock(block)})`, out);
        break;
      }
      this.markUp(dev);
      const ts = Date.now();
      for (const i of block.points) {
        const p = dev.points[i]!;
        const off = p.address - block.start;
        let raw: RawValue;
        if (isBitTable(p.table)) raw = Boolean((data as ArrayLike<boolean>)[off]);
        else raw = decodeRegisters(data as ArrayLike<number>, off, p);
        this.push(dev, out, p, toEngineering(raw, p.scale, p.offset), "good", ts, filter);
      }
    }
    return out;
  }

  /** Adds a reading unless the deadband (or "unchanged bad quality") filters it out. */
  private push(
    dev: Device,
    out: Reading[],
    p: ResolvedPoint,
    value: ReadingValue,
    quality: Quality,
    ts: number,
    filter: boolean,
  ): void {
    const st = dev.state[p.index]!;
    if (filter && st.quality === quality) {
      if (quality !== "good") return;
      if (p.deadband !== undefined && !outsideDeadband(st.value, value, p.deadband)) return;
    }
    if (filter) {
      st.value = value;
      st.quality = quality;
    }
    const r: Reading = { device: dev.id, point: p.name, ts, value, quality };
    if (p.unit !== undefined) r.unit = p.unit;
    const tags = p.tags ?? dev.cfg.tags;
    if (tags !== undefined) r.tags = p.tags && dev.cfg.tags ? { ...dev.cfg.tags, ...p.tags } : tags;
    out.push(r);
  }

  private async readBlock(
    dev: Device,
    block: ReadBlock,
    retries: number,
  ): Promise<ArrayLike<number> | ArrayLike<boolean>> {
    return this.withRetries(dev, retries, async (c) => {
      let data: ArrayLike<number> | ArrayLike<boolean>;
      switch (block.table) {
        case "holding":
          data = (await c.readHoldingRegisters(block.start, block.count)).data;
          break;
        case "input":
          data = (await c.readInputRegisters(block.start, block.count)).data;
          break;
        case "coil":
          data = (await c.readCoils(block.start, block.count)).data;
          break;
        case "discrete":
          data = (await c.readDiscreteInputs(block.start, block.count)).data;
          break;
      }
      if (!data || data.length < block.count) {
        throw new ModbusError("protocol", `short answer: ${data?.length ?? 0} of ${block.count} values`);
      }
      return data;
    });
  }

  /** Runs one request on the device's line, retrying timeouts, garbled answers and "busy" with backoff. */
  private async withRetries<T>(
    dev: Device,
    retries: number,
    run: (c: ModbusClient) => Promise<T>,
    priority = false,
  ): Promise<T> {
    let backoff: Backoff | undefined;
    for (let attempt = 0; ; attempt++) {
      dev.stats.requests++;
      try {
        const r = await dev.line.request({
          device: dev.id,
          unit: dev.unit,
          timeoutMs: dev.timeoutMs,
          priority,
          run,
        });
        dev.stats.responses++;
        return r;
      } catch (e) {
        const err = classify(e);
        if (err.kind === "timeout") dev.stats.timeouts++;
        else if (err.kind === "exception") dev.stats.exceptions++;
        else dev.stats.errors++;
        const retryable =
          err.kind === "timeout" ||
          err.kind === "protocol" ||
          (err.kind === "exception" &&
            (err.code === BUSY_EXCEPTION || GATEWAY_EXCEPTIONS.has(err.code ?? 0)));
        if (!retryable || attempt >= retries || this.abort.signal.aborted) throw err;
        backoff ??= new Backoff({ initialMs: 100, maxMs: 1000 });
        await sleep(backoff.next(), this.abort.signal);
      }
    }
  }

  private async emitSafe(dev: Device, readings: Reading[]): Promise<void> {
    try {
      await this.emit!(readings);
      dev.stats.readings += readings.length;
      this.refusals.end(dev.id);
    } catch (e) {
      dev.stats.emitFailures++;
      if (this.refusals.note(dev.id, readings.length)) {
        this.log.warn(
          { device: dev.id, err: e instanceof Error ? e.message : String(e), readings: readings.length },
          "modbus readings not accepted by the buffer; polling goes on and counts what is lost",
        );
      }
      // Let a bad-quality transition be reported again once the buffer accepts readings.
      for (const r of readings) {
        const p = dev.points.find((x) => x.name === r.point);
        if (p) dev.state[p.index] = {};
      }
    }
  }

  private markUp(dev: Device): void {
    dev.probe.reset();
    this.states.up(dev.id, { unit: dev.unit, line: dev.line.key });
  }

  /** Marks the device down (logged once per transition) and, on the transition, reports its points bad. */
  private markDown(dev: Device, message: string, out?: Reading[]): void {
    dev.nextProbeAt = Date.now() + dev.probe.next();
    if (!this.states.down(dev.id, message, { unit: dev.unit, line: dev.line.key })) return;
    dev.stats.downs++;
    if (out) {
      const ts = Date.now();
      for (const p of dev.points) this.push(dev, out, p, null, "bad", ts, true);
    }
  }

  // ---- writing ----------------------------------------------------------------------------------

  async write(target: PointRef, value: WriteValue): Promise<void> {
    const dev = this.mustDevice(target.device);
    const p = dev.points.find((x) => x.name === target.point);
    if (!p) throw new Error(`modbus device ${dev.id} has no point named ${target.point}`);
    if (!p.write)
      throw new Error(`point ${dev.id}/${p.name} is not writable (the config declares no write: for it)`);
    if (p.table === "discrete" || p.table === "input") {
      throw new Error(
        `point ${dev.id}/${p.name} is a ${p.table} ${p.table === "input" ? "register" : "input"}: read-only in Modbus`,
      );
    }
    const where = `${dev.id}/${p.name}`;
    checkWriteValue(where, p, value);
    let regs: number[];
    try {
      regs = encodeRegisters(fromEngineering(value, p.type, p.scale, p.offset), p);
    } catch (e) {
      if (e instanceof EncodeError) throw new Error(`cannot write ${where}: ${e.message}`);
      throw e;
    }
    dev.stats.writes++;
    try {
      await this.withRetries(dev, dev.retries, (c) => this.writeOn(c, dev, p, regs), true);
      if (p.write.readback) await this.readBack(dev, p, regs, value);
      this.log.info({ device: dev.id, point: p.name, value: String(value) }, "modbus write done");
    } catch (e) {
      dev.stats.writeFailures++;
      const err = e instanceof ModbusError ? e : e instanceof Error ? e : new Error(String(e));
      throw new Error(`write of ${where} failed: ${err.message}`, { cause: e });
    }
  }

  private async writeOn(c: ModbusClient, dev: Device, p: ResolvedPoint, regs: number[]): Promise<void> {
    if (p.table === "coil") {
      const state = regs[0] === 1;
      if (!dev.multipleWritesOnly) {
        try {
          await c.writeCoil(p.address, state);
          return;
        } catch (e) {
          if (!this.learnMultipleOnly(dev, e)) throw e;
        }
      }
      await c.writeCoils(p.address, [state]);
      return;
    }
    let values = regs;
    if (p.type === "bool" && p.bit !== undefined) {
      // Read-modify-write of one bit; atomic against this gateway's other requests on the line.
      const cur = (await c.readHoldingRegisters(p.address, 1)).data[0] ?? 0;
      const mask = 1 << p.bit;
      values = [regs[0] === 1 ? cur | mask : cur & ~mask & 0xffff];
    }
    if (values.length === 1 && !dev.multipleWritesOnly) {
      try {
        await c.writeRegister(p.address, values[0]!);
        return;
      } catch (e) {
        if (!this.learnMultipleOnly(dev, e)) throw e;
      }
    }
    await c.writeRegisters(p.address, values);
  }

  /** A device that answers FC5/FC6 with "illegal function" gets FC15/FC16 from then on. */
  private learnMultipleOnly(dev: Device, e: unknown): boolean {
    const err = classify(e);
    if (err.kind === "exception" && err.code === 1) {
      dev.multipleWritesOnly = true;
      this.log.info({ device: dev.id }, "modbus device refuses single writes (FC5/FC6); using FC15/FC16");
      return true;
    }
    return false;
  }

  private async readBack(dev: Device, p: ResolvedPoint, regs: number[], written: WriteValue): Promise<void> {
    const block: ReadBlock = {
      table: p.table,
      start: p.address,
      count: p.count,
      intervalMs: 0,
      points: [p.index],
    };
    const data = await this.readBlock(dev, block, dev.retries);
    if (p.table === "coil") {
      if (Boolean((data as ArrayLike<boolean>)[0]) !== (regs[0] === 1)) {
        throw new Error(
          `read-back: wrote ${regs[0] === 1}, device holds ${Boolean((data as ArrayLike<boolean>)[0])}`,
        );
      }
      return;
    }
    const got = Array.from(data as ArrayLike<number>).slice(0, p.count);
    const ok =
      p.type === "bool" && p.bit !== undefined
        ? (((got[0] ?? 0) >> p.bit) & 1) === regs[0]
        : got.every((v, i) => v === regs[i]);
    if (!ok) {
      const shown = toEngineering(decodeRegisters(got, 0, p), p.scale, p.offset);
      throw new Error(
        `read-back: the device holds ${String(shown)} (registers ${got.join(",")}), not the ${String(written)} written (registers ${regs.join(",")})`,
      );
    }
  }

  private mustDevice(id: string): Device {
    const d = this.devices.get(id);
    if (!d) throw new Error(`no enabled modbus device named ${id}`);
    return d;
  }
}

function groupByInterval(blocks: ReadBlock[]): Map<number, ReadBlock[]> {
  const m = new Map<number, ReadBlock[]>();
  for (const b of blocks) {
    const g = m.get(b.intervalMs);
    if (g) g.push(b);
    else m.set(b.intervalMs, [b]);
  }
  return m;
}

function singleRead(p: ResolvedPoint): ReadBlock {
  return { table: p.table, start: p.address, count: p.count, intervalMs: p.pollMs, points: [p.index] };
}

function describeBlock(b: ReadBlock): string {
  return `${b.table}:${b.start}${b.count > 1 ? `..${b.start + b.count - 1}` : ""}`;
}

function outsideDeadband(prev: ReadingValue | undefined, next: ReadingValue, deadband: number): boolean {
  if (prev === undefined || prev === null || next === null) return true;
  if (
    (typeof prev === "number" || typeof prev === "bigint") &&
    (typeof next === "number" || typeof next === "bigint")
  ) {
    const d = Math.abs(Number(next) - Number(prev));
    return Number.isNaN(d)
      ? !(Number.isNaN(Number(prev)) && Number.isNaN(Number(next)))
      : d >= deadband && (deadband > 0 || d > 0);
  }
  return prev !== next;
}

/** The adapter's own check of a write: type of value and range from the config. */
function checkWriteValue(where: string, p: ResolvedPoint, value: WriteValue): void {
  if (p.type === "bool") {
    try {
      toBool(value);
    } catch (e) {
      throw new Error(`cannot write ${where}: ${(e as Error).message}`);
    }
    return;
  }
  if (p.type === "string") {
    if (typeof value !== "string")
      throw new Error(`cannot write ${where}: expected a string, got ${typeof value}`);
    return;
  }
  if (typeof value !== "number" && typeof value !== "bigint") {
    throw new Error(`cannot write ${where}: expected a number, got ${typeof value}`);
  }
  if (typeof value === "number" && !Number.isFinite(value))
    throw new Error(`cannot write ${where}: ${value} is not a finite number`);
  const { min, max } = p.write ?? {};
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) {
    throw new Error(
      `cannot write ${where}: ${value} is outside the allowed range ${min ?? "-inf"}..${max ?? "+inf"}`,
    );
  }
}
