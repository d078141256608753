// The buffer as the gateway sees it. Lives on the main thread: it checks and encodes readings,
// gathers the append calls of one event-loop turn into one frame for the store worker, and decodes
// leased batches. All SQLite work, and so every fsync, happens in the worker.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import pino, { type Logger } from "pino";
import type { Reading } from "../protocols/adapter.js";
import {
  BufferClosedError,
  BufferOverloadedError,
  BufferStorageError,
  InvalidReadingError,
  errorFromWire,
} from "./errors.js";
import { type BufferOptions, type ResolvedOptions, resolveOptions } from "./options.js";
import { ByteReader, ByteWriter } from "./bytes.js";
import { packFrame, unpackOutcomes } from "./frame-codec.js";
import {
  emptyColumns,
  ReadingProblem,
  readingAt,
  readReading,
  readReadingInto,
  trimColumns,
  writeReading,
  type ReadingColumns,
} from "./reading-codec.js";
import { SeriesDictionary } from "./series-dictionary.js";
import type {
  AppendOptions,
  AppendResult,
  Batch,
  BufferStats,
  ExchangeRequest,
  ExchangeResult,
  LeaseOptions,
  ReadingBuffer,
  StoredReading,
} from "./api.js";
import type {
  AppendFrame,
  AppendOutcome,
  DeadLetterEntry,
  DeadLetterSelector,
  Exchanged,
  LeaseRequest,
  LeasedBatch,
  PurgeResult,
  ReadyInfo,
  ReplayResult,
  Request,
  StoreStats,
  StoredReadings,
  WorkerMessage,
} from "./wire.js";

interface PendingCall {
  count: number;
  resolve(r: AppendResult): void;
  reject(e: Error): void;
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** The append calls of one event-loop turn, encoded back to back. */
class FrameBuilder {
  readonly writer: ByteWriter;
  readonly lengths: number[] = [];
  readonly calls: PendingCall[] = [];
  /** Calls a device waits for. */
  awaitedCalls = 0;
  readonly marks: AppendFrame["marks"] = [];

  constructor(writer: ByteWriter) {
    this.writer = writer;
  }
}

const WORKER_URL = new URL("./store-worker.js", import.meta.url);

/**
 * A frame up to this size without new series or marks goes to the worker packed into one buffer
 * (frame-codec.ts), a copy, and its writer serves the next frame; a larger one hands its buffer over.
 */
const PACKED_FRAME_BYTES = 16 * 1024;

/**
 * The worker's young generation: 3 MiB is two semi-spaces of 1 MiB. V8's default lets it grow to
 * 48 MiB (16 MiB semi-spaces), which a burst of appends fills and an idle gateway then keeps
 * resident; the worker's own allocations are few (rows and frames), so it scavenges cheaply.
 */
const WORKER_YOUNG_GENERATION_MB = 3;

function defaultLogger(): Logger {
  return pino({ name: "buffer", level: "warn" }, pino.destination(2));
}

export async function openBuffer(options: BufferOptions): Promise<ReadingBuffer> {
  const o = resolveOptions(options);
  const log = options.log ?? defaultLogger();
  const worker = new Worker(WORKER_URL, {
    workerData: o,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  const info = await new Promise<ReadyInfo>((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.type === "log") logFromWorker(log, m);
      else if (m.type === "ready") done(() => resolve(m.info));
      else if (m.type === "failed") done(() => reject(errorFromWire(m.error)));
    };
    const onError = (err: Error) =>
      done(() =>
        reject(new BufferStorageError("BUFFER_IO", `buffer worker failed while opening: ${err.message}`)),
      );
    const onExit = (code: number) =>
      done(() => reject(new BufferStorageError("BUFFER_IO", `buffer worker exited (${code}) while opening`)));
    function done(settle: () => void) {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
      settle();
    }
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
  }).catch(async (err: unknown) => {
    await worker.terminate();
    throw err;
  });
  const buffer = new WorkerBuffer(worker, o, log, info);
  log.info(
    {
      dir: o.dir,
      readings: info.readings,
      unconfirmedBatches: info.pendingBatches,
      sync: o.sync,
      onFull: o.onFull,
    },
    "buffer open",
  );
  return buffer;
}

function leaseRequest(options: LeaseOptions, batches: number): LeaseRequest {
  const maxReadings = Math.floor(options.maxReadings);
  if (!(maxReadings >= 1)) throw new RangeError("lease: maxReadings must be at least 1");
  const n = Math.floor(batches);
  if (!(n >= 1)) throw new RangeError("lease: batches must be at least 1");
  return { maxReadings, maxBytes: options.maxBytes ?? Infinity, batches: n };
}

function logFromWorker(log: Logger, m: Extract<WorkerMessage, { type: "log" }>): void {
  log[m.level](m.fields ?? {}, m.msg);
}

class WorkerBuffer implements ReadingBuffer {
  private readonly dict: SeriesDictionary;
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();
  private readonly inflight = new Map<number, PendingCall[]>();
  private inflightBytes = 0;
  private readonly inflightSizes = new Map<number, number>();
  private frame: FrameBuilder | null = null;
  private flushScheduled = false;
  private lastFrameSize = 4096;
  /** The writer of the last frame posted as a copy, for the next frame. */
  private spareWriter: ByteWriter | null = null;
  private failed: Error | null = null;
  private readonly failureListeners: ((error: Error) => void)[] = [];
  private closing: Promise<void> | null = null;
  private referenced = false;
  private readonly rejected: Record<string, number> = {};

