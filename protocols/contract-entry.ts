// What a protocol folder hands the adapter contract suite (test/protocols/contract.ts): how to build
// its adapter with devices pointing at the protocol's own simulator, and how to work those devices
// from the device side. Every built protocol has one (protocols/<name>/contract.ts), named by its
// plug-in descriptor, and the suite holds each to the same promises: acknowledged only after the
// commit, a refused append not acknowledged, stop always safe, one health shape, writes checked
// before they leave, and a device that goes away and returns recovered and logged once per transition.
import type { AdapterDeps, Emit, ProtocolAdapter } from "./adapter.js";

export interface ContractOptions {
  /** How many devices the adapter gets. */
  devices: number;
  deps: AdapterDeps;
}

export interface ContractEntry {
  /** Starts the simulator where it can run before the gateway, and builds the adapter (not started). */
  setup(options: ContractOptions): Promise<ContractRig>;
}

export interface ContractRig {
  readonly adapter: ProtocolAdapter;
  /** The configured devices' ids, in config order. */
  readonly devices: readonly string[];
  /** A point of the device that takes whole numbers from `min` to `max`. */
  writable(device: string): { point: string; min: number; max: number };
  /** A point of the device without `write`; `produce` sets its value. */
  readOnly(device: string): string;

  /** Starts the adapter with `emit`, then the simulated devices that need the adapter to run. */
  start(emit: Emit): Promise<void>;
  /**
   * The device produces one reading of `value` (a whole number from 0 to 1000) on its read-only
   * point: a pushing device sends it once, a polled device holds it for the next polls.
   */
  produce(device: string, value: number): void;
  /**
   * Readings of the device acknowledged, as far as the device side can tell: a device that gets an
   * acknowledgement (MQTT PUBACK) counts those it received, one per reading; a polled device, which
   * gets none, counts the readings the adapter holds as collected (after their emit resolved).
   */
  acks(device: string): number;
  /**
   * A request and its answer on the device's link, begun now: once it resolves, every
   * acknowledgement (and every write) sent to the device before this call has reached it.
   */
  roundTrip(device: string): Promise<void>;
  /** Appends the adapter counts as refused (emit rejected), all devices together. */
  refusals(): number;
  /** Writes that reached the simulated device, whatever became of them. */
  writesSeen(device: string): number;
  /** The value the simulated device holds for a point. */
  valueOf(device: string, point: string): unknown;
  /**
   * From now on the device answers, but with an error the adapter counts through `deps.reject` (a
   * protocol exception, a payload no decoder reads); polled devices keep answering so, pushing ones
   * send one such message now. A device that answers is up.
   */
  misbehave(device: string): void;
  /** The device's link fails, and stays failed (the gateway's attempts fail too) until `comeBack`. */
  goAway(device: string): Promise<void>;
  /** Attempts on the device's link since it went away: polls, probes, reconnects. */
  attemptsWhileAway(device: string): number;
  /** The device can be reached again; resolves once its link works again. */
  comeBack(device: string): Promise<void>;
  /**
   * Stops the simulated devices that connect to the adapter (they would keep reconnecting); a
   * simulator the adapter connects to keeps serving. Then only the adapter's own handles remain.
   */
  stopDevices(): Promise<void>;
  /** Stops the adapter, the simulated devices and the simulator, whatever state they are in. */
  close(): Promise<void>;
}
