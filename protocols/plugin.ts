// What a protocol folder hands the registry: its part of the config file (device schema, optional
// top-level section, checks, listeners) and how to load its code. The descriptor is light (schemas
// only), so the whole file can be validated without loading any protocol's code.
import type { z } from "zod";
import type { DeviceSchema, ProtocolConfigSpec } from "../config/schema.js";
import type { ProtocolModule, SimulatorModule } from "./adapter.js";
import type { ContractEntry } from "./contract-entry.js";

/**
 * What a writable point takes, as the command router checks it before anything reaches a device:
 * a float, an integer (a JSON number without fraction, or a 64-bit integer), true/false, text, or
 * any of these (the protocol's adapter checks further).
 */
export type WriteKind = "number" | "integer" | "boolean" | "string" | "any";

type PointOf<D> = D extends { points: (infer P)[] } ? P : never;

export interface ProtocolPlugin<
  N extends string = string,
  D extends DeviceSchema = DeviceSchema,
  S extends z.ZodType | undefined = z.ZodType | undefined,
> extends ProtocolConfigSpec<N, D, S> {
  /** A person's name for the protocol, for log lines and the status page. */
  title: string;
  /** What value a writable point takes (for commands); absent: "any", and the adapter checks. */
  writeKind?: (point: PointOf<z.output<D>>) => WriteKind;
  /** The adapter; absent while the protocol is not built into this version. */
  load?: () => Promise<ProtocolModule<z.output<D>, S extends z.ZodType ? z.output<S> : undefined>>;
  /** The simulator, loaded apart from the adapter so that the gateway never loads it. */
  loadSimulator?: () => Promise<SimulatorModule<z.output<D>, S extends z.ZodType ? z.output<S> : undefined>>;
  /** Its entry in the adapter contract suite (test/protocols/contract.ts); every built protocol has one. */
  contract?: () => Promise<ContractEntry>;
}

/** Keeps a descriptor's precise types (its name literal, its schemas) for the registry's tuple. */
export function defineProtocol<
  const N extends string,
  D extends DeviceSchema,
  S extends z.ZodType | undefined = undefined,
>(plugin: ProtocolPlugin<N, D, S>): ProtocolPlugin<N, D, S> {
  return plugin;
}
