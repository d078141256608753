// The command router: reads the gateway's own partition of the commands topic with a consumer offset
// stored in Iggy under the gateway id, checks each command, runs it through the adapter that owns
// the device (one lane per device), publishes a result for every command, and stores the offset
// only after the results of every command up to it are published. A crash re-reads commands whose
// offset was not stored; the ledger answers them with their earlier result without writing again.
import type { Logger } from "pino";
import type { AnyDeviceConfig } from "../../config/schema.js";
import type { ProtocolAdapter } from "../../protocols/adapter.js";
import { Backoff } from "../../protocols/backoff.js";
import { protocolPlugin } from "../../protocols/registry.js";
import { sleep, Waker } from "../../protocols/sleep.js";
import { gatewayPartition } from "../envelope.js";
import {
  IggyClosedError,
  IggyServerError,
  type Consumer,
  type IggyClient,
  type PolledMessage,
  type PollOptions,
} from "../iggy/index.js";
import { DeviceLanes, withTimeout } from "./lanes.js";
import { valueText, type CommandLedger, type Known } from "./ledger.js";
import {
  decodeCommand,
  resultMessage,
  type Command,
  type CommandCodec,
  type CommandResult,
} from "./message.js";
import { expiry, validate } from "./validate.js";

export interface CommandRouterOptions {
  gatewayId: string;
  client: IggyClient;
  ledger: CommandLedger;
  stream: string;
  commandsTopic: string;
  resultsTopic: string;
  createMissing: boolean;
  /** Partitions of a topic the router creates. */
  partitions: number;
  pollMs: number;
  pollCount: number;
  timeoutMs: number;
  idempotencyMs: number;
  maxPending: number;
  /** The device map in force (it changes on SIGHUP). */
  devices: () => readonly AnyDeviceConfig[];
  /** The running adapter of a protocol, if any. */
  adapterFor: (protocol: string) => ProtocolAdapter | undefined;
  /** Counts a command by result (ok, rejected, failed, expired, duplicate). */
  count: (result: string) => void;
  log: Logger;
}

/** A command as the status page shows it. */
export interface RecentCommand {
  id: string;
  device?: string;
  point?: string;
  value?: string;
  status: CommandResult["status"];
  error?: string;
  at: number;
  repeat: boolean;
}

const RECENT_KEPT = 20;
const PRUNE_EVERY_MS = 3_600_000;

/** The router cannot use a topic as it is (missing while create_missing is off, or without partitions). */
export class CommandTopicError extends Error {
  override name = "CommandTopicError";
}

export class CommandRouter {
  private readonly lanes = new DeviceLanes();
  private readonly waker = new Waker();
  private readonly abort = new AbortController();
  private readonly pollBackoff = new Backoff({ initialMs: 100, maxMs: 10_000 });
  private readonly publishBackoff = new Backoff({ initialMs: 100, maxMs: 10_000 });
  private readonly consumer: Consumer;
  private loop: Promise<void> | null = null;
  private lastPoll: (PollOptions & { strategy: { kind: "offset"; value: bigint } }) | null = null;
  private stopping = false;
  private partition: number | null = null;
  private resultsPartition: number | null = null;
  /** The next offset to read, once known. */
  private next: bigint | null = null;
  /** Commands read and not yet answered, in read order. */
  private readonly window: { offset: bigint; done: boolean }[] = [];
  private readonly handling = new Set<Promise<void>>();
  private readonly inflight = new Map<string, Promise<CommandResult | null>>();
  private stored: bigint | null = null;
  private toStore: bigint | null = null;
  private storing: Promise<void> | null = null;
  private pruneTimer: NodeJS.Timeout | null = null;
  private readonly recentList: RecentCommand[] = [];
  private lastError: string | null = null;

  constructor(private readonly o: CommandRouterOptions) {
    this.consumer = { kind: "consumer", id: o.gatewayId };
  }

  start(): void {
    this.prune();
    this.pruneTimer = setInterval(() => this.prune(), PRUNE_EVERY_MS);
    this.pruneTimer.unref();
    this.loop = this.run();
  }

  /** Stops reading, lets the commands under way finish (bounded by the write time limit), closes. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.waker.wake();
    if (this.pruneTimer) clearInterval(this.pruneTimer);
    // The reading loop may wait inside the client for a connection: only closing the client ends
    // that wait, so the commands under way finish first (their publishing needs the client).
    const underWay = Promise.allSettled([...this.handling]);
    const limit = new AbortController();
    await Promise.race([underWay, sleep(this.o.timeoutMs, limit.signal)]);
    limit.abort();
    this.abort.abort();
    await this.o.client.close();
    // Commands still waiting in a stuck device's lane are not waited for: unanswered, they are read again.
    await Promise.all([this.loop, this.storing]);
  }

  /** The last commands answered, newest last. */
  recent(): RecentCommand[] {
    return [...this.recentList];
  }

