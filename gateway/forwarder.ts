// Moves batches from the buffer into Iggy, one at a time and in order: lease, encode, send with the
// batch's deterministic message id, release only after Iggy confirmed. A batch whose fate is
// unknown (a crash or a lost reply after the request was written) is resent only after the tail
// of the gateway's partition shows it is not there yet.
import type { Logger } from "pino";
import type { Batch, ReadingBuffer } from "../buffer/index.js";
import type { Codec } from "./codecs/index.js";
import { batchMessages, gatewayPartition, readEnvelope } from "./envelope.js";
import { IggyClosedError, IggyServerError, type IggyClient } from "./iggy/index.js";
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
  /** Backoff between failed attempts. */
  retry?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Messages read per page when looking for the gateway's last batch in the partition. */
  tailPageSize?: number;
  /** Called after Iggy confirmed a batch and the buffer released it. */
  onConfirmed?: (batch: Batch) => void;
}

const TAIL_MAX_PAGES = 20;
const IDLE_RECHECK_MS = 1000;

export interface ForwarderStatus {
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
}

export class Forwarder {
  private partition: number | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private notified = 0;
  private firstNotifiedAt = 0;
  private backlog = true;
  private idle = false;
  private failures = 0;
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
    this.log = options.log;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run().catch((e: unknown) => {
      if (!(e instanceof IggyClosedError))
        this.log.error({ err: e }, "forwarder stopped on an unexpected error");
    });
  }

  /** New readings were committed to the buffer. */
  notify(count: number): void {
    if (this.notified === 0) this.firstNotifiedAt = Date.now();
    this.notified += count;
    if (this.idle || this.notified >= this.options.batch.maxReadings || this.options.batch.lingerMs === 0)
      this.wakeUp();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wakeUp();
    await this.loop;
  }

  status(): ForwarderStatus {
    return {
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
    };
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    while (this.running) {
      if (this.partition === null) {
        if (!(await this.attempt("set up the stream and topic", () => this.setUp()))) continue;
      }
      const batch = await this.nextBatch();
      if (batch) await this.deliver(batch);
    }
  }

  private async setUp(): Promise<void> {
    const { stream, topic, createMissing, partitions, gatewayId } = this.options;
    const topicInfo = createMissing
      ? (await this.client.ensureStream(stream), await this.client.ensureTopic(stream, topic, { partitions }))
      : await this.client.getTopic(stream, topic);
    if (!topicInfo)
      throw new Error(`topic ${stream}/${topic} does not exist (and iggy.create_missing is false)`);
    if (topicInfo.partitionsCount < 1) throw new Error(`topic ${stream}/${topic} has no partitions`);
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
        await this.sleep(IDLE_RECHECK_MS);
        this.idle = false;
      }
      if (this.notified > 0 && this.notified < maxReadings) {
        await this.sleep(this.firstNotifiedAt + lingerMs - Date.now());
      }
    }
    if (!this.running) return null;
    this.notified = 0;
    const { maxReadings, maxBytes } = this.options.batch;
    const batch = await this.buffer.lease({ maxReadings, maxBytes });
    this.backlog = batch !== null && batch.readings.length >= maxReadings;
    return batch;
  }

  private async deliver(batch: Batch): Promise<void> {
    const { stream, topic, gatewayId, codec } = this.options;
    const messages = batchMessages(gatewayId, codec, batch);
    // Leased before by a run that crashed (or handed back): it may be in Iggy already.
    let fateUnknown = batch.attempts > 1;
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
          return;
        }
      }
      let outcome;
      try {
        outcome = await this.client.send(stream, topic, messages, {
          partitioning: { kind: "partition", id: partition },
        });
      } catch (e) {
        if (e instanceof IggyClosedError) {
          this.running = false;
          break;
        }
        this.log.error({ err: e, first_seq: batch.firstSeq }, "batch cannot be sent: moved to dead letters");
        await this.buffer.deadLetter(batch.id, `cannot be encoded for Iggy: ${(e as Error).message}`);
        this.options.metrics?.forwardBatches.inc({ result: "dead_letter" });
        return;
      }
      switch (outcome.status) {
        case "confirmed":
          await this.buffer.release(batch.id);
          this.confirmed(batch);
          return;
        case "rejected": {
          const { code, reason } = outcome.error;
          if (reason === "invalid") {
            this.log.error(
              { code, first_seq: batch.firstSeq, count: batch.readings.length },
              `Iggy refused the batch: ${outcome.error.message}; moved to dead letters`,
            );
            await this.buffer.deadLetter(batch.id, outcome.error.message);
            this.options.metrics?.forwardBatches.inc({ result: "dead_letter" });
            return;
          }
          if (reason === "missing_target") this.partition = null;
          await this.failed(outcome.error.message);
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
    if (!fateUnknown) await this.buffer.requeue(batch.id).catch(() => undefined);
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
    this.failures = 0;
    if (this.lastError !== null) this.log.info("sending to Iggy again");
    this.lastError = null;
    this.lastConfirmedAt = Date.now();
    this.batchesSent++;
    this.readingsSent += batch.readings.length;
    this.options.metrics?.forwardBatches.inc({ result: "ok" });
    this.options.metrics?.readingsForwarded.inc(batch.readings.length);
    this.options.onConfirmed?.(batch);
  }

  /** Runs a step; on failure records it, backs off, and returns false. */
  private async attempt(what: string, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (e) {
      if (e instanceof IggyClosedError) {
        this.running = false;
        return false;
      }
      if (e instanceof IggyServerError && e.reason === "missing_target") this.partition = null;
      await this.failed(`cannot ${what}: ${(e as Error).message}`);
      return false;
    }
  }

  private async failed(message: string): Promise<void> {
    this.failures++;
    this.options.metrics?.forwardBatches.inc({ result: "retry" });
    // Logged when the reason changes, not on every retry of the same outage.
    if (message !== this.lastError) this.log.warn({ retry: this.failures }, message);
    this.lastError = message;
    const initial = this.options.retry?.initialDelayMs ?? 100;
    const max = this.options.retry?.maxDelayMs ?? 10_000;
    const base = Math.min(max, initial * 2 ** Math.min(this.failures - 1, 20));
    await this.sleep(base / 2 + Math.random() * (base / 2));
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0 || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private wakeUp(): void {
    this.wake?.();
  }
}
