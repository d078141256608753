// The inbound side of a site connection. mqtt.js handles one incoming packet at a time and sends a
// QoS1 PUBACK only after the message was handled, so a client that acknowledges after the commit
// would ingest one message per commit. Instead, a tap between mqtt.js and its network stream takes
// every incoming PUBLISH (and PUBREL) out of the bytes before mqtt.js sees them, parses them with
// mqtt-packet, hands them to the buffer in groups while more arrive, and writes PUBACK/PUBREC/PUBCOMP
// itself: in the order the messages arrived, each after the commit that holds it, and only on the
// connection that delivered it. Everything else (CONNACK, SUBACK, PINGRESP, the acknowledgements of
// the gateway's own command publishes) passes to mqtt.js untouched, which keeps connecting,
// subscribing, keepalive and outgoing publishes.
//
// Order: groups of one connection are committed one after another, each in one emit, so a refused
// group leaves nothing after it committed; the connection is dropped and the broker sends the
// unacknowledged messages again, in their order.
// QoS2: an id stays known from its PUBLISH until its PUBREL (MQTT 4.3.3, method B), across
// reconnects of the session: a PUBLISH sent again under a known id is answered after the commit
// that holds the first one, not committed again. With `durableQos2` the ids are also committed with
// the readings of their messages (the buffer's marks) and read back at start, so a copy the broker
// sends again after a kill -9 is answered, not stored twice. A PUBREL's id is then removed in a
// commit before its PUBCOMP goes out (only after the PUBCOMP may the broker use the id again), and
// after a CONNACK without a session the stored ids are removed before any message is taken.
import { Duplex } from "node:stream";
import mqttPacket, { type IPublishPacket, type Packet, type Parser } from "mqtt-packet";

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  /** The broker hands over a retained message it stored earlier. */
  retain: boolean;
  /** An MQTT 5 message's content type and user properties. */
  properties?: {
    contentType?: string | undefined;
    userProperties?: Record<string, string | string[]> | undefined;
    /** An answer to a command: the correlation data the command carried. */
    correlationData?: Buffer | undefined;
  };
}

export interface InboundOptions {
  protocolVersion: 4 | 5;
  /** Messages held at once (taken, not yet acknowledged); further ones wait in the network. */
  maxInflight: number;
  /** Payload bytes held at once (one message is always taken). */
  maxHeldBytes: number;
  /** A PUBLISH whose body is larger is skipped as it streams in: acknowledged, never buffered. */
  maxPacketBytes: number;
  /**
   * Commits a group's readings in one go, with `qos2` (durableQos2: the QoS2 ids to keep and to
   * drop) in the same transaction; resolves after the commit, rejects if nothing was stored.
   * `messages` may be empty when only ids change.
   */
  commit(messages: InboundMessage[], qos2?: Qos2Changes): Promise<void>;
  /** Keep QoS2 ids durably (see above); without it they live in memory. */
  durableQos2?: boolean;
  /** Every message taken (a QoS2 copy sent again before its PUBREL is not), before its commit. */
  taken?(message: InboundMessage): void;
  /** A message larger than maxPacketBytes was skipped. */
  oversize(topic: string, bytes: number): void;
  /** A message was acknowledged `ms` after it arrived. */
  acknowledged(ms: number): void;
  /** The connection is dropped: the buffer refused a group, or the broker broke the protocol. */
  dropped(err: Error): void;
}

/** QoS2 ids to drop (`clearAll`: every one of the session; then `clear`) and to keep (`set`). */
export interface Qos2Changes {
  clearAll: boolean;
  clear: number[];
  set: number[];
}

/** mqtt.js's stream builder (its `streamBuilder`): makes the network stream of one connection. */
export type StreamBuilder<C = unknown> = (client: C, opts?: unknown) => Duplex;