  status(): {
    partition: number | null;
    next_offset: string | null;
    stored_offset: string | null;
    pending: number;
    error: string | null;
  } {
    return {
      partition: this.partition,
      next_offset: this.next?.toString() ?? null,
      stored_offset: this.stored?.toString() ?? null,
      pending: this.window.length,
      error: this.lastError,
    };
  }

  private prune(): void {
    try {
      this.o.ledger.prune(Date.now() - this.o.idempotencyMs);
    } catch (e) {
      this.o.log.error({ err: e }, "cannot prune the command ledger");
    }
  }

  // ---- reading ----------------------------------------------------------------------------------

  private async topicPartition(topic: string): Promise<number> {
    const { client, stream, createMissing, partitions } = this.o;
    const info = createMissing
      ? (await client.ensureStream(stream), await client.ensureTopic(stream, topic, { partitions }))
      : await client.getTopic(stream, topic);
    if (info === null) {
      throw new CommandTopicError(`topic ${stream}/${topic} does not exist (iggy.create_missing is off)`);
    }
    if (info.partitionsCount < 1) throw new CommandTopicError(`topic ${stream}/${topic} has no partitions`);
    return gatewayPartition(this.o.gatewayId, info.partitionsCount);
  }

  private async prepare(): Promise<void> {
    const { client, stream, commandsTopic } = this.o;
    const partition = await this.topicPartition(commandsTopic);
    // The results topic is made (or looked up) now, so that a sender can wait on it before the first
    // result; when it is missing, publishing looks again.
    try {
      this.resultsPartition = await this.topicPartition(this.o.resultsTopic);
    } catch (e) {
      if (!(e instanceof CommandTopicError)) throw e;
      this.o.log.warn({ err: e.message }, "results cannot be published yet");
    }
    if (this.next === null || this.window.length === 0) {
      const offset = await client.getConsumerOffset(stream, commandsTopic, this.consumer, partition);
      this.next = offset === null ? 0n : offset.storedOffset + 1n;
      this.stored = offset?.storedOffset ?? null;
    }
    this.partition = partition;
    this.o.log.info(
      { stream, topic: commandsTopic, partition, from_offset: this.next.toString() },
      "reading commands",
    );
  }

