// What a protocol folder hands the registry for the running gateway: its name, how to load its code,
// and what its writable points take. Its part of the config file (schemas, checks, listeners) is
// handed over apart (its schema.ts, put together in config-schema.ts), so that the gateway, which
// validates its config in a passing thread, never loads a schema library (type imports only here).
import type { AnyDeviceConfig } from "../config/schema.js";
import type { ProtocolModule, SimulatorModule } from "./adapter.js";
import type { ContractEntry } from "./contract-entry.js";

/**
 * What a writable point takes, as the command router checks it before anything reaches a device:
 * a float, an integer (a JSON number without fraction, or a 64-bit integer), true/false, text, or
 * any of these (the protocol's adapter checks further).
 */
export type WriteKind = "number" | "integer" | "boolean" | "string" | "any";

type PointOf<D> = D extends { points: (infer P)[] } ? P : never;

/** A protocol of the config type D (its device) and S (its top-level section; undefined without one). */
export interface ProtocolPlugin<N extends string = string, D = AnyDeviceConfig, S = unknown> {
  name: N;
  /** A person's name for the protocol, for log lines and the status page. */
  title: string;
  /** What value a writable point takes (for commands); absent: "any", and the adapter checks. */
  writeKind?: (point: PointOf<D>) => WriteKind;
  /** The adapter; absent while the protocol is not built into this version. */
  load?: () => Promise<ProtocolModule<D, S>>;
  /** The simulator, loaded apart from the adapter so that the gateway never loads it. */
  loadSimulator?: () => Promise<SimulatorModule<D, S>>;
  /** Its entry in the adapter contract suite (test/protocols/contract.ts); every built protocol has one. */
  contract?: () => Promise<ContractEntry>;
}
