// Moves batches from the buffer into Iggy in order, pipelined: while one batch is in flight to
// Iggy, the next ones are already leased, decoded and encoded, and the release of each confirmed
// batch rides on the buffer round trip (and transaction) that leases the next. Only one send is in
// flight (the Iggy client is strictly one request at a time), and batch N+1 is sent only after
// Iggy confirmed batch N, so the gateway's messages in the partition are always a prefix of its
// batches in order. Each batch is recorded in the buffer (its boundaries durable) before it is
// sent, and leaves the buffer only after Iggy confirmed it. After a crash, or a restart of the loop,
// every batch the buffer still records comes back, in order; one look at the partition's tail
// tells which of them Iggy has (first_seq at or below the newest there) and which to send. That
// look is taken before a run's first send whatever the batch: a disk that fails can report the
// commit that recorded a lease durable and lose it (ext4 with errors=remount-ro does), and then
// a batch Iggy has comes back as a new one; it is not resent when Iggy has all of its readings.
//
// What a failure does (classifyFailure):
// - Iggy (unreachable, timeouts, refusals): retried in place with backoff; the loop keeps running.
//   Only a batch Iggy refuses as invalid (or that Iggy's protocol cannot carry) is dead-lettered.
// - the buffer (an I/O error, a full disk): the loop restarts after a backoff and starts over from
//   what the buffer records, reading the partition's tail first (its batches may have been sent).
// - the buffer is gone (its worker thread died, or it was closed under the loop): fatal.
// - our own defect (any other exception: a TypeError, a codec that throws): the loop restarts
//   after a backoff; `maxDefects` defects in a row without a confirmed batch between them: fatal.
// Fatal: the state becomes "failed" and `onFatal` tells the runtime, which stops and exits
// non-zero so that the service manager starts a fresh process.
import { EventEmitter } from "node:events";
import type { Logger } from "pino";
import { BufferClosedError, BufferError, type Batch, type ReadingBuffer } from "../buffer/index.js";
import { Backoff } from "../protocols/backoff.js";
import { sleep, Waker } from "../protocols/sleep.js";
import type { Codec } from "./codecs/index.js";
import { batchMessages, gatewayPartition, readEnvelope } from "./envelope.js";
import {
  IggyClosedError,
  IggyError,
  IggyInputError,
  IggyServerError,
  type IggyClient,
  type OutgoingMessage,
  type SendOutcome,
} from "./iggy/index.js";
import type { GatewayMetrics } from "./metrics.js";

export interface ForwarderOptions {
  gatewayId: string;
  stream: string;
  topic: string;
  /** Create the stream and topic when they are missing (with `partitions` partitions). */
  createMissing: boolean;
  partitions: number;
  codec: Codec;
  batch: { maxReadings: number; maxBytes: number; lingerMs: number };
  log: Logger;
  metrics?: GatewayMetrics;
  /** Backoff between failed attempts, and between restarts of the loop. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Defects in a row (no confirmed batch between them) after which the forwarder gives up. Default 5. */
  maxDefects?: number;
  /**
   * Messages read per page when looking for the gateway's last batch in the partition: 16 when a
   * message carries a batch, max(100, max readings + 1) with JSON.
   */
  tailPageSize?: number;
  /**
   * Batches held at once: the one in flight to Iggy, those leased and encoded to follow it, and
   * those being leased. Default 8; 1 is the unpipelined loop.
   */
  pipeline?: number;
  /** Called after Iggy confirmed a batch and the buffer released it (in order). */
  onConfirmed?: (batch: Batch) => void;
  /** Called once when the forwarder gives up: the process cannot go on and should exit non-zero. */
  onFatal?: (failure: ForwarderFailure) => void;
}

/**
 * - running: the loop runs (Iggy may still be unreachable: readings are buffered meanwhile);
 * - restarting: the loop failed and waits to start again;
 * - failed: the forwarder gave up (see onFatal); stopped: not started, or stopped.
 */
export type ForwarderState = "running" | "restarting" | "failed" | "stopped";

/** iggy: Iggy's side; buffer: the buffer's storage; buffer_gone: no buffer to work with; defect: ours. */
export type FailureKind = "iggy" | "buffer" | "buffer_gone" | "defect";

