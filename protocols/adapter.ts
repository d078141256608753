// The one normalized record every protocol produces, and the shape of a protocol adapter.
// buffer/ and gateway/ import this module; it imports nothing of theirs.
import type { Logger } from "pino";
import type { AnyDeviceConfig } from "../config/schema.js";

/** float64 (`number`), 64-bit integer (`bigint`), boolean, UTF-8 text, opaque bytes, or no value (bad quality). */
export type ReadingValue = number | bigint | boolean | string | Uint8Array | null;

export type Quality = "good" | "uncertain" | "bad";

export interface Reading {
  device: string;
  point: string;
  /** Source timestamp, milliseconds since the Unix epoch. */
  ts: number;
  value: ReadingValue;
  quality: Quality;
  unit?: string;
  tags?: Record<string, string>;
}

export type ValueKind = "number" | "integer" | "boolean" | "string" | "bytes" | "null";

export function valueKind(value: ReadingValue): ValueKind {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "bytes";
  switch (typeof value) {
    case "number":
      return "number";
    case "bigint":
      return "integer";
    case "boolean":
      return "boolean";
    case "string":
      return "string";
  }
  throw new TypeError(`not a reading value: ${typeof value}`);
}

export interface EmitOptions {
  /**
   * A device waits for this commit before it gets its acknowledgement (MQTT QoS1/2, a CoAP
   * confirmable request): the buffer commits such readings promptly. Readings nobody waits for
   * (polled values, QoS0) may wait for a fuller commit.
   */
  awaited?: boolean;
  /**
   * Keys the source keeps durably in the same commit as these readings, and only if they are
   * stored (the buffer's marks; MQTT client mode: QoS2 packet ids awaiting PUBREL). With no
   * readings, the marks are committed alone. Read back with AdapterDeps.readMarks.
   */
  marks?: { clearPrefix?: string; clear?: string[]; set?: string[] };
}

/**
 * Hands readings to the durable buffer. Resolves only after they are committed, so a source may
 * acknowledge its device afterwards; rejects (for instance with the buffer's "full" error) when they
 * were not accepted, and then the device must not be acknowledged.
 */
export type Emit = (readings: Reading[], options?: EmitOptions) => Promise<void>;

export interface PointRef {
  device: string;
  point: string;
}

export type WriteValue = number | bigint | boolean | string;

export interface DeviceHealth {
  device: string;
  up: boolean;
  /** Why the device is down, for a person; present exactly when `up` is false; never contains secrets. */
  error?: string;
  /** When `up` last changed (ms since the epoch), or when the adapter was made. */
  since: number;
}

/**
 * A connection an adapter keeps on behalf of several devices (an MQTT site broker), as the status
 * page and /metrics show it.
 */
export interface ConnectionHealth {
  /** Names the connection for a person and in metric labels: an address, never credentials. */
  name: string;
  up: boolean;
  /** Messages received and not yet acknowledged to the sender (most wait for their commit). */
  inflight: number;
  /** The most the adapter holds at once on this connection. */
  inflight_limit: number;
  /** Messages acknowledged since the adapter started. */
  acknowledged: number;
  /** Recent delay from receipt to acknowledgement (a moving average), ms; null before the first. */
  ack_delay_ms: number | null;
}

export interface AdapterHealth {
  protocol: string;
  devices: DeviceHealth[];
  /** Connections shared by several devices, where the adapter keeps such (optional). */
  connections?: ConnectionHealth[];
}

/**
 * A protocol adapter: constructed with its devices' config, does nothing until `start`.
 * `write` exists only where the protocol can write; the gateway has already checked that the point
 * is declared writable and the value is within its range, and the adapter checks again.
 */
export interface ProtocolAdapter {
  readonly protocol: string;
  start(emit: Emit): Promise<void>;
  stop(): Promise<void>;
  write?(target: PointRef, value: WriteValue): Promise<void>;
  health(): AdapterHealth;
}

export interface AdapterDeps {
  log: Logger;
  /** Counts input a source refused before it became a reading (undecodable payload, Modbus exception, ...). */
  reject(reason: string, device?: string): void;
  /**
   * A message received on `connection` (ConnectionHealth.name) was acknowledged to its sender
   * `seconds` after it arrived (optional: the gateway keeps the histogram behind /metrics).
   */
  ackDelay?(connection: string, seconds: number): void;
  /**
   * A copy of a message already taken on `connection` (a retransmission: the sender had not seen its
   * answer) was answered with the first copy's outcome and not stored again (optional: counted behind
   * /metrics).
   */
  retransmitted?(connection: string): void;
  /** The marks (EmitOptions.marks) committed so far that start with `prefix`; absent: no durable marks. */
  readMarks?(prefix: string): Promise<string[]>;
}

/** Runs simulated devices of one protocol, listening where the device map says the devices are. */
export interface Simulator {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** What a protocol's adapter and simulator know of the config besides their devices. */
export interface ProtocolContext<S = unknown> {
  gatewayId: string;
  /** `gateway.data_dir`: where a protocol keeps state of its own (the MQTT broker's sessions). */
  dataDir: string;
  /** The protocol's top-level section of the file (`mqtt:`, `coap:`), if it has one and the file gives it. */
  section: S | undefined;
}

/**
 * What `protocols/<p>/index.ts` exports. The gateway imports a protocol's module only when the
 * config has a device of that protocol (see registry.ts).
 */
export interface ProtocolModule<D = AnyDeviceConfig, S = unknown> {
  createAdapter(devices: D[], context: ProtocolContext<S>, deps: AdapterDeps): ProtocolAdapter;
}

/**
 * What `protocols/<p>/simulate.ts` exports, imported only by `iggy-edge simulate` and the tests: the
 * gateway never loads a simulator (nor the device-side client libraries it uses).
 */
export interface SimulatorModule<D = AnyDeviceConfig, S = unknown> {
  createSimulator(devices: D[], context: ProtocolContext<S>, deps: AdapterDeps): Simulator;
}
