// Coalesces a device's points into as few reads as Modbus allows. Pure; the benchmark's expected
// request count per cycle is this module's output.
//
// Points are grouped by (poll interval, table). Inside a group, sorted by address, a point joins the
// current read when the registers skipped between it and the read's end are at most `maxGap` and the
// read stays within the per-read limit (125 registers / 2000 bits by the spec; lower per device if
// configured). For coils and discrete inputs the gap is counted in 16-bit words (maxGap * 16 bits), so
// one setting means "this many unused bytes on the wire" in both kinds of table.
import { isBitTable, type ResolvedPoint, type Table } from "./points.js";

export const MAX_REGISTERS_PER_READ = 125;
export const MAX_BITS_PER_READ = 2000;

export interface PlanOptions {
  maxGap: number;
  maxRegisters?: number;
  maxBits?: number;
}

export interface ReadBlock {
  table: Table;
  start: number;
  /** Registers or bits. */
  count: number;
  intervalMs: number;
  /** Points decoded from this read (indices into the device's point list). */
  points: number[];
}

export type PlanPoint = Pick<ResolvedPoint, "index" | "table" | "address" | "count" | "pollMs">;

const TABLE_ORDER: Record<Table, number> = { coil: 0, discrete: 1, holding: 2, input: 3 };

export function planReads(points: readonly PlanPoint[], opts: PlanOptions): ReadBlock[] {
  const maxRegs = Math.min(opts.maxRegisters ?? MAX_REGISTERS_PER_READ, MAX_REGISTERS_PER_READ);
  const maxBits = Math.min(opts.maxBits ?? MAX_BITS_PER_READ, MAX_BITS_PER_READ);
  const sorted = [...points].sort(
    (a, b) =>
      a.pollMs - b.pollMs ||
      TABLE_ORDER[a.table] - TABLE_ORDER[b.table] ||
      a.address - b.address ||
      a.count - b.count ||
      a.index - b.index,
  );
  const blocks: ReadBlock[] = [];
  let cur: (ReadBlock & { end: number }) | undefined;
  for (const p of sorted) {
    const bits = isBitTable(p.table);
    const limit = bits ? maxBits : maxRegs;
    const gap = bits ? opts.maxGap * 16 : opts.maxGap;
    if (p.count > limit) {
      throw new Error(
        `point at ${p.table}:${p.address} spans ${p.count} ${bits ? "bits" : "registers"}, more than one read may carry (${limit})`,
      );
    }
    const end = p.address + p.count;
    if (
      cur !== undefined &&
      cur.table === p.table &&
      cur.intervalMs === p.pollMs &&
      p.address - cur.end <= gap &&
      Math.max(cur.end, end) - cur.start <= limit
    ) {
      cur.end = Math.max(cur.end, end);
      cur.count = cur.end - cur.start;
      cur.points.push(p.index);
      continue;
    }
    cur = { table: p.table, start: p.address, count: p.count, end, intervalMs: p.pollMs, points: [p.index] };
    blocks.push(cur);
  }
  return blocks.map(({ table, start, count, intervalMs, points: pts }) => ({
    table,
    start,
    count,
    intervalMs,
    points: pts,
  }));
}

/** Requests per second the plan costs (each block is read once per its interval). */
export function requestsPerSecond(blocks: readonly ReadBlock[]): number {
  return blocks.reduce((s, b) => s + 1000 / b.intervalMs, 0);
}