  constructor(
    private readonly worker: Worker,
    private readonly o: ResolvedOptions,
    private readonly log: Logger,
    info: ReadyInfo,
  ) {
    this.dict = new SeriesDictionary(o.seriesLimit);
    const bad = this.dict.load(info.series);
    if (bad.length > 0)
      log.error(
        { series: bad },
        "buffer: some stored series definitions do not decode; their readings will be dead-lettered",
      );
    worker.on("message", (m: WorkerMessage | Float64Array) => this.onMessage(m));
    worker.on("error", (err) =>
      this.fail(new BufferStorageError("BUFFER_IO", `buffer worker failed: ${err.message}`)),
    );
    worker.on("exit", (code) => {
      if (this.closing === null)
        this.fail(new BufferStorageError("BUFFER_IO", `buffer worker exited unexpectedly (${code})`));
    });
    worker.unref();
  }

  // ---- plumbing --------------------------------------------------------------------------------

  private updateRef(): void {
    if (this.closing) return;
    const busy = this.waiters.size > 0 || this.inflight.size > 0 || this.frame !== null;
    if (busy && !this.referenced) this.worker.ref();
    else if (!busy && this.referenced) this.worker.unref();
    this.referenced = busy;
  }

  get failure(): Error | null {
    return this.failed;
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListeners.push(listener);
  }

  private unusable(): Error | null {
    if (this.failed) return this.failed;
    if (this.closing) return new BufferClosedError();
    return null;
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.log.error({ err }, "buffer worker stopped; appends fail until the gateway restarts");
    for (const calls of this.inflight.values()) for (const c of calls) c.reject(err);
    this.inflight.clear();
    for (const w of this.waiters.values()) w.reject(err);
    this.waiters.clear();
    if (this.frame) for (const c of this.frame.calls) c.reject(err);
    this.frame = null;
    this.updateRef();
    for (const listener of this.failureListeners) {
      try {
        listener(err);
      } catch (e) {
        this.log.error({ err: e }, "buffer failure listener threw");
      }
    }
  }

  private request<T>(req: Request, transfer: ArrayBuffer[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(req.id, { resolve: resolve as (v: unknown) => void, reject });
      this.updateRef();
      this.worker.postMessage(req, transfer);
    });
  }

  private call<T>(build: (id: number) => Request): Promise<T> {
    const bad = this.unusable();
    if (bad) return Promise.reject(bad);
    return this.request<T>(build(this.nextId++));
  }

  private onMessage(m: WorkerMessage | Float64Array): void {
    if (m instanceof Float64Array) {
      unpackOutcomes(m, (id, outcome) => {
        const calls = this.takeInflight(id);
        if (calls !== undefined) this.settleFrame(calls, outcome);
      });
      return this.updateRef();
    }
    if (m.type === "log") return logFromWorker(this.log, m);
    if (m.type !== "reply") return;
    const calls = this.takeInflight(m.id);
    if (calls !== undefined) {
      if (m.ok) this.settleFrame(calls, m.value as AppendOutcome);
      else {
        const err = errorFromWire(m.error);
        for (const c of calls) c.reject(err);
      }
    } else {
      const w = this.waiters.get(m.id);
      this.waiters.delete(m.id);
      if (w) {
        if (m.ok) w.resolve(m.value);
        else w.reject(errorFromWire(m.error));
      }
    }
    this.updateRef();
  }