const PUBLISH = 3;
const PUBREL = 6;
const CONNACK = 2;
const PUBACK = 4;
const PUBREC = 5;
const PUBCOMP = 7;
/**
 * PUBACK, PUBREC and PUBCOMP of success: type, remaining length 2, the message id. MQTT 5 allows
 * leaving out the reason code and properties when the reason is success (3.4.2.1, 3.5.2.1, 3.7.2.1).
 */
const ACK_BYTES = 4;

function writeAck(out: Buffer, at: number, type: number, messageId: number): void {
  out[at] = type << 4;
  out[at + 1] = 2;
  out.writeUInt16BE(messageId, at + 2);
}
/** Weight of the newest acknowledgement in the moving average of the delay. */
const EWMA_WEIGHT = 0.05;

/** What outlives one network connection: the QoS2 ids, the counters, the limits. */
export class InboundSession {
  /** QoS2 ids taken and not yet released by PUBREL, each with the commit of its message. */
  readonly qos2 = new Map<number, Promise<void>>();
  private tap: InboundTap | null = null;
  acknowledgedCount = 0;
  /** Moving average of the acknowledgement delay, ms. */
  ackDelayMs: number | null = null;
  /** QoS2 messages sent again before their PUBREL and answered without a second commit. */
  duplicates = 0;
  /** durableQos2: the stored ids must go (a CONNACK without a session) before a message is taken. */
  private resetPending = false;

  constructor(readonly options: InboundOptions) {}

  /** durableQos2: the ids stored by an earlier run, read back before the first connection. */
  restore(ids: Iterable<number>): void {
    for (const id of ids) this.qos2.set(id, Promise.resolve());
  }

  /** Wraps mqtt.js's stream builder so that each new connection gets a tap. */
  wrap<C>(build: StreamBuilder<C>): StreamBuilder<C> {
    return (client, opts) => {
      this.tap?.destroy();
      const tap = new InboundTap(build(client, opts), this);
      this.tap = tap;
      return tap;
    };
  }

  /** Messages of the current connection taken and not yet acknowledged. */
  get inflight(): number {
    return this.tap?.held ?? 0;
  }

  /**
   * Takes no more messages, and waits (at most `ms`) until those taken are committed and
   * acknowledged, so the broker need not send them again.
   */
  quiesce(ms: number): Promise<void> {
    return this.tap?.quiesce(ms) ?? Promise.resolve();
  }

  /**
   * A CONNACK that accepted the connection: without a session the broker forgot the QoS2 ids too.
   * Returns the commit that removes the stored ones, which must end before a message is taken.
   */
  connected(sessionPresent: boolean): Promise<void> | null {
    if (!sessionPresent) {
      this.qos2.clear();
      if (this.options.durableQos2 === true) this.resetPending = true;
    }
    if (!this.resetPending) return null;
    return this.options.commit([], { clearAll: true, clear: [], set: [] }).then(() => {
      this.resetPending = false;
    });
  }

  noteAck(ms: number): void {
    this.acknowledgedCount++;
    this.ackDelayMs = this.ackDelayMs === null ? ms : this.ackDelayMs + EWMA_WEIGHT * (ms - this.ackDelayMs);
    this.options.acknowledged(ms);
  }
}

interface Entry {
  qos: 0 | 1 | 2;
  messageId: number | undefined;
  bytes: number;
  /** performance.now() on arrival. */
  at: number;
  settled: boolean;
  /** QoS2: settles the promise the session keeps under the message's id. */
  outcome?: { resolve(): void; reject(err: Error): void; promise: Promise<void> };
}