  private async run(): Promise<void> {
    const { client, stream, commandsTopic, pollMs, pollCount, maxPending, log } = this.o;
    while (!this.stopping) {
      try {
        if (this.partition === null || this.next === null) await this.prepare();
        if (this.window.length >= maxPending) {
          await this.waker.sleep(pollMs);
          continue;
        }
        const batch = await client.poll(
          stream,
          commandsTopic,
          this.pollOptions(Math.min(pollCount, maxPending - this.window.length)),
        );
        this.pollBackoff.reset();
        this.lastError = null;
        let fresh = 0;
        for (const m of batch.messages) {
          if (m.offset < this.next!) continue;
          this.next = m.offset + 1n;
          fresh++;
          this.dispatch(m);
        }
        if (fresh === 0) await this.waker.sleep(pollMs);
      } catch (e) {
        if (e instanceof IggyClosedError || this.stopping) break;
        if (e instanceof IggyServerError && e.reason === "missing_target") this.partition = null;
        this.lastError = (e as Error).message;
        const delay = this.pollBackoff.next();
        log.warn({ err: this.lastError, retry_in_ms: Math.round(delay) }, "cannot read commands; retrying");
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** The options of the next poll: the last ones again while nothing changed (an idle gateway's polls). */
  private pollOptions(count: number): PollOptions {
    const last = this.lastPoll;
    if (
      last !== null &&
      last.partition === this.partition &&
      last.strategy.value === this.next &&
      last.count === count
    )
      return last;
    const options = {
      consumer: this.consumer,
      partition: this.partition!,
      strategy: { kind: "offset", value: this.next! } as const,
      count,
    };
    this.lastPoll = options;
    return options;
  }

  private dispatch(m: PolledMessage): void {
    const entry = { offset: m.offset, done: false };
    this.window.push(entry);
    const task = this.handle(m)
      .catch((e: unknown) => this.answerDefect(m, e))
      .then((answered) => {
        entry.done = answered;
      })
      .catch((e: unknown) => {
        // Not even a `failed` result could be published: the command is passed over rather than
        // holding every later command's offset.
        this.o.log.error(
          { err: e, offset: String(m.offset) },
          "cannot answer a command after an internal error; passed over without a result",
        );
        entry.done = true;
      })
      .finally(() => {
        this.handling.delete(task);
        this.advance();
      });
    this.handling.add(task);
  }

  // ---- answering --------------------------------------------------------------------------------

  /** True once the command's result is published. */
  private async handle(m: PolledMessage): Promise<boolean> {
    const decoded = decodeCommand(m);
    if (!decoded.ok) {
      const result: CommandResult = {
        id: decoded.id,
        status: "rejected",
        error: decoded.reason,
        at: Date.now(),
      };
      const known = decoded.id === "" ? null : this.o.ledger.known(decoded.id);
      if (known !== null && "result" in known)
        return this.publish(this.repeat({ id: decoded.id }, known.result), decoded.codec);
      this.answered({ id: decoded.id }, result);
      return this.publish(result, decoded.codec);
    }
    const { command, codec } = decoded;
    const earlier = this.inflight.get(command.id);
    if (earlier !== undefined) {
      const result = await earlier;
      return result !== null && this.publish(this.repeat(command, result), codec);
    }
    const deciding = this.decide(command);
    this.inflight.set(command.id, deciding);
    try {
      const result = await deciding;
      return result !== null && (await this.publish(result, codec));
    } finally {
      this.inflight.delete(command.id);
    }
  }

  /**
   * An internal error while handling a command (the router's, not the device's): the command is
   * answered `failed` with the error, audited, and its offset can be stored. True once published.
   */
  private async answerDefect(m: PolledMessage, e: unknown): Promise<boolean> {
    const message = e instanceof Error ? e.message : String(e);
    this.o.log.error({ err: e, offset: String(m.offset) }, "internal error while handling a command");
    const decoded = decodeCommand(m);
    const command: Partial<Command> & { id: string } = decoded.ok ? decoded.command : { id: decoded.id };
    let known: Known = null;
    try {
      known = command.id === "" ? null : this.o.ledger.known(command.id);
    } catch (ledgerError) {
      this.o.log.error({ err: ledgerError, command: command.id }, "cannot read the command ledger");
    }
    // Answered before the error (while publishing, say): that result stands.
    if (known !== null && "result" in known)
      return this.publish(this.repeat(command, known.result), decoded.codec);
    const begun = known !== null ? "; its write had begun, so whether the device took it is unknown" : "";
    const result: CommandResult = {
      id: command.id,
      status: "failed",
      error: `internal error in the gateway: ${message}${begun}`,
      at: Date.now(),
    };
    try {
      this.answered(command, result);
    } catch (ledgerError) {
      // The ledger may be what failed: the result is logged, counted and published all the same.
      this.o.log.error({ err: ledgerError, command: command.id }, "cannot record a command's result");
      this.note(command, result, false);
    }
    return this.publish(result, decoded.codec);
  }

  /** The command's result: from the ledger, from a refusal, or from the device. */
  private async decide(command: Command): Promise<CommandResult> {
    const known = this.o.ledger.known(command.id);
    if (known !== null && "result" in known) return this.repeat(command, known.result);
    const now = Date.now();
    if (known !== null) {
      return this.answered(command, {
        id: command.id,
        status: "failed",
        error: `the gateway stopped while this command's write was under way (begun ${new Date(known.begunAt).toISOString()}); whether the device took it is unknown, so it is not written again`,
        at: now,
      });
    }
    const checked = validate(command, this.o.devices(), this.o.gatewayId, now);
    if ("status" in checked) return this.answered(command, { id: command.id, ...checked, at: now });
    const device = checked.device;
    return new Promise<CommandResult>((resolve, reject) => {
      void this.lanes.run(device.id, async () => {
        try {
          const { result, settled } = await this.execute(command, device);
          resolve(result);
          await settled;
        } catch (e) {
          reject(e as Error);
        }
      });
    });
  }

  private async execute(
    command: Command,
    device: AnyDeviceConfig,
  ): Promise<{ result: CommandResult; settled: Promise<void> }> {
    const done = Promise.resolve();
    const late = expiry(command, Date.now());
    if (late !== null)
      return { result: this.answered(command, { id: command.id, ...late, at: Date.now() }), settled: done };
    const adapter = this.o.adapterFor(device.protocol);
    const title = protocolPlugin(device.protocol)?.title ?? device.protocol;
    if (adapter === undefined) {
      const result = this.answered(command, {
        id: command.id,
        status: "failed",
        error: `the ${title} adapter of device ${device.id} is not running (see the gateway's status page)`,
        at: Date.now(),
      });
      return { result, settled: done };
    }
    if (adapter.write === undefined) {
      const result = this.answered(command, {
        id: command.id,
        status: "rejected",
        error: `${title} devices cannot be written by this version of iggy-edge`,
        at: Date.now(),
      });
      return { result, settled: done };
    }
    this.o.ledger.begin(command.id, Date.now());
    await this.o.ledger.durable();
    const write = Promise.resolve().then(() =>
      adapter.write!({ device: command.device, point: command.point }, command.value),
    );
    const { outcome, settled } = withTimeout(write, this.o.timeoutMs);
    let result: CommandResult;
    try {
      await outcome;
      result = { id: command.id, status: "ok", at: Date.now() };
    } catch (e) {
      result = { id: command.id, status: "failed", error: (e as Error).message, at: Date.now() };
    }
    return { result: this.answered(command, result), settled };
  }

  /** Records a first answer: ledger, audit, log line, metric, status page. */
  private answered(command: Partial<Command> & { id: string }, result: CommandResult): CommandResult {
    this.o.ledger.answer(command, result);
    this.note(command, result, false);
    return result;
  }

  /** A command seen before, answered with its earlier result. */
  private repeat(command: Partial<Command> & { id: string }, result: CommandResult): CommandResult {
    this.o.ledger.answer(command, result, true);
    this.note(command, result, true);
    return result;
  }

  private note(command: Partial<Command> & { id: string }, result: CommandResult, repeat: boolean): void {
    const value = command.value === undefined ? undefined : valueText(command.value);
    const line = {
      command: result.id,
      device: command.device,
      point: command.point,
      value,
      result: result.status,
      ...(result.error === undefined ? {} : { error: result.error }),
      ...(repeat ? { repeat: true } : {}),
    };
    const message = repeat ? "command seen before: answered with its earlier result" : "command answered";
    if (result.status === "ok" || repeat) this.o.log.info(line, message);
    else this.o.log.warn(line, message);
    this.o.count(repeat ? "duplicate" : result.status);
    this.recentList.push({
      id: result.id,
      ...(command.device === undefined ? {} : { device: command.device }),
      ...(command.point === undefined ? {} : { point: command.point }),
      ...(value === undefined ? {} : { value }),
      status: result.status,
      ...(result.error === undefined ? {} : { error: result.error }),
      at: result.at,
      repeat,
    });
    if (this.recentList.length > RECENT_KEPT) this.recentList.shift();
  }

  /** Publishes a result, retrying until Iggy confirms it; false if the router stopped first. */
  private async publish(result: CommandResult, codec: CommandCodec): Promise<boolean> {
    const { client, stream, resultsTopic, gatewayId, log } = this.o;
    try {
      // The answer survives a power cut before anyone learns of it.
      await this.o.ledger.durable();
    } catch (e) {
      log.error(
        { err: e, command: result.id },
        "cannot make the command ledger durable; publishing the result anyway",
      );
    }
    const message = resultMessage(result, gatewayId, codec);
    while (!this.abort.signal.aborted) {
      let problem: string;
      try {
        this.resultsPartition ??= await this.topicPartition(resultsTopic);
        const outcome = await client.send(stream, resultsTopic, [message], {
          partitioning: { kind: "partition", id: this.resultsPartition },
        });
        if (outcome.status === "confirmed") {
          this.publishBackoff.reset();
          return true;
        }
        if (outcome.status === "rejected" && outcome.error.reason === "missing_target")
          this.resultsPartition = null;
        problem = outcome.error.message;
      } catch (e) {
        if (e instanceof IggyClosedError) return false;
        if (e instanceof IggyServerError && e.reason === "missing_target") this.resultsPartition = null;
        problem = (e as Error).message;
      }
      const delay = this.publishBackoff.next();
      log.warn(
        { command: result.id, err: problem, retry_in_ms: Math.round(delay) },
        "cannot publish a command's result; retrying",
      );
      await sleep(delay, this.abort.signal);
    }
    return false;
  }

  // ---- the stored offset ------------------------------------------------------------------------

  /** Moves the offset to store past every answered command at the head of the window. */
  private advance(): void {
    let last: bigint | null = null;
    while (this.window.length > 0 && this.window[0]!.done) last = this.window.shift()!.offset;
    if (last === null) return;
    this.toStore = last;
    this.storing ??= this.storeLoop().finally(() => (this.storing = null));
  }

  private async storeLoop(): Promise<void> {
    const { client, stream, commandsTopic, log } = this.o;
    const backoff = new Backoff({ initialMs: 100, maxMs: 10_000 });
    while (this.toStore !== null && (this.stored === null || this.toStore > this.stored)) {
      const offset = this.toStore;
      const partition = this.partition;
      if (partition === null) return;
      try {
        await client.storeConsumerOffset(stream, commandsTopic, this.consumer, partition, offset);
        this.stored = offset;
        backoff.reset();
      } catch (e) {
        if (e instanceof IggyClosedError || this.abort.signal.aborted) return;
        const delay = backoff.next();
        log.warn(
          { err: (e as Error).message, offset: String(offset) },
          "cannot store the commands offset; retrying",
        );
        await sleep(delay, this.abort.signal);
      }
    }
  }
}