  /** The calls of an append frame whose answer came, no longer in flight. */
  private takeInflight(id: number): PendingCall[] | undefined {
    const calls = this.inflight.get(id);
    if (calls === undefined) return undefined;
    this.inflight.delete(id);
    this.inflightBytes -= this.inflightSizes.get(id) ?? 0;
    this.inflightSizes.delete(id);
    return calls;
  }

  private settleFrame(calls: PendingCall[], out: AppendOutcome): void {
    const errors = out.errors.length === 0 ? null : new Map(out.errors);
    for (let i = 0; i < calls.length; i++) {
      const c = calls[i]!;
      const e = errors?.get(i);
      if (e !== undefined) c.reject(errorFromWire(e));
      else {
        const first = out.firsts[i]!;
        c.resolve({ firstSeq: first, lastSeq: first + c.count - 1, count: c.count });
      }
    }
  }

  // ---- append ----------------------------------------------------------------------------------

  append(readings: Reading[], options?: AppendOptions): Promise<AppendResult> {
    const bad = this.unusable();
    if (bad) return Promise.reject(bad);
    if (!Array.isArray(readings))
      return Promise.reject(new InvalidReadingError(-1, "append takes an array of readings"));
    const marks = options?.marks;
    const hasMarks =
      marks !== undefined &&
      (marks.clearPrefix !== undefined || (marks.clear?.length ?? 0) > 0 || (marks.set?.length ?? 0) > 0);
    if (readings.length === 0 && !hasMarks) return Promise.resolve({ firstSeq: 0, lastSeq: -1, count: 0 });
    const f = (this.frame ??= this.newFrame());
    const w = f.writer;
    const mark = w.pos;
    const lengthMark = f.lengths.length;
    let i = 0;
    try {
      for (; i < readings.length; i++) {
        const r = readings[i]!;
        if (typeof r !== "object" || r === null) throw new ReadingProblem("not a reading object");
        const start = w.pos;
        writeReading(w, r, this.dict.resolve(r));
        const len = w.pos - start;
        if (len > this.o.maxReadingBytes)
          throw new ReadingProblem(
            `stored size ${len} bytes exceeds maxReadingBytes (${this.o.maxReadingBytes})`,
          );
        f.lengths.push(len);
      }
    } catch (err) {
      w.pos = mark;
      f.lengths.length = lengthMark;
      this.dropEmptyFrame();
      this.countRejected("invalid", readings.length);
      const r = readings[i] as Partial<Reading> | null | undefined;
      const what = r && typeof r === "object" ? ` (${String(r.device)}/${String(r.point)})` : "";
      const why = err instanceof Error ? err.message : String(err);
      return Promise.reject(new InvalidReadingError(i, `reading ${i}${what} cannot be stored: ${why}`));
    }
    // A single call larger than the limit still goes through when nothing else is waiting.
    const waiting = this.inflightBytes + mark;
    if (readings.length > 0 && waiting > 0 && waiting + (w.pos - mark) > this.o.maxPendingBytes) {
      w.pos = mark;
      f.lengths.length = lengthMark;
      this.dropEmptyFrame();
      this.countRejected("overloaded", readings.length);
      return Promise.reject(
        new BufferOverloadedError(
          `more than ${this.o.maxPendingBytes} bytes of readings are waiting for their commit (storage too slow); not stored`,
        ),
      );
    }
    if (hasMarks) f.marks.push({ ...marks, call: f.calls.length });
    const promise = new Promise<AppendResult>((resolve, reject) => {
      f.calls.push({ count: readings.length, resolve, reject });
    });
    if (options?.awaited === true) f.awaitedCalls++;
    if (f.lengths.length >= this.o.commitMaxRows) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
    this.updateRef();
    return promise;
  }

  private newFrame(): FrameBuilder {
    const spare = this.spareWriter;
    this.spareWriter = null;
    if (spare === null) return new FrameBuilder(new ByteWriter(this.lastFrameSize));
    spare.pos = 0;
    return new FrameBuilder(spare);
  }

