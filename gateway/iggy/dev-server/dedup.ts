// Message-id deduplication of one partition, as Iggy 0.8 intends it: a bounded, expiring set of ids;
// a message whose id is in the set is dropped silently.

export interface DedupSettings {
  enabled: boolean;
  /** 0 = unbounded. Iggy's default is 10 000. */
  maxEntries: number;
  /** 0 = never expire. Iggy's default is one minute. */
  expiryMs: number;
}

export class Deduplicator {
  /** id → expiry time (ms); Map keeps insertion order, so the oldest entry is first. */
  private readonly seen = new Map<bigint, number>();

  constructor(private readonly settings: DedupSettings) {}

  /** True when `id` was seen within the expiry; otherwise records it and returns false. */
  isDuplicate(id: bigint, now: number): boolean {
    const expires = this.seen.get(id);
    if (expires !== undefined && (this.settings.expiryMs === 0 || expires > now)) return true;
    if (expires !== undefined) this.seen.delete(id);
    this.seen.set(id, this.settings.expiryMs === 0 ? 0 : now + this.settings.expiryMs);
    if (this.settings.maxEntries > 0 && this.seen.size > this.settings.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
    return false;
  }
}