export interface ForwarderFailure {
  kind: FailureKind;
  message: string;
  error: unknown;
  at: number;
}

/** What an exception that reached the loop says; "stopped" when the Iggy client was closed (a stop). */
export function classifyFailure(e: unknown, buffer: Pick<ReadingBuffer, "failure">): FailureKind | "stopped" {
  if (e instanceof IggyClosedError) return "stopped";
  if (buffer.failure !== null || e instanceof BufferClosedError) return "buffer_gone";
  if (e instanceof BufferError) return "buffer";
  if (e instanceof IggyError || e instanceof TopicUnavailableError) return "iggy";
  return "defect";
}

/** The topic cannot be used as it is (missing with create_missing off, or without partitions). */
class TopicUnavailableError extends Error {
  override name = "TopicUnavailableError";
}

/** How far back, in messages, the tail check looks for the gateway's newest batch. */
const TAIL_LOOKBACK_MESSAGES = 20_000;
/**
 * Messages per page of the tail check where each message carries a whole batch (up to
 * batch.max_bytes): a page is held in memory at once, so a few. With JSON (a message per reading),
 * a batch's worth.
 */
const TAIL_PAGE_BATCH_MESSAGES = 16;
const IDLE_RECHECK_MS = 1000;
const DEFAULT_PIPELINE = 8;

/** A batch leased in this run and not yet confirmed; encoded as soon as it arrives. */
interface Held {
  batch: Batch;
  messages: OutgoingMessage[] | null;
  /** Why encoding failed: thrown when the batch's turn comes (an exception of the codec is a defect). */
  defect?: unknown;
}

/** The gateway's newest batch in the partition: its first sequence and (at least) its last. */
interface Tail {
  firstSeq: number;
  lastSeq: number;
}

/** A batch Iggy has; its release rides on the next exchange with the buffer. */
interface Confirmed {
  batch: Batch;
  /** Found in Iggy by the tail check rather than confirmed by a send. */
  duplicate: boolean;
}

export interface ForwarderStatus {
  state: ForwarderState;
  stream: string;
  topic: string;
  partition: number | null;
  codec: string;
  connected: boolean;
  protocol: string;
  last_confirmed_at: string | null;
  last_error: string | null;
  batches_sent: number;
  readings_sent: number;
  restarts: number;
  /** Why the loop last restarted or gave up. */
  last_failure: { kind: FailureKind; message: string; at: string } | null;
}

export class Forwarder extends EventEmitter<{ state: [ForwarderState] }> {
  private partition: number | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private abort = new AbortController();
  private readonly news = new Waker();
  private notified = 0;
  private firstNotifiedAt = 0;
  private backlog = true;
  private idle = false;
  /** Batches leased in this run, in order, not yet confirmed; the first is the one being sent. */
  private held: Held[] = [];
  /** Confirmed batches waiting for their release. */
  private confirmedQueue: Confirmed[] = [];
  /** The exchange with the buffer in flight (one at a time); it never rejects. */
  private exchanging: Promise<void> | null = null;
  /** Why an exchange failed: nothing after what it leased may be sent; the run ends with it. */
  private broken: { error: unknown } | null = null;
  /** The run is ending: no exchange starts but the release at a clean stop. */
  private ending = false;
  /** The run's first exchange takes back every batch the buffer records (the run holds none). */
  private resumeNext = true;
  /**
   * The newest batch of this gateway in the partition, as far as known: null when none is there,
   * undefined when unknown (not looked yet this run, or a send's fate is unknown).
   */
  private knownTail: Tail | null | undefined = undefined;
  private readonly depth: number;
  private readonly retry: Backoff;
  private readonly restartDelay: Backoff;
  private defects = 0;
  private restarts = 0;
  private current: ForwarderState = "stopped";
  private lastFailure: ForwarderFailure | null = null;
  private lastConfirmedAt: number | null = null;
  private lastError: string | null = null;
  private batchesSent = 0;
  private readingsSent = 0;
  private readonly log: Logger;

  constructor(
    private readonly buffer: ReadingBuffer,
    private readonly client: IggyClient,
    private readonly options: ForwarderOptions,
  ) {
    super();
    this.log = options.log;
    const initialMs = options.retry?.initialDelayMs ?? 100;
    const maxMs = Math.max(initialMs, options.retry?.maxDelayMs ?? 10_000);
    this.retry = new Backoff({ initialMs, maxMs });
    this.restartDelay = new Backoff({ initialMs, maxMs });
    this.depth = Math.max(1, Math.floor(options.pipeline ?? DEFAULT_PIPELINE));
  }