  private dropEmptyFrame(): void {
    if (this.frame && this.frame.calls.length === 0 && this.frame.writer.pos === 0) this.frame = null;
  }

  private countRejected(reason: string, n: number): void {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + n;
  }

  private flush(): void {
    const f = this.frame;
    if (f === null || f.calls.length === 0) return;
    this.frame = null;
    const id = this.nextId++;
    const used = f.writer.pos;
    const series = this.dict.takeFresh();
    this.lastFrameSize = Math.min(1 << 20, Math.max(4096, used * 2));
    this.inflight.set(id, f.calls);
    this.inflightSizes.set(id, used);
    this.inflightBytes += used;
    if (series.length === 0 && f.marks.length === 0 && used <= PACKED_FRAME_BYTES) {
      const body = f.writer.bytes.subarray(0, used);
      this.worker.postMessage(packFrame(id, body, f.lengths, f.calls, f.awaitedCalls));
      this.spareWriter = f.writer;
      return;
    }
    const lengths = Uint32Array.from(f.lengths);
    const calls = Uint32Array.from(f.calls, (c) => c.count);
    const msg: AppendFrame = {
      op: "append",
      id,
      bytes: f.writer.bytes.buffer as ArrayBuffer,
      used,
      lengths,
      calls,
      series,
      awaitedCalls: f.awaitedCalls,
      marks: f.marks,
    };
    this.worker.postMessage(msg, [msg.bytes, lengths.buffer, calls.buffer]);
  }

  // ---- lease and friends -----------------------------------------------------------------------

  /**
   * Walks stored readings in order: `read` decodes the i-th from `reader` (its bytes end at `end`);
   * `broken` gets those whose decode threw, with why.
   */
  private eachStored(
    stored: StoredReadings,
    read: (reader: ByteReader, end: number, i: number, seq: number) => void,
    broken: (seq: number, error: string) => void,
  ): void {
    const reader = new ByteReader(new Uint8Array(stored.bytes));
    let off = 0;
    for (let i = 0; i < stored.lengths.length; i++) {
      const end = off + stored.lengths[i]!;
      reader.pos = off;
      reader.end = end;
      try {
        read(reader, end, i, stored.seqs[i]!);
      } catch (err) {
        broken(stored.seqs[i]!, err instanceof Error ? err.message : String(err));
      }
      off = end;
    }
  }

  async lease(options: LeaseOptions): Promise<Batch | null> {
    const lease = leaseRequest(options, 1);
    for (;;) {
      const r = await this.call<Exchanged>((id) => ({
        op: "exchange",
        id,
        release: [],
        lease,
        resume: false,
      }));
      const b = r.batches[0];
      if (b === undefined) return null;
      const batch = await this.decodeLeased(b);
      if (batch.count > 0) return batch;
    }
  }

  async release(batchId: number): Promise<boolean> {
    const r = await this.call<Exchanged>((id) => ({
      op: "exchange",
      id,
      release: [batchId],
      lease: null,
      resume: false,
    }));
    return r.released[0] !== null;
  }

  async exchange(request: ExchangeRequest): Promise<ExchangeResult> {
    const release = request.release ?? [];
    const lease = request.lease ? leaseRequest(request.lease, request.lease.batches ?? 1) : null;
    const resume = request.resume ?? false;
    const r = await this.call<Exchanged>((id) => ({ op: "exchange", id, release, lease, resume }));
    const batches: Batch[] = [];
    for (const b of r.batches) batches.push(await this.decodeLeased(b));
    return { released: r.released.map((n) => n !== null), batches, more: r.more };
  }

  /**
   * The leased batch, decoded. Readings that do not decode can never be sent: they go to the dead
   * letters, and the batch (recorded without them, so a resend after a crash is identical) goes on
   * with the rest; a batch left with none is released and comes back empty.
   */
  private async decodeLeased(b: LeasedBatch): Promise<Batch> {
    const n = b.lengths.length;
    let columns = emptyColumns(n);
    const broken: { seq: number; error: string }[] = [];
    this.eachStored(
      b,
      (reader, end, i) => readReadingInto(reader, end, this.dict.lookup, columns, i - broken.length),
      (seq, error) => broken.push({ seq, error }),
    );
    if (broken.length > 0) columns = trimColumns(columns, n - broken.length);
    const batch = leasedBatch(b, columns);
    if (broken.length === 0) return batch;
    const reason = `stored reading does not decode: ${broken[0]!.error}`;
    const seqs = broken.map((d) => d.seq);
    await this.call((id) => ({ op: "deadLetter", id, batchId: b.firstSeq, reason, seqs }));
    this.log.error(
      { batch: b.firstSeq, readings: broken.length, reason },
      "buffer: undecodable readings dead-lettered",
    );
    if (batch.count === 0) await this.release(b.firstSeq);
    return batch;
  }

