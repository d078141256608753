// The two VSR lines this module speaks, and every way they differ, in one place. Iggy 0.9.0
// speaks binary protocol 0.11 (the released crate iggy_binary_protocol 0.11.0); Iggy 0.10 speaks
// 0.12 (the module follows 0.11.1-edge.8, protocol 0.12.2). Framing, header offsets, command
// codes, operations, result sections, eviction frames, batch and message frames, checksums,
// identifiers, consumers, poll and offset requests and send confirmations are the same in both.
// gateway/iggy/README.md lists the same differences for readers.

/** `major<<20 | minor<<10 | patch`. */
export function packVersion(major: number, minor: number, patch: number): number {
  return ((major << 20) | (minor << 10) | patch) >>> 0;
}

export function versionText(v: number): string {
  return `${(v >>> 20) & 0x3ff}.${(v >>> 10) & 0x3ff}.${v & 0x3ff}`;
}

export interface VsrDialect {
  /** The gateway's name for the generation (`iggy.protocol`). */
  readonly generation: "0.9" | "0.10";
  /** The binary protocol version announced at login. */
  readonly protocolVersion: number;
  /** LOGIN_REGISTER(_WITH_PAT) carries a 32-byte session-binding secret after the version prefix. */
  readonly bindSecret: boolean;
  /**
   * Partition context (incarnation, owner generation, metadata op): at request header 200..224,
   * 24 bytes after the poll reply's 16-byte prefix, and in each GetTopic partition record
   * (64 bytes, 0.12.2 adds member lists; 0.11 records are 40 bytes with no context).
   */
  readonly partitionContext: boolean;
  /** Batch header 52..72 holds an idempotent producer section; in 0.11 bytes 52..256 are reserved zero. */
  readonly producerSection: boolean;
  /**
   * Topic header: 0.11 keeps message expiry (u64), compression (u8) and max topic size (u64) as
   * fixed fields after the partitions count (50 fixed bytes); 0.12 has them only in the option
   * blocks (33 fixed bytes).
   */
  readonly topicFixedSettings: boolean;
  /** Stream header: 0.12 adds a derived-options block after the explicit one; 0.11 has one block. */
  readonly streamDerivedOptions: boolean;
}

/** Iggy 0.9.0, binary protocol 0.11.0. */
export const PROTOCOL_011: VsrDialect = {
  generation: "0.9",
  protocolVersion: packVersion(0, 11, 0),
  bindSecret: false,
  partitionContext: false,
  producerSection: false,
  topicFixedSettings: true,
  streamDerivedOptions: false,
};

/** Iggy 0.10, binary protocol 0.12 (we announce 0.12.0, the number Iggy's 0.10 docs name). */
export const PROTOCOL_012: VsrDialect = {
  generation: "0.10",
  protocolVersion: packVersion(0, 12, 0),
  bindSecret: true,
  partitionContext: true,
  producerSection: true,
  topicFixedSettings: false,
  streamDerivedOptions: true,
};

export const DIALECTS: readonly VsrDialect[] = [PROTOCOL_011, PROTOCOL_012];

/**
 * The 0.x gate both crates apply: a client is accepted when its version is at least `min` and its
 * major.minor is at most the server's (a later patch of an accepted minor passes).
 */
export function gateAccepts(window: { min: number; max: number }, client: number): boolean {
  return client >= window.min && client >>> 10 <= window.max >>> 10;
}

/** The dialect a client's announced version belongs to (same major.minor), if any. */
export function dialectOfVersion(client: number): VsrDialect | undefined {
  return DIALECTS.find((d) => d.protocolVersion >>> 10 === client >>> 10);
}