/** One network connection: mqtt.js reads and writes this stream; it reads and writes the socket. */
class InboundTap extends Duplex {
  /** Taken and not yet acknowledged, in arrival order. */
  private readonly order: Entry[] = [];
  private heldBytes = 0;
  /** Taken and not yet handed to the buffer. */
  private waiting: { entry: Entry; message: InboundMessage }[] = [];
  private committing = false;
  private pumpScheduled = false;
  /** Bytes not yet split into packets, from `pos`. */
  private acc: Buffer = Buffer.alloc(0);
  private pos = 0;
  /** Bytes of a skipped (too large) packet still to come. */
  private skip = 0;
  private readonly parser: Parser;
  private parsed: Packet | null = null;
  /** mqtt.js reads slower than the socket delivers. */
  private readBlocked = false;
  /** As many messages held as allowed. */
  private capped = false;
  /** Quiescing: no more messages are taken. */
  private closing = false;
  /** Nothing is taken until the stored QoS2 ids of a forgotten session are removed. */
  private blocked = false;
  /** durableQos2: ids of PUBRELs whose removal is not committed yet; their PUBCOMP waits for it. */
  private releases: number[] = [];
  private idle: (() => void) | null = null;

  constructor(
    private readonly inner: Duplex,
    private readonly session: InboundSession,
  ) {
    super({ allowHalfOpen: false });
    this.parser = mqttPacket.parser({ protocolVersion: session.options.protocolVersion });
    this.parser.on("packet", (p: Packet) => (this.parsed = p));
    this.parser.on("error", (e: Error) =>
      this.fail(new Error(`malformed packet from the broker: ${e.message}`)),
    );
    inner.on("data", (b: Buffer) => this.onBytes(b));
    inner.on("end", () => this.push(null));
    inner.on("error", (e: Error) => this.destroy(e));
    inner.on("close", () => this.destroy());
  }

  get held(): number {
    return this.order.length;
  }