  requeue(batchId: number): Promise<boolean> {
    return this.call<boolean>((id) => ({ op: "requeue", id, batchId }));
  }

  async deadLetter(batchId: number, reason: string): Promise<number | null> {
    const r = await this.call<{ entry: number } | null>((id) => ({
      op: "deadLetter",
      id,
      batchId,
      reason: String(reason),
    }));
    return r === null ? null : r.entry;
  }

  listDeadLetters(): Promise<DeadLetterEntry[]> {
    return this.call((id) => ({ op: "listDeadLetters", id }));
  }

  async readDeadLetter(
    entry: number,
    options: { offset?: number; limit?: number } = {},
  ): Promise<StoredReading[]> {
    const stored = await this.call<StoredReadings>((id) => ({
      op: "readDeadLetter",
      id,
      entry,
      offset: options.offset ?? 0,
      limit: options.limit ?? -1,
    }));
    const out: StoredReading[] = [];
    this.eachStored(
      stored,
      (reader, end, _, seq) => out.push({ seq, reading: readReading(reader, end, this.dict.lookup) }),
      (seq, error) => out.push({ seq, reading: null, error }),
    );
    return out;
  }

  replayDeadLetters(entries: DeadLetterSelector): Promise<ReplayResult> {
    return this.call((id) => ({ op: "replayDeadLetters", id, entries }));
  }

  purgeDeadLetters(entries: DeadLetterSelector): Promise<PurgeResult> {
    return this.call((id) => ({ op: "purgeDeadLetters", id, entries }));
  }

  readMarks(prefix: string): Promise<string[]> {
    return this.call((id) => ({ op: "readMarks", id, prefix }));
  }

  async stats(): Promise<BufferStats> {
    const s = await this.call<StoreStats>((id) => ({ op: "stats", id }));
    const rejected = { ...s.rejected };
    for (const [k, v] of Object.entries(this.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
    let pendingReadings = this.frame?.lengths.length ?? 0;
    for (const calls of this.inflight.values()) for (const c of calls) pendingReadings += c.count;
    return {
      ...s,
      rejected,
      oldestAgeMs: s.oldestTs === null ? null : Math.max(0, Date.now() - s.oldestTs),
      pendingReadings,
    };
  }

  async reduceMemory(): Promise<void> {
    await this.call((id) => ({ op: "reduceMemory", id }));
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.flush();
    const failed = this.failed;
    this.worker.ref();
    this.referenced = true;
    this.closing = (async () => {
      if (failed === null) {
        const exited = once(this.worker, "exit");
        await this.request({ op: "close", id: this.nextId++ });
        await exited;
      } else await this.worker.terminate();
    })();
    return this.closing;
  }
}

/**
 * A batch as the forwarder sees it. `readings` is built from the columns on first use, then kept;
 * `columns` is not enumerable, so a batch compares and prints (JSON) by its readings as before.
 */
function leasedBatch(b: LeasedBatch, columns: ReadingColumns): Batch {
  const batch = {
    id: b.firstSeq,
    firstSeq: b.firstSeq,
    lastSeq: b.lastSeq,
    count: columns.ts.length,
    attempts: b.attempts,
  } as Omit<Batch, "readings" | "columns"> as Batch;
  Object.defineProperty(batch, "columns", { value: columns, enumerable: false });
  Object.defineProperty(batch, "readings", {
    enumerable: true,
    configurable: true,
    get(): Reading[] {
      const readings: Reading[] = new Array<Reading>(columns.ts.length);
      for (let i = 0; i < readings.length; i++) readings[i] = readingAt(columns, i);
      Object.defineProperty(batch, "readings", { value: readings, enumerable: true, writable: true });
      return readings;
    },
  });
  return batch;
}
