// A QoS1 publisher of a running count (payload "N") on one topic, with a bounded window of
// publishes in flight; every PUBACK goes into the ledger. It never sends a value twice: what was not
// acknowledged when the connection died is abandoned, so a value found twice in Iggy was doubled
// after the device's part was done.
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { AckLedger } from "./load.js";

export class Qos1Publisher {
  private next = 0;
  private client: MqttClient | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  /** PUBACKs since the last start(). */
  ackedThisRun = 0;
  /** Publish attempts that failed (connection gone): expected around a kill. */
  failed = 0;

  constructor(
    readonly device: string,
    private readonly topic: string,
    private readonly ledger: AckLedger,
    private readonly window: number,
    /** Bound on all values this publisher sends over the whole drill. */
    private readonly cap: number,
  ) {}

  get sent(): number {
    return this.next;
  }

  async start(url: string, options: IClientOptions): Promise<void> {
    this.stopping = false;
    this.ackedThisRun = 0;
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
    client.on("error", () => {});
    this.client = client;
    this.loop = this.publish(client);
  }

  private async publish(client: MqttClient): Promise<void> {
    const inflight = new Set<Promise<void>>();
    while (!this.stopping && this.next < this.cap && client.connected) {
      const value = this.next++;
      const p: Promise<void> = client.publishAsync(this.topic, String(value), { qos: 1 }).then(
        () => {
          this.ledger.add(this.device, value);
          this.ackedThisRun++;
          inflight.delete(p);
        },
        () => {
          this.failed++;
          inflight.delete(p);
        },
      );
      inflight.add(p);
      if (inflight.size >= this.window) await Promise.race(inflight);
    }
    await Promise.allSettled(inflight);
  }

  /** Stops publishing; `force` drops the connection at once (after a kill), else waits for the window. */
  async stop(force: boolean): Promise<void> {
    this.stopping = true;
    const client = this.client;
    this.client = null;
    if (!client) return;
    if (force) {
      await client.endAsync(true).catch(() => {});
      await this.loop;
    } else {
      await this.loop;
      await client.endAsync().catch(() => {});
    }
  }
}
