// Main-thread dictionary of series (device, point, unit, tags): a stored reading names its series by a
// small id instead of repeating the names, which roughly halves the bytes written per reading.
// Ids are assigned here; a new definition travels to the worker with the first reading that uses it
// and is committed in the same transaction. Past `limit` entries, readings carry their names inline,
// so memory stays bounded however many distinct series arrive.
import type { Reading } from "../protocols/adapter.js";
import { type SeriesDef, decodeSeries, encodeSeries, seriesOf } from "./reading-codec.js";

export interface SeriesRow {
  id: number;
  def: Uint8Array;
}

interface Entry {
  id: number;
  def: SeriesDef;
}

function sameTags(stored: Readonly<Record<string, string>> | undefined, given: unknown): boolean {
  if (stored === undefined) return given === undefined;
  if (given === stored) return true;
  if (given === null || typeof given !== "object") return false;
  const keys = Object.keys(given);
  if (keys.length !== Object.keys(stored).length) return false;
  for (const k of keys) if (stored[k] !== (given as Record<string, unknown>)[k]) return false;
  return true;
}

export class SeriesDictionary {
  private readonly byId = new Map<number, SeriesDef>();
  private readonly index = new Map<string, Map<string, Entry[]>>();
  private nextId = 1;
  private fresh: SeriesRow[] = [];

  constructor(readonly limit: number) {}

  /** Loads the stored dictionary; returns the ids whose definitions do not decode. */
  load(rows: SeriesRow[]): number[] {
    const bad: number[] = [];
    for (const row of rows) {
      this.nextId = Math.max(this.nextId, row.id + 1);
      try {
        this.add(row.id, decodeSeries(row.def));
      } catch {
        bad.push(row.id);
      }
    }
    return bad;
  }

  get size(): number {
    return this.byId.size;
  }

  readonly lookup = (id: number): SeriesDef | undefined => this.byId.get(id);

  /** The reading's series id (new ones are created while there is room), or its definition to store inline. */
  resolve(r: Reading): number | SeriesDef {
    const list = this.index.get(r.device)?.get(r.point);
    if (list !== undefined) {
      for (const e of list) if (e.def.unit === r.unit && sameTags(e.def.tags, r.tags)) return e.id;
    }
    const def = seriesOf(r);
    if (this.byId.size >= this.limit) return def;
    const id = this.nextId++;
    this.add(id, def);
    this.fresh.push({ id, def: encodeSeries(def) });
    return id;
  }

  /** Definitions created since the last call; they go to the worker with the next frame. */
  takeFresh(): SeriesRow[] {
    const out = this.fresh;
    this.fresh = [];
    return out;
  }

  private add(id: number, def: SeriesDef): void {
    this.byId.set(id, def);
    let byPoint = this.index.get(def.device);
    if (byPoint === undefined) this.index.set(def.device, (byPoint = new Map()));
    let list = byPoint.get(def.point);
    if (list === undefined) byPoint.set(def.point, (list = []));
    list.push({ id, def });
  }
}
