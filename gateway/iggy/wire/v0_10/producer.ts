// The idempotent producer of a 0.10 client: producer ids, epochs and per-partition sequences that
// outlive a connection, so a resend after a lost reply (or a reconnect) carries the same producer
// section and the partition writes it once.
//
// Rules, as the Rust SDK 0.11.1-edge.9 (`producer_idempotence.rs`, `session_owner/producer_ids.rs`)
// and iggy_binary_protocol's `batch.rs` / iggy_common's error catalog state them:
// - a producer id is minted by the client: `session << 20 | index`, where session is the login's
//   session epoch (unique per server); ids stay valid after a reconnect;
// - each stream/topic spelling gets its own id; sequences count per partition, batches of one
//   partition go one at a time; base_sequence is the sequence of the batch's first message;
// - a partition answers a duplicate with success (the original receipt); 92 out of order,
//   93 fenced (a newer epoch wrote), 94 unknown producer (batch must start at 0 in a new epoch);
// - after a batch fails for good the next one starts a new epoch at sequence 0, so it never
//   follows a hole.
import type { Identifier } from "../../types.js";
import type { ProducerSection } from "../generation.js";

export const EPOCH_MAX = 0x7fff;
export const SEQUENCE_MAX = 0x7fffffff;
const IDS_PER_SESSION = 1n << 20n;

export const PRODUCER_OUT_OF_ORDER = 92;
export const PRODUCER_FENCED = 93;
export const PRODUCER_UNKNOWN = 94;

interface Identity {
  producerId: bigint;
  epoch: number;
}

interface Sequence {
  producerId: bigint;
  epoch: number;
  next: number;
}

/** A batch written whose outcome is unknown: a resend of the same batch must reuse its section. */
interface Unresolved {
  section: ProducerSection;
  fingerprint: string;
}

export function advance(sequence: number, by: number): number {
  return (sequence + by) % (SEQUENCE_MAX + 1);
}

const spell = (id: Identifier): string => (typeof id === "number" ? `#${id}` : `:${id}`);

export function fingerprint(messages: { id?: bigint; payload: Uint8Array }[]): string {
  let bytes = 0;
  for (const m of messages) bytes += m.payload.length;
  return `${messages.length}/${messages[0]?.id ?? 0n}/${messages[messages.length - 1]?.id ?? 0n}/${bytes}`;
}

export class ProducerState {
  enabled = true;
  private readonly identities = new Map<string, Identity>();
  private readonly sequences = new Map<string, Sequence>();
  private readonly unresolved = new Map<string, Unresolved>();
  private mintSession = 0n;
  private mintIndex = 0n;

  private mint(session: bigint): bigint {
    if (session === 0n) throw new Error("a producer id needs a logged-in session");
    if (session !== this.mintSession || this.mintIndex >= IDS_PER_SESSION) {
      if (session === this.mintSession) throw new Error("no producer ids left in this session");
      this.mintSession = session;
      this.mintIndex = 0n;
    }
    return (session << 20n) | this.mintIndex++;
  }

  static keys(
    stream: Identifier,
    topic: Identifier,
    partition: number,
  ): { topic: string; partition: string } {
    const t = `${spell(stream)}/${spell(topic)}`;
    return { topic: t, partition: `${t}/${partition}` };
  }

  /** The producer section of the next batch to `partition`. */
  section(
    stream: Identifier,
    topic: Identifier,
    partition: number,
    session: bigint,
    fp: string,
  ): { section: ProducerSection; partitionKey: string } {
    const k = ProducerState.keys(stream, topic, partition);
    let id = this.identities.get(k.topic);
    if (!id) {
      id = { producerId: this.mint(session), epoch: 0 };
      this.identities.set(k.topic, id);
    }
    const pending = this.unresolved.get(k.partition);
    if (pending) {
      if (pending.fingerprint === fp) return { section: pending.section, partitionKey: k.partition };
      // A different batch follows one whose outcome is unknown: start a new epoch.
      this.unresolved.delete(k.partition);
      this.nextEpoch(k.topic, pending.section);
    }
    let seq = this.sequences.get(k.partition);
    if (!seq || seq.producerId !== id.producerId || seq.epoch !== id.epoch) {
      seq = { producerId: id.producerId, epoch: id.epoch, next: 0 };
      this.sequences.set(k.partition, seq);
    }
    const section = { producerId: id.producerId, epoch: id.epoch, baseSequence: seq.next };
    this.unresolved.set(k.partition, { section, fingerprint: fp });
    return { section, partitionKey: k.partition };
  }

  /** The partition wrote the batch (or had it already). */
  confirmed(partitionKey: string, section: ProducerSection, count: number): void {
    this.unresolved.delete(partitionKey);
    const seq = this.sequences.get(partitionKey);
    if (seq && seq.producerId === section.producerId && seq.epoch === section.epoch)
      seq.next = advance(section.baseSequence, count);
  }

  /** The batch failed for good: the next batch starts a new epoch at 0. */
  failed(partitionKey: string, section: ProducerSection): void {
    this.unresolved.delete(partitionKey);
    this.nextEpoch(partitionKey.slice(0, partitionKey.lastIndexOf("/")), section);
  }

  private nextEpoch(topicKey: string, section: ProducerSection): void {
    const id = this.identities.get(topicKey);
    if (!id || id.producerId !== section.producerId || id.epoch !== section.epoch) return;
    if (id.epoch >= EPOCH_MAX) this.identities.delete(topicKey);
    else id.epoch++;
  }

  /** For tests and status: the section the next batch to this partition would carry. */
  peek(stream: Identifier, topic: Identifier, partition: number): ProducerSection | null {
    const k = ProducerState.keys(stream, topic, partition);
    const id = this.identities.get(k.topic);
    if (!id) return null;
    const seq = this.sequences.get(k.partition);
    const next = seq && seq.producerId === id.producerId && seq.epoch === id.epoch ? seq.next : 0;
    return { producerId: id.producerId, epoch: id.epoch, baseSequence: next };
  }
}
