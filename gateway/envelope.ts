// The gateway's envelope around its Iggy messages (DESIGN.md, "The outside contract"): the
// deterministic message id, the user headers, the partition a gateway uses, and reading them back.
// The forwarder, `tail` and the command router build and read messages only through this module;
// the Iggy client stays generic and knows nothing of these headers.
import type { Batch } from "../buffer/index.js";
import type { Codec } from "./codecs/index.js";
import { decodeJsonReading } from "./codecs/json-codec.js";
import { codecByName } from "./codecs/index.js";
import { header, partitionForKey, xxh3_64, type OutgoingMessage, type PolledMessage } from "./iggy/index.js";
import type { Reading } from "../protocols/adapter.js";

/** What the user headers of a gateway's message say; a field is absent when its header is. */
export interface Envelope {
  codec?: string;
  schema?: number;
  gateway?: string;
  firstSeq?: number;
  count?: number;
}

/**
 * The partition of `gatewayId` in a topic of `partitionsCount` partitions: XXH32 of the id modulo
 * the count, what Iggy's messages-key partitioning would pick. Telemetry and commands both use it.
 */
export function gatewayPartition(gatewayId: string, partitionsCount: number): number {
  return partitionForKey(gatewayId, partitionsCount);
}

/** 64-bit hash of a gateway id (XXH3-64 of its UTF-8 bytes, seed 0). */
export function gatewayHash(gatewayId: string): bigint {
  return xxh3_64(Buffer.from(gatewayId, "utf8"));
}

/** The 128-bit message id of a batch: (64-bit hash of gateway id) << 64 | first_seq. */
export function batchMessageId(gatewayId: string, firstSeq: bigint): bigint {
  if (firstSeq < 0n || firstSeq >> 64n !== 0n) throw new RangeError(`first_seq ${firstSeq} is not a u64`);
  return (gatewayHash(gatewayId) << 64n) | firstSeq;
}

/**
 * The Iggy messages that carry one leased batch: the codec's payloads (one for the binary codecs,
 * one per reading for JSON), each with the batch's headers and the id of its first sequence. A
 * resend of the same batch yields the same ids and bytes.
 */
export function batchMessages(gatewayId: string, codec: Codec, batch: Batch): OutgoingMessage[] {
  const payloads = codec.encode({
    gateway: gatewayId,
    firstSeq: batch.firstSeq,
    columns: batch.columns,
    // Built only for a codec that needs the objects.
    get readings() {
      return batch.readings;
    },
  });
  const headers = new Map([
    ["codec", header.string(codec.name)],
    ["schema", header.uint32(codec.schema)],
    ["gateway", header.string(gatewayId)],
    ["first_seq", header.uint64(BigInt(batch.firstSeq))],
    ["count", header.uint32(batch.count)],
  ]);
  return payloads.map((payload, i) => ({
    id: batchMessageId(gatewayId, BigInt(batch.firstSeq + i)),
    payload,
    headers,
  }));
}

/** A header as text: a string header's value, a raw header's bytes as UTF-8, a number in decimal. */
function headerText(m: PolledMessage, key: string): string | undefined {
  const h = m.headers.get(key);
  if (!h) return undefined;
  return h.kind === "raw" ? Buffer.from(h.value).toString() : String(h.value);
}

/** A numeric header as a number (64-bit ones included). */
function headerNumber(m: PolledMessage, key: string): number | undefined {
  const h = m.headers.get(key);
  if (!h) return undefined;
  if (typeof h.value === "bigint") return Number(h.value);
  return typeof h.value === "number" ? h.value : undefined;
}

/** The envelope of a polled message, as far as its headers carry one. */
export function readEnvelope(m: PolledMessage): Envelope {
  const e: Envelope = {};
  const codec = headerText(m, "codec");
  const schema = headerNumber(m, "schema");
  const gateway = headerText(m, "gateway");
  const firstSeq = headerNumber(m, "first_seq");
  const count = headerNumber(m, "count");
  if (codec !== undefined) e.codec = codec;
  if (schema !== undefined) e.schema = schema;
  if (gateway !== undefined) e.gateway = gateway;
  if (firstSeq !== undefined) e.firstSeq = firstSeq;
  if (count !== undefined) e.count = count;
  return e;
}

/** One reading a message carries, with the gateway and buffer sequence it came from. */
export interface EnvelopedReading {
  seq: number;
  gateway: string;
  reading: Reading;
}

/** The readings one of the gateway's messages carries, in sequence order. */
export function readBatchMessage(m: PolledMessage): EnvelopedReading[] {
  const { codec } = readEnvelope(m);
  if (codec === undefined)
    throw new Error(`message at offset ${m.offset} has no codec header: not written by iggy-edge`);
  if (codec === "json") {
    const d = decodeJsonReading(m.payload);
    return [{ seq: d.seq, gateway: d.gateway, reading: d.reading }];
  }
  const batch = codecByName(codec).decode([m.payload]);
  return batch.readings.map((reading, i) => ({ seq: batch.firstSeq + i, gateway: batch.gateway, reading }));
}