  get state(): ForwarderState {
    return this.current;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.loop = this.supervise(this.abort.signal).catch((e: unknown) =>
      this.log.error({ err: e }, "forwarder supervision failed"),
    );
  }

  /** New readings were committed to the buffer. */
  notify(count: number): void {
    if (this.notified === 0) this.firstNotifiedAt = Date.now();
    this.notified += count;
    if (this.idle || this.notified >= this.options.batch.maxReadings || this.options.batch.lingerMs === 0)
      this.news.wake();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    this.news.wake();
    await this.loop;
  }

  /** Why the gateway is not ready as far as the forwarder is concerned, or null. */
  notReady(): string | null {
    const f = this.lastFailure;
    const why = f ? ` (${f.kind}: ${f.message})` : "";
    switch (this.current) {
      case "running":
        return null;
      case "restarting":
        return `forwarder restarting${why}`;
      case "failed":
        return `forwarder stopped for good${why}`;
      case "stopped":
        return "forwarder not running";
    }
  }

  status(): ForwarderStatus {
    const f = this.lastFailure;
    return {
      state: this.current,
      stream: this.options.stream,
      topic: this.options.topic,
      partition: this.partition,
      codec: this.options.codec.name,
      connected: this.client.connected,
      protocol: this.client.protocolVersion,
      last_confirmed_at: this.lastConfirmedAt === null ? null : new Date(this.lastConfirmedAt).toISOString(),
      last_error: this.lastError,
      batches_sent: this.batchesSent,
      readings_sent: this.readingsSent,
      restarts: this.restarts,
      last_failure: f ? { kind: f.kind, message: f.message, at: new Date(f.at).toISOString() } : null,
    };
  }

  // ---- supervision ----

  private setState(state: ForwarderState): void {
    if (state === this.current) return;
    this.current = state;
    this.options.metrics?.forwarderUp.set(state === "running" ? 1 : 0);
    this.emit("state", state);
  }

  private async supervise(signal: AbortSignal): Promise<void> {
    while (this.running) {
      this.setState("running");
      try {
        await this.run();
        break;
      } catch (e) {
        if (!this.running) break;
        const kind = classifyFailure(e, this.buffer);
        if (kind === "stopped") break;
        const failure: ForwarderFailure = {
          kind,
          message: e instanceof Error ? e.message : String(e),
          error: e,
          at: Date.now(),
        };
        this.lastFailure = failure;
        if (kind === "defect") this.defects++;
        const maxDefects = this.options.maxDefects ?? 5;
        if (kind === "buffer_gone" || this.defects >= maxDefects) {
          this.running = false;
          this.log.fatal(
            { err: e, kind, defects: this.defects },
            kind === "buffer_gone"
              ? "forwarder stopped: the buffer is gone; the process must restart"
              : `forwarder stopped: ${this.defects} defects in a row; the process must restart`,
          );
          this.setState("failed");
          this.options.onFatal?.(failure);
          return;
        }
        this.restarts++;
        this.options.metrics?.forwarderRestarts.inc({ reason: kind });
        this.log.error(
          { err: e, kind, restart: this.restarts },
          `forwarder loop failed (${kind}); restarting`,
        );
        this.setState("restarting");
        await sleep(this.restartDelay.next(), signal);
      }
    }
    this.running = false;
    this.setState("stopped");
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    this.resumeNext = true;
    this.knownTail = undefined;
    this.backlog = true;
    let clean = false;
    try {
      while (this.running) {
        if (this.partition === null) {
          if (!(await this.attempt("set up the stream and topic", () => this.setUp()))) continue;
        }
        const head = await this.nextHeld();
        if (head) await this.deliver(head);
      }
      clean = true;
    } finally {
      await this.settle(clean);
    }
  }