  override _read(): void {
    this.readBlocked = false;
    this.flow();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.inner.write(chunk)) cb();
    else this.inner.once("drain", () => cb());
  }

  override _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void {
    let ok = true;
    for (const { chunk } of chunks) ok = this.inner.write(chunk);
    if (ok) cb();
    else this.inner.once("drain", () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.inner.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Messages not yet handed to the buffer are left to the broker, which sends them again.
    for (const { entry } of this.waiting) this.forget(entry, new Error("the connection closed"));
    this.waiting = [];
    this.inner.destroy();
    this.idle?.();
    cb(err);
  }

  quiesce(ms: number): Promise<void> {
    this.closing = true;
    this.flow();
    if (this.order.length === 0 || this.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.idle = done;
    });
  }

  private onBytes(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.acc = this.pos < this.acc.length ? Buffer.concat([this.acc.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
    this.split();
  }

  /** Splits the bytes into packets: takes PUBLISH and PUBREL, passes the rest on to mqtt.js. */
  private split(): void {
    const { maxInflight, maxHeldBytes, maxPacketBytes } = this.session.options;
    const pass: Buffer[] = [];
    const b = this.acc;
    while (this.skip === 0 && !this.destroyed && !this.blocked) {
      const off = this.pos;
      if (b.length - off < 2) break;
      // Fixed header: type and flags, then the remaining length in 1-4 bytes of 7 bits.
      let length = 0;
      let mul = 1;
      let i = off + 1;
      let complete = false;
      for (; i < b.length && i < off + 5; i++) {
        length += (b[i]! & 0x7f) * mul;
        mul *= 128;
        if ((b[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete) {
        if (i === off + 5) this.fail(new Error("malformed remaining length from the broker"));
        break;
      }
      const type = b[off]! >> 4;
      const total = i - off + length;
      if (type === PUBLISH && (this.closing || this.atCap(maxInflight, maxHeldBytes))) {
        this.capped = !this.closing;
        break;
      }
      if (length > maxPacketBytes) {
        if (type !== PUBLISH) {
          this.fail(
            new Error(
              `the broker sent a packet of type ${type} with ${length} bytes (limit ${maxPacketBytes})`,
            ),
          );
          break;
        }
        if (!this.takeOversize(b, off, i, length)) break;
        continue;
      }
      if (b.length - off < total) break;
      const frame = b.subarray(off, off + total);
      this.pos = off + total;
      if (type === PUBLISH || type === PUBREL) {
        const packet = this.parse(frame);
        if (packet === null) break;
        if (packet.cmd === "publish") this.takePublish(packet, total);
        else if (packet.cmd === "pubrel") this.release(packet.messageId!);
      } else {
        pass.push(frame);
        if (type === CONNACK && length >= 2 && frame[i - off + 1] === 0) {
          // Read here, before the redeliveries that follow it in the same bytes are taken.
          const reset = this.session.connected((frame[i - off]! & 1) === 1);
          if (reset !== null) {
            this.blocked = true;
            reset.then(
              () => {
                this.blocked = false;
                this.split();
              },
              (err: Error) => this.fail(err),
            );
          }
        }
      }
    }
    if (pass.length > 0 && !this.push(pass.length === 1 ? pass[0] : Buffer.concat(pass))) {
      this.readBlocked = true;
    }
    this.flow();
  }

  private atCap(maxInflight: number, maxHeldBytes: number): boolean {
    return this.order.length > 0 && (this.order.length >= maxInflight || this.heldBytes >= maxHeldBytes);
  }

  private parse(frame: Buffer): Packet | null {
    this.parsed = null;
    this.parser.parse(frame);
    const p = this.parsed;
    if (p === null && !this.destroyed) this.fail(new Error("a packet from the broker did not parse"));
    return p;
  }

  /**
   * A PUBLISH over the size limit: its topic and id are read from the first bytes, the rest is
   * dropped as it arrives. It is acknowledged in its turn, and reported, but not stored.
   */
  private takeOversize(b: Buffer, off: number, bodyAt: number, length: number): boolean {
    const qos = ((b[off]! >> 1) & 3) as 0 | 1 | 2;
    if (b.length - bodyAt < 2) return false;
    const topicLength = b.readUInt16BE(bodyAt);
    const head = 2 + topicLength + (qos > 0 ? 2 : 0);
    if (b.length - bodyAt < head) return false;
    const topic = b.toString("utf8", bodyAt + 2, bodyAt + 2 + topicLength);
    const messageId = qos > 0 ? b.readUInt16BE(bodyAt + 2 + topicLength) : undefined;
    const available = Math.min(b.length - bodyAt, length);
    this.pos = bodyAt + available;
    this.skip = length - available;
    this.session.options.oversize(topic, length);
    const entry = this.enter(qos, messageId, 0);
    if (qos === 2 && messageId !== undefined && !this.session.qos2.has(messageId)) {
      this.session.qos2.set(messageId, Promise.resolve());
    }
    entry.settled = true;
    this.acknowledge();
    return true;
  }

  private takePublish(p: IPublishPacket, bytes: number): void {
    if (p.properties?.topicAlias !== undefined) {
      this.fail(new Error("the broker used a topic alias, though the gateway allows none"));
      return;
    }
    const qos = p.qos;
    const entry = this.enter(qos, p.messageId, bytes);
    if (qos === 2) {
      const id = p.messageId!;
      const known = this.session.qos2.get(id);
      if (known !== undefined) {
        // Sent again before its PUBREL: answered after the commit that holds the first copy.
        this.session.duplicates++;
        known.then(
          () => {
            entry.settled = true;
            this.acknowledge();
          },
          (err: Error) => this.fail(err),
        );
        return;
      }
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {});
      entry.outcome = { resolve, reject, promise };
      this.session.qos2.set(id, promise);
    }
    const payload = typeof p.payload === "string" ? Buffer.from(p.payload) : p.payload;
    const properties =
      p.properties === undefined
        ? undefined
        : {
            contentType: p.properties.contentType,
            userProperties: p.properties.userProperties,
            correlationData: p.properties.correlationData,
          };
    const message: InboundMessage = { topic: p.topic, payload, qos, retain: p.retain, properties };
    this.session.options.taken?.(message);
    this.waiting.push({ entry, message });
    this.schedulePump();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.committing) return;
    this.pumpScheduled = true;
    // Everything that arrives in this turn of the event loop goes into the same group.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private enter(qos: 0 | 1 | 2, messageId: number | undefined, bytes: number): Entry {
    const entry: Entry = { qos, messageId, bytes, at: performance.now(), settled: false };
    this.order.push(entry);
    this.heldBytes += bytes;
    return entry;
  }

  /** Hands what waits to the buffer, one group at a time. */
  private pump(): void {
    if (this.committing || this.destroyed) return;
    if (this.waiting.length === 0 && this.releases.length === 0) return;
    const group = this.waiting;
    const released = this.releases;
    this.waiting = [];
    this.releases = [];
    this.committing = true;
    const qos2: Qos2Changes | undefined =
      this.session.options.durableQos2 === true
        ? {
            clearAll: false,
            clear: released,
            set: group.flatMap(({ entry }) => (entry.outcome !== undefined ? [entry.messageId!] : [])),
          }
        : undefined;
    const keep = qos2 !== undefined && (qos2.set.length > 0 || qos2.clear.length > 0) ? qos2 : undefined;
    this.session.options
      .commit(
        group.map((g) => g.message),
        keep,
      )
      .then(
        () => {
          this.committing = false;
          for (const { entry } of group) {
            entry.settled = true;
            entry.outcome?.resolve();
          }
          this.acknowledge();
          this.complete(released);
          this.pump();
        },
        (err: Error) => {
          this.committing = false;
          for (const { entry } of group) this.forget(entry, err);
          this.fail(err);
        },
      );
  }

  /** A QoS2 message that was not stored: its id must not answer a later copy. */
  private forget(entry: Entry, err: Error): void {
    if (entry.outcome === undefined) return;
    if (this.session.qos2.get(entry.messageId!) === entry.outcome.promise) {
      this.session.qos2.delete(entry.messageId!);
    }
    entry.outcome.reject(err);
  }

  /** Writes the acknowledgements now due: in arrival order, each once its commit is done. */
  private acknowledge(): void {
    const now = performance.now();
    const due: Entry[] = [];
    while (this.order.length > 0 && this.order[0]!.settled) {
      const e = this.order.shift()!;
      this.heldBytes -= e.bytes;
      if (e.qos !== 0) due.push(e);
    }
    if (due.length > 0 && !this.destroyed && !this.writableEnded) {
      // All of them in one write: a commit often settles thousands.
      const out = Buffer.allocUnsafe(due.length * ACK_BYTES);
      due.forEach((e, i) => writeAck(out, i * ACK_BYTES, e.qos === 1 ? PUBACK : PUBREC, e.messageId!));
      this.write(out);
      for (const e of due) this.session.noteAck(now - e.at);
    }
    if (this.order.length === 0) this.idle?.();
    if (this.capped) {
      this.capped = false;
      this.split(); // the packets held back at the limit
    } else {
      this.flow();
    }
  }

  private release(messageId: number): void {
    // The broker has our PUBREC and will not send that message again.
    this.session.qos2.delete(messageId);
    if (this.session.options.durableQos2 === true) {
      // The stored id goes first: after the PUBCOMP the broker may give it to another message.
      this.releases.push(messageId);
      this.schedulePump();
      return;
    }
    this.complete([messageId]);
  }

  /** PUBCOMP for each id, in one write. */
  private complete(ids: number[]): void {
    if (ids.length === 0 || this.destroyed || this.writableEnded) return;
    const out = Buffer.allocUnsafe(ids.length * ACK_BYTES);
    ids.forEach((id, i) => writeAck(out, i * ACK_BYTES, PUBCOMP, id));
    this.write(out);
  }

  private flow(): void {
    if (this.destroyed) return;
    if (this.readBlocked || this.capped || this.closing || this.blocked) this.inner.pause();
    else this.inner.resume();
  }

  private fail(err: Error): void {
    if (this.destroyed) return;
    this.session.options.dropped(err);
    this.destroy();
  }
}
