// Moves batches from the buffer into Iggy, one at a time and in order: lease, encode, send with the
// batch's deterministic message id, release only after Iggy confirmed. A batch whose fate is
// unknown (a crash or a lost reply after the request was written) is resent only after the tail
// of the gateway's partition shows it is not there yet.
//
// What a failure does (classifyFailure):
// - Iggy (unreachable, timeouts, refusals): retried in place with backoff; the loop keeps running.
//   Only a batch Iggy refuses as invalid (or that Iggy's protocol cannot carry) is dead-lettered.
// - the buffer (an I/O error, a full disk): the loop restarts after a backoff and goes on with the
//   batch it holds, reading the partition's tail first (the batch may have been sent).
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
  /** Messages read per page when looking for the gateway's last batch in the partition. */
  tailPageSize?: number;
  /** Called after Iggy confirmed a batch and the buffer released it. */
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

const TAIL_MAX_PAGES = 20;
const IDLE_RECHECK_MS = 1000;

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
  /** The batch leased and not yet released, dead-lettered or handed back: a restart goes on with it. */
  private held: Batch | null = null;
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
    while (this.running) {
      if (this.partition === null) {
        if (!(await this.attempt("set up the stream and topic", () => this.setUp()))) continue;
      }
      // A batch still held when the loop failed goes first: it may have reached Iggy.
      const resumed = this.held !== null;
      const batch = this.held ?? (await this.nextBatch());
      this.held = batch;
      if (batch) await this.deliver(batch, resumed);
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

  /** Waits for readings (lingering for a fuller batch) unless a backlog is known, then leases. */
  private async nextBatch(): Promise<Batch | null> {
    if (!this.backlog) {
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
    if (!this.running) return null;
    this.notified = 0;
    this.news.clear();
    const { maxReadings, maxBytes } = this.options.batch;
    const batch = await this.buffer.lease({ maxReadings, maxBytes });
    this.backlog = batch !== null && batch.readings.length >= maxReadings;
    return batch;
  }

  private async deliver(batch: Batch, resumed: boolean): Promise<void> {
    const { stream, topic, gatewayId, codec } = this.options;
    // An exception here is a defect (the buffer hands out only readings the codecs can carry).
    const messages = batchMessages(gatewayId, codec, batch);
    if (messages.length === 0)
      throw new Error(`codec ${codec.name} made no message of ${batch.readings.length} readings`);
    // Leased before by a run that crashed (or handed back), or held when the loop failed: it may
    // be in Iggy already.
    let fateUnknown = resumed || batch.attempts > 1;
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
            { first_seq: batch.firstSeq, count: batch.readings.length },
            "batch already in Iggy, not resending",
          );
          this.options.metrics?.forwardBatches.inc({ result: "duplicate" });
          await this.buffer.release(batch.id);
          this.held = null;
          return;
        }
      }
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
          await this.buffer.release(batch.id);
          this.held = null;
          this.confirmed(batch);
          return;
        case "rejected": {
          const { reason, code, message } = outcome.error;
          if (reason === "invalid") {
            this.log.error(
              { code, first_seq: batch.firstSeq, count: batch.readings.length },
              `Iggy refused the batch: ${message}; moved to dead letters`,
            );
            await this.deadLetter(batch, message);
            return;
          }
          if (reason === "missing_target") this.partition = null;
          await this.failed(message);
          break;
        }
        case "unknown":
          fateUnknown = true;
          await this.failed(
            `no reply to the send (${outcome.error.message}); checking the partition before resending`,
          );
          break;
        case "not_sent":
          await this.failed(outcome.error.message);
          break;
      }
    }
    // Stopped with the batch in hand: a batch that surely never left can go back; one whose fate
    // is unknown stays leased, so the next run looks at the partition before resending it.
    if (!fateUnknown) {
      await this.buffer.requeue(batch.id).catch(() => undefined);
      this.held = null;
    }
  }

  private async deadLetter(batch: Batch, reason: string): Promise<void> {
    await this.buffer.deadLetter(batch.id, reason);
    this.held = null;
    this.options.metrics?.forwardBatches.inc({ result: "dead_letter" });
  }

  /** Whether the gateway's latest batch in the partition is this one or a later one. */
  private async alreadyStored(batch: Batch, partition: number): Promise<boolean> {
    const { stream, topic, gatewayId } = this.options;
    const pageSize = this.options.tailPageSize ?? Math.max(100, this.options.batch.maxReadings + 1);
    let page = await this.client.poll(stream, topic, {
      partition,
      strategy: { kind: "last" },
      count: pageSize,
    });
    for (let pages = 0; pages < TAIL_MAX_PAGES; pages++) {
      for (let i = page.messages.length - 1; i >= 0; i--) {
        const envelope = readEnvelope(page.messages[i]!);
        if (envelope.gateway !== gatewayId) continue;
        if (envelope.firstSeq === undefined) continue;
        return envelope.firstSeq >= batch.firstSeq;
      }
      const oldest = page.messages[0]?.offset;
      if (oldest === undefined || oldest === 0n) return false;
      const from = oldest > BigInt(pageSize) ? oldest - BigInt(pageSize) : 0n;
      page = await this.client.poll(stream, topic, {
        partition,
        strategy: { kind: "offset", value: from },
        count: Number(oldest - from),
      });
    }
    this.log.warn(
      { first_seq: batch.firstSeq },
      "no batch of this gateway in the partition's recent tail; resending",
    );
    return false;
  }

  private confirmed(batch: Batch): void {
    this.retry.reset();
    this.restartDelay.reset();
    this.defects = 0;
    if (this.lastError !== null) this.log.info("sending to Iggy again");
    this.lastError = null;
    this.lastConfirmedAt = Date.now();
    this.batchesSent++;
    this.readingsSent += batch.readings.length;
    this.options.metrics?.forwardBatches.inc({ result: "ok" });
    this.options.metrics?.readingsForwarded.inc(batch.readings.length);
    this.options.onConfirmed?.(batch);
  }

  /** Runs a step that talks to Iggy; on an Iggy failure records it, backs off, and returns false. */
  private async attempt(what: string, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (e) {
      if (classifyFailure(e, this.buffer) !== "iggy") throw e;
      if (e instanceof IggyServerError && e.reason === "missing_target") this.partition = null;
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
