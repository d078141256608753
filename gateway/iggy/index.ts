// The Iggy client's public surface for the rest of the gateway.
export { IggyClient, parseAddress } from "./client.js";
export type { IggyClientOptions, PollOptions, SendOptions, SendOutcome } from "./client.js";
export * from "./errors.js";
export * from "./types.js";
export { partitionForKey } from "./partitioning.js";
export { WIRE_VERSIONS, type WireVersion } from "./wire/registry.js";
export { xxh32 } from "./hash/xxh32.js";
export { xxh3_64 } from "./hash/xxh3.js";