  private async setUp(): Promise<void> {
    const { stream, topic, createMissing, partitions, gatewayId } = this.options;
    const topicInfo = createMissing
      ? (await this.client.ensureStream(stream), await this.client.ensureTopic(stream, topic, { partitions }))
      : await this.client.getTopic(stream, topic);
    if (!topicInfo)
      throw new TopicUnavailableError(
        `topic ${stream}/${topic} does not exist (and iggy.create_missing is false)`,
      );
    if (topicInfo.partitionsCount < 1)
      throw new TopicUnavailableError(`topic ${stream}/${topic} has no partitions`);
    this.partition = gatewayPartition(gatewayId, topicInfo.partitionsCount);
    this.log.info(
      { stream, topic, partition: this.partition, partitions: topicInfo.partitionsCount },
      "forwarding to Iggy",
    );
  }

  /** The batch to send next: held already, on its way from the buffer, or leased after waiting for readings. */
  private async nextHeld(): Promise<Held | null> {
    for (;;) {
      if (this.broken) throw this.broken.error;
      const head = this.held[0];
      if (head) return head;
      if (this.exchanging) {
        await this.exchanging;
        continue;
      }
      if (!this.running) return null;
      if (!this.backlog) {
        // Confirmed batches are released before the loop sleeps, not after.
        if (this.confirmedQueue.length > 0) {
          this.exchange(0);
          continue;
        }
        await this.waitForReadings();
        if (!this.running) return null;
      }
      this.exchange(this.depth);
    }
  }

  /** Waits for the first notify (or the idle recheck), then lingers for a fuller batch. */
  private async waitForReadings(): Promise<void> {
    const { lingerMs, maxReadings } = this.options.batch;
    if (this.notified === 0) {
      // Woken by the first notify; the timer only covers readings that arrive without one.
      this.idle = true;
      await this.news.sleep(IDLE_RECHECK_MS);
      this.idle = false;
    }
    if (this.running && this.notified > 0 && this.notified < maxReadings) {
      await this.news.sleep(this.firstNotifiedAt + lingerMs - Date.now());
    }
  }

  /**
   * Keeps the buffer busy while batches are in flight: with a backlog, leases back up to `depth`
   * batches once half the window is free, each lease carrying the releases of the batches confirmed
   * since the one before; without one, releases confirmed batches at once. A lease costs the buffer
   * a transaction and an fsync however many batches it holds, so it takes half a window at a time
   * (the other half is being sent meanwhile). One exchange at a time.
   */
  private topUp(): void {
    if (this.broken || this.exchanging || this.ending || !this.running) return;
    const room = this.backlog ? this.depth - this.held.length : 0;
    if (room >= Math.ceil(this.depth / 2) || (!this.backlog && this.confirmedQueue.length > 0))
      this.exchange(room);
  }

  /**
   * One round trip to the buffer: releases the confirmed batches and leases up to `lease` more,
   * which join `held` in order. When it fails, nothing more joins and the run ends there.
   */
  private exchange(lease: number): void {
    const { maxReadings, maxBytes } = this.options.batch;
    const releasing = this.confirmedQueue;
    this.confirmedQueue = [];
    const resume = this.resumeNext;
    this.resumeNext = false;
    if (lease > 0) {
      this.notified = 0;
      this.news.clear();
    }
    const request = this.buffer.exchange({
      release: releasing.map((c) => c.batch.id),
      ...(lease > 0 ? { lease: { maxReadings, maxBytes, batches: lease } } : {}),
      resume,
    });
    this.exchanging = request.then(
      (result) => {
        this.exchanging = null;
        const arrived: Held[] = [];
        for (const batch of result.batches) if (batch.count > 0) arrived.push({ batch, messages: null });
        this.held.push(...arrived);
        // A backlog: more waits behind a full batch (or one recorded before); readings that
        // trickled in meanwhile wait for the linger instead, to make a fuller batch.
        const last = result.batches[result.batches.length - 1];
        if (lease > 0)
          this.backlog =
            result.more &&
            last !== undefined &&
            (last.count === 0 || last.count >= maxReadings || last.attempts > 1);
        // The next exchange goes out first, so the buffer works while these are encoded.
        this.topUp();
        for (const h of arrived) this.encode(h);
        try {
          for (const c of releasing) if (!c.duplicate) this.confirmed(c.batch);
        } catch (error) {
          this.broken ??= { error };
        }
      },
      (error: unknown) => {
        this.exchanging = null;
        this.broken ??= { error };
      },
    );
  }

