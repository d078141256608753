// When to give memory back. A burst of readings (or a backlog drained to Iggy) leaves V8's heaps
// large and fragmented, and an idle gateway's periodic work (the command poll, metrics, status)
// slowly fills the old generation with garbage that V8 collects only 8 MiB later, keeping the pages
// resident meanwhile. Once the gateway is quiet the reducer asks for one full, memory-reducing
// collection (protocols/collect-garbage.ts) in each thread. Decided at each tick (the runtime's
// one-second status refresh) from counts only, so it costs nothing under steady load.

export interface MemoryReducerOptions {
  /** A tick with at most this many readings taken in and forwarded is quiet. */
  quietReadings: number;
  /**
   * After a burst, a tick with at most this fraction of the burst's busiest tick is quiet too: a
   * gateway with steady light load behind the burst gives its memory back as well.
   */
  quietFractionOfPeak: number;
  /** Quiet ticks in a row before a collection. */
  quietTicks: number;
  /** Readings taken in and forwarded since the last collection that make one worth it when quiet. */
  burstReadings: number;
  /** ... provided one tick had at least this many (a steady light load adds up to burstReadings too). */
  burstPeak: number;
  /** Growth of the main heap's old generation since the last collection that makes one worth it when quiet. */
  growthBytes: number;
  /** Ticks at least between two collections. */
  minTicksBetween: number;
}

export const DEFAULT_REDUCER_OPTIONS: MemoryReducerOptions = {
  quietReadings: 20,
  quietFractionOfPeak: 0.1,
  quietTicks: 5,
  burstReadings: 10_000,
  burstPeak: 1_000,
  growthBytes: 2 * 1024 * 1024,
  minTicksBetween: 30,
};

export type ReduceReason = "burst" | "growth";

export class MemoryReducer {
  private readonly o: MemoryReducerOptions;
  private inTick = 0;
  /** Start-up's allocations count as a burst: the first quiet spell collects them. */
  private sinceCollection: number;
  /** The busiest tick since the last collection. */
  private peak: number;
  private quiet = 0;
  private ticksSinceCollection: number;
  private baseline: number | null = null;
  private collecting = false;

  constructor(options: Partial<MemoryReducerOptions> = {}) {
    this.o = { ...DEFAULT_REDUCER_OPTIONS, ...options };
    this.sinceCollection = this.o.burstReadings;
    this.peak = this.o.burstPeak;
    this.ticksSinceCollection = this.o.minTicksBetween;
  }

  /** Readings taken in from devices or confirmed by Iggy. */
  note(readings: number): void {
    this.inTick += readings;
  }

  /**
   * One tick: why to collect now, or null. `heapUsed` is asked for only on a quiet tick. The caller
   * runs the collection and then calls collected().
   */
  tick(heapUsed: () => number): ReduceReason | null {
    const n = this.inTick;
    this.inTick = 0;
    this.sinceCollection += n;
    this.peak = Math.max(this.peak, n);
    this.ticksSinceCollection++;
    const burst = this.sinceCollection >= this.o.burstReadings && this.peak >= this.o.burstPeak;
    const quietBelow = burst
      ? Math.max(this.o.quietReadings, this.peak * this.o.quietFractionOfPeak)
      : this.o.quietReadings;
    if (n > quietBelow) {
      this.quiet = 0;
      return null;
    }
    this.quiet++;
    if (this.collecting || this.quiet < this.o.quietTicks) return null;
    if (this.ticksSinceCollection < this.o.minTicksBetween) return null;
    let reason: ReduceReason | null = null;
    if (burst) reason = "burst";
    else {
      const used = heapUsed();
      this.baseline ??= used;
      if (used - this.baseline >= this.o.growthBytes) reason = "growth";
    }
    if (reason !== null) {
      this.collecting = true;
      this.sinceCollection = 0;
      this.peak = 0;
      this.ticksSinceCollection = 0;
    }
    return reason;
  }

  /** The collection asked for ran; the heap's growth is counted from `heapUsed` after it. */
  collected(heapUsed: number): void {
    this.collecting = false;
    this.baseline = heapUsed;
  }
}
