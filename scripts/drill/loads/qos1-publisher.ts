// A QoS1 publisher of a running count (payload "N") on one topic, with a bounded window of
// publishes in flight; every PUBACK goes into the ledger. It never sends a value twice: what was not
// acknowledged when the connection died is abandoned, so a value found twice in Iggy was doubled
// after the device's part was done.
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { AckLedger } from "./load.js";

/** The values of one device: the next to send, bounded over the whole drill. */
export class CounterSource {
  private next = 0;

  constructor(
    readonly device: string,
    private readonly topic: string,
    private readonly ledger: AckLedger,
    private readonly window: number,
    /** Bound on all values this source sends over the whole drill. */
    readonly cap: number,
  ) {}

  get sent(): number {
    return this.next;
  }

  /**
   * Publishes the next values on `client` while `go()` holds, the connection is up and the cap is
   * not reached, at most `window` unanswered; settles when every publish it sent has its outcome.
   */
  async publish(
    client: MqttClient,
    go: () => boolean,
    outcome: { acked(): void; failed(e: Error & { code?: number }): void },
  ): Promise<void> {
    const inflight = new Set<Promise<void>>();
    while (go() && this.next < this.cap && client.connected) {
      const value = this.next++;
      const p: Promise<void> = client.publishAsync(this.topic, String(value), { qos: 1 }).then(
        () => {
          this.ledger.add(this.device, value);
          outcome.acked();
          inflight.delete(p);
        },
        (e: Error & { code?: number }) => {
          outcome.failed(e);
          inflight.delete(p);
        },
      );
      inflight.add(p);
      if (inflight.size >= this.window) await Promise.race(inflight);
    }
    await Promise.allSettled(inflight);
  }
}

export class Qos1Publisher {
  private readonly source: CounterSource;
  private client: MqttClient | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  /** PUBACKs since the last start(). */
  ackedThisRun = 0;
  /** Publish attempts that failed (connection gone): expected around a kill. */
  failed = 0;

  constructor(device: string, topic: string, ledger: AckLedger, window: number, cap: number) {
    this.source = new CounterSource(device, topic, ledger, window, cap);
  }

  get device(): string {
    return this.source.device;
  }

  get sent(): number {
    return this.source.sent;
  }

  async start(url: string, options: IClientOptions): Promise<void> {
    this.stopping = false;
    this.ackedThisRun = 0;
    const client = await connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
    client.on("error", () => {});
    this.client = client;
    this.loop = this.source.publish(client, () => !this.stopping, {
      acked: () => this.ackedThisRun++,
      failed: () => this.failed++,
    });
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