  /** Encodes a batch as soon as it is leased, so that it is ready when its turn comes. */
  private encode(h: Held): void {
    if (h.messages !== null || h.defect !== undefined) return;
    const { gatewayId, codec } = this.options;
    try {
      const messages = batchMessages(gatewayId, codec, h.batch);
      if (messages.length === 0)
        throw new Error(`codec ${codec.name} made no message of ${h.batch.count} readings`);
      h.messages = messages;
    } catch (e) {
      // Not the batch's fault (the buffer hands out only readings the codecs can carry): a defect.
      h.defect = e;
    }
  }

  /**
   * The end of a run: the exchange in flight finishes (what it leased stays recorded in the buffer,
   * and the next run takes it back); after a clean stop, confirmed batches are released.
   */
  private async settle(clean: boolean): Promise<void> {
    // Nothing new starts: a lease landing after this run would mix with the next run's batches.
    this.ending = true;
    await this.exchanging;
    if (clean && !this.broken && this.confirmedQueue.length > 0 && this.buffer.failure === null) {
      this.exchange(0);
      await this.exchanging;
      // (exchange() sets it when the release fails)
      const broken = this.broken as { error: unknown } | null;
      if (broken)
        this.log.warn(
          { err: broken.error },
          "could not release the confirmed batches at stop; the next start finds them in Iggy",
        );
    }
    this.held = [];
    this.confirmedQueue = [];
    this.broken = null;
    this.ending = false;
  }

  private async deliver(h: Held): Promise<void> {
    this.encode(h);
    if (h.defect !== undefined) throw h.defect;
    const { batch } = h;
    const messages = h.messages!;
    const { stream, topic } = this.options;
    // Leased before (by a run that crashed, or by this process before the loop started over), the
    // run's first, or not past what Iggy has: it may be in Iggy already.
    const tail = this.knownTail;
    let fateUnknown =
      batch.attempts > 1 || tail === undefined || (tail !== null && tail.lastSeq >= batch.firstSeq);
    while (this.running) {
      const partition = this.partition;
      if (partition === null) {
        await this.attempt("set up the stream and topic", () => this.setUp());
        continue;
      }
      if (fateUnknown) {
        let stored = false;
        const checked = await this.attempt("read the partition's tail", async () => {
          stored = await this.alreadyStored(batch, partition);
        });
        if (!checked) continue;
        fateUnknown = false;
        if (stored) {
          this.log.info(
            { first_seq: batch.firstSeq, count: batch.count },
            "batch already in Iggy, not resending",
          );
          this.options.metrics?.forwardBatches.inc({ result: "duplicate" });
          this.held.shift();
          this.confirmedQueue.push({ batch, duplicate: true });
          this.topUp();
          return;
        }
      }
      this.topUp();
      let outcome: SendOutcome;
      try {
        outcome = await this.client.send(stream, topic, messages, {
          partitioning: { kind: "partition", id: partition },
        });
      } catch (e) {
        // The client refuses, before a byte is sent, what Iggy's protocol cannot carry (a payload
        // over Iggy's limit): Iggy would refuse the same bytes as invalid, every time.
        if (!(e instanceof IggyInputError)) throw e;
        await this.deadLetter(batch, `Iggy's protocol cannot carry the batch: ${e.message}`);
        return;
      }
      switch (outcome.status) {
        case "confirmed":
          this.knownTail = { firstSeq: batch.firstSeq, lastSeq: batch.lastSeq };
          this.held.shift();
          this.confirmedQueue.push({ batch, duplicate: false });
          this.topUp();
          return;
        case "rejected": {
          const { reason, code, message } = outcome.error;
          if (reason === "invalid") {
            this.log.error(
              { code, first_seq: batch.firstSeq, count: batch.count },
              `Iggy refused the batch: ${message}; moved to dead letters`,
            );
            await this.deadLetter(batch, message);
            return;
          }
          if (reason === "missing_target") this.lostPartition();
          await this.failed(message);
          break;
        }
        case "unknown":
          fateUnknown = true;
          this.knownTail = undefined;
          await this.failed(
            `no reply to the send (${outcome.error.message}); checking the partition before resending`,
          );
          break;
        case "not_sent":
          await this.failed(outcome.error.message);
          break;
      }
    }
  }

  private lostPartition(): void {
    this.partition = null;
    this.knownTail = undefined;
  }

