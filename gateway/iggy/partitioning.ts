// How the gateway names its batches and picks its partition (see DESIGN.md, "The outside contract").
import { xxh3_64 } from "./hash/xxh3.js";
import { xxh32 } from "./hash/xxh32.js";

/** The partition Iggy's messages-key partitioning would choose: XXH32(key, seed 0) mod count. */
export function partitionForKey(key: Uint8Array | string, partitionsCount: number): number {
  if (!Number.isInteger(partitionsCount) || partitionsCount < 1) {
    throw new RangeError(`partitions count must be a positive integer, got ${partitionsCount}`);
  }
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  return xxh32(bytes) % partitionsCount;
}

/** 64-bit hash of a gateway id (XXH3-64 of its UTF-8 bytes). */
export function gatewayHash(gatewayId: string): bigint {
  return xxh3_64(Buffer.from(gatewayId, "utf8"));
}

/** The 128-bit message id of a batch: (64-bit hash of gateway id) << 64 | first_seq. */
export function batchMessageId(gatewayId: string, firstSeq: bigint): bigint {
  if (firstSeq < 0n || firstSeq >> 64n !== 0n) throw new RangeError(`first_seq ${firstSeq} is not a u64`);
  return (gatewayHash(gatewayId) << 64n) | firstSeq;
}
