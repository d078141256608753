// Iggy's messages-key partitioning, which the client resolves itself where a generation wants
// explicit partitions (0.10) and the dev server applies.
import { xxh32 } from "./hash/xxh32.js";

/** The partition Iggy's messages-key partitioning would choose: XXH32(key, seed 0) mod count. */
export function partitionForKey(key: Uint8Array | string, partitionsCount: number): number {
  if (!Number.isInteger(partitionsCount) || partitionsCount < 1) {
    throw new RangeError(`partitions count must be a positive integer, got ${partitionsCount}`);
  }
  const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
  return xxh32(bytes) % partitionsCount;
}
