// The gateway's Prometheus metrics (prefix iggy_edge_), in one registry that /metrics serves.
// Counters that the data path increments live here; gauges that mirror another part's state are
// read from it when scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "../protocols/prom-client.js";
import { registerBufferMetrics } from "../buffer/metrics.js";
import type { ReadingBuffer } from "../buffer/index.js";
import type { ConnectionStatus } from "./status.js";

export const PREFIX = "iggy_edge_";

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly readingsReceived: Counter<"protocol" | "device">;
  /** Registered with the buffer's metrics, which count the buffer's own refusals in it too. */
  private readingsRejected: Counter<"reason"> | null = null;
  readonly readingsForwarded: Counter;
  readonly forwardBatches: Counter<"result">;
  readonly iggyConnected: Gauge;
  readonly forwarderUp: Gauge;
  readonly forwarderRestarts: Counter<"reason">;
  readonly bufferUp: Gauge;
  readonly deviceUp: Gauge<"device">;
  readonly commands: Counter<"result">;
  readonly memoryReductions: Counter<"reason">;
  readonly connectionUp: Gauge<"protocol" | "connection">;
  readonly connectionInflight: Gauge<"protocol" | "connection">;
  readonly connectionAckDelay: Histogram<"protocol" | "connection">;
  readonly connectionRetransmissions: Counter<"protocol" | "connection">;

  constructor(options: { processMetrics?: boolean } = {}) {
    const r = [this.registry];
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: PREFIX });
    this.readingsReceived = new Counter({
      name: `${PREFIX}readings_received_total`,
      help: "Readings accepted into the buffer, by protocol and device",
      labelNames: ["protocol", "device"],
      registers: r,
    });
    this.readingsForwarded = new Counter({
      name: `${PREFIX}readings_forwarded_total`,
      help: "Readings Iggy confirmed",
      registers: r,
    });
    this.forwardBatches = new Counter({
      name: `${PREFIX}forward_batches_total`,
      help: "Batches sent to Iggy, by result (ok, duplicate, retry, dead_letter)",
      labelNames: ["result"],
      registers: r,
    });
    this.iggyConnected = new Gauge({
      name: `${PREFIX}iggy_connected`,
      help: "1 while the gateway has a logged-in connection to Iggy",
      registers: r,
    });
    this.forwarderUp = new Gauge({
      name: `${PREFIX}forwarder_up`,
      help: "1 while the forwarder's loop runs; 0 while it restarts, after it gave up, or before it started",
      registers: r,
    });
    this.forwarderRestarts = new Counter({
      name: `${PREFIX}forwarder_restarts_total`,
      help: "Restarts of the forwarder's loop after a failure, by reason (buffer, defect, iggy)",
      labelNames: ["reason"],
      registers: r,
    });
    this.bufferUp = new Gauge({
      name: `${PREFIX}buffer_up`,
      help: "1 while the buffer's worker thread runs; 0 once it died (the process then exits) or before the buffer opened",
      registers: r,
    });
    this.deviceUp = new Gauge({
      name: `${PREFIX}device_up`,
      help: "1 while the device answers, 0 while it is down",
      labelNames: ["device"],
      registers: r,
    });
    this.commands = new Counter({
      name: `${PREFIX}commands_total`,
      help: "Commands from Iggy, by result (ok, rejected, failed, expired)",
      labelNames: ["result"],
      registers: r,
    });
    this.memoryReductions = new Counter({
      name: `${PREFIX}memory_reductions_total`,
      help: "Memory given back once the gateway fell quiet, by reason (burst: after a burst of readings or a drained backlog; growth: the idle heap grew)",
      labelNames: ["reason"],
      registers: r,
    });
    const connection = ["protocol", "connection"] as const;
    this.connectionUp = new Gauge({
      name: `${PREFIX}connection_up`,
      help: "1 while a connection an adapter keeps for several devices (an MQTT site broker) is up",
      labelNames: connection,
      registers: r,
    });
    this.connectionInflight = new Gauge({
      name: `${PREFIX}connection_inflight_messages`,
      help: "Messages received on the connection and not yet acknowledged to the sender (most wait for their commit)",
      labelNames: connection,
      registers: r,
    });
    this.connectionAckDelay = new Histogram({
      name: `${PREFIX}connection_ack_delay_seconds`,
      help: "Time from receipt of a message on the connection to its acknowledgement (after its commit)",
      labelNames: connection,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: r,
    });
    this.connectionRetransmissions = new Counter({
      name: `${PREFIX}connection_retransmissions_total`,
      help: "Copies of a message the sender sent again (it had not seen the answer) that the adapter answered with the first copy's outcome, not storing them again (CoAP: those the coap package's own response cache did not answer)",
      labelNames: connection,
      registers: r,
    });
  }

  /** The buffer's metrics (buffer_*, readings_dropped_total, readings_rejected_total), read from it when scraped. */
  attachBuffer(buffer: Pick<ReadingBuffer, "stats" | "failure">): void {
    this.readingsRejected = registerBufferMetrics(this.registry, buffer).readingsRejected;
    const gauge = this.bufferUp;
    (gauge as unknown as { collect: () => void }).collect = () => gauge.set(buffer.failure === null ? 1 : 0);
  }

  /** Counts input a source refused before it became a reading. */
  reject(reason: string): void {
    this.readingsRejected?.inc({ reason });
  }

  /** device_up{device}, from the adapters' health when scraped. */
  watchDevices(up: () => Map<string, boolean>): void {
    const gauge = this.deviceUp;
    (gauge as unknown as { collect: () => void }).collect = () => {
      gauge.reset();
      for (const [device, isUp] of up()) gauge.set({ device }, isUp ? 1 : 0);
    };
  }

  /** connection_up and connection_inflight_messages, from the adapters' connections when scraped. */
  watchConnections(list: () => ConnectionStatus[]): void {
    const mirror = (gauge: Gauge<"protocol" | "connection">, value: (c: ConnectionStatus) => number) => {
      (gauge as unknown as { collect: () => void }).collect = () => {
        gauge.reset();
        for (const c of list()) gauge.set({ protocol: c.protocol, connection: c.name }, value(c));
      };
    };
    mirror(this.connectionUp, (c) => (c.up ? 1 : 0));
    mirror(this.connectionInflight, (c) => c.inflight);
  }

  ackDelay(protocol: string, connection: string, seconds: number): void {
    this.connectionAckDelay.observe({ protocol, connection }, seconds);
  }

  retransmitted(protocol: string, connection: string): void {
    this.connectionRetransmissions.inc({ protocol, connection });
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