  private async deadLetter(batch: Batch, reason: string): Promise<void> {
    await this.buffer.deadLetter(batch.id, reason);
    this.held.shift();
    this.options.metrics?.forwardBatches.inc({ result: "dead_letter" });
  }

  /**
   * Whether Iggy has the batch. A batch leased before has the boundaries it was sent with: Iggy has
   * it when the gateway's newest batch in the partition is this one or a later one. A new batch
   * (its lease record lost) may not: Iggy has it when it has its last reading. Batches reach the
   * partition in order, so one look answers for every batch after it too, until a send's fate is
   * unknown again.
   */
  private async alreadyStored(batch: Batch, partition: number): Promise<boolean> {
    if (this.knownTail === undefined) this.knownTail = await this.newestInPartition(batch, partition);
    const tail = this.knownTail;
    if (tail === null) return false;
    if (batch.attempts > 1) return tail.firstSeq >= batch.firstSeq;
    if (tail.lastSeq >= batch.lastSeq) return true;
    if (tail.lastSeq >= batch.firstSeq)
      this.log.warn(
        { first_seq: batch.firstSeq, last_seq: batch.lastSeq, in_iggy_to: tail.lastSeq },
        "Iggy has the first readings of a batch the buffer did not record as leased (a lost write of the disk); sending it whole",
      );
    return false;
  }

  /** The gateway's newest batch in the partition's recent tail, or null. */
  private async newestInPartition(batch: Batch, partition: number): Promise<Tail | null> {
    const { stream, topic, gatewayId } = this.options;
    const pageSize =
      this.options.tailPageSize ??
      (this.options.codec.name === "json"
        ? Math.max(100, this.options.batch.maxReadings + 1)
        : TAIL_PAGE_BATCH_MESSAGES);
    let page = await this.client.pollTail(stream, topic, partition, pageSize);
    for (let pages = 0; pages < Math.ceil(TAIL_LOOKBACK_MESSAGES / pageSize); pages++) {
      for (let i = page.length - 1; i >= 0; i--) {
        const envelope = readEnvelope(page[i]!);
        if (envelope.gateway !== gatewayId) continue;
        if (envelope.firstSeq === undefined) continue;
        // Without a count, only its first reading is known to be there.
        return { firstSeq: envelope.firstSeq, lastSeq: envelope.firstSeq + (envelope.count ?? 1) - 1 };
      }
      const oldest = page[0]?.offset;
      if (oldest === undefined || oldest === 0n) return null;
      const from = oldest > BigInt(pageSize) ? oldest - BigInt(pageSize) : 0n;
      page = (
        await this.client.poll(stream, topic, {
          partition,
          strategy: { kind: "offset", value: from },
          count: Number(oldest - from),
        })
      ).messages;
    }
    if (batch.attempts > 1)
      this.log.warn(
        { first_seq: batch.firstSeq },
        "no batch of this gateway in the partition's recent tail; resending",
      );
    return null;
  }

  private confirmed(batch: Batch): void {
    this.retry.reset();
    this.restartDelay.reset();
    this.defects = 0;
    if (this.lastError !== null) this.log.info("sending to Iggy again");
    this.lastError = null;
    this.lastConfirmedAt = Date.now();
    this.batchesSent++;
    this.readingsSent += batch.count;
    this.options.metrics?.forwardBatches.inc({ result: "ok" });
    this.options.metrics?.readingsForwarded.inc(batch.count);
    this.options.onConfirmed?.(batch);
  }

  /** Runs a step that talks to Iggy; on an Iggy failure records it, backs off, and returns false. */
  private async attempt(what: string, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (e) {
      if (classifyFailure(e, this.buffer) !== "iggy") throw e;
      if (e instanceof IggyServerError && e.reason === "missing_target") this.lostPartition();
      await this.failed(`cannot ${what}: ${(e as Error).message}`);
      return false;
    }
  }

  private async failed(message: string): Promise<void> {
    this.options.metrics?.forwardBatches.inc({ result: "retry" });
    // Logged when the reason changes, not on every retry of the same outage.
    if (message !== this.lastError) this.log.warn({ retry: this.retry.attempts + 1 }, message);
    this.lastError = message;
    await sleep(this.retry.next(), this.abort.signal);
  }
}
