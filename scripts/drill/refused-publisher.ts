// An MQTT 5 QoS1 publisher of a running count that expects refusals: the gateway answers a publish
// its buffer refused with PUBACK 0x97 (quota exceeded), which mqtt.js reports as an error. It counts
// acknowledgements (into the ledger) and refusals, reconnects when the connection closes, never sends
// a value twice, and stops at its cap or when told.
import { connectAsync, type MqttClient } from "mqtt";
import type { AckLedger } from "./loads/load.js";

export class RefusedPublisher {
  private next = 0;
  private client: MqttClient | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  acked = 0;
  refused = 0;
  /** Publishes cut off by a closed connection (neither acknowledged nor refused). */
  cut = 0;
  lastError = "";

  constructor(
    readonly device: string,
    private readonly topic: string,
    private readonly ledger: AckLedger,
    private readonly window: number,
    private readonly cap: number,
    private readonly credentials: { username: string; password: string },
  ) {}

  /** Outcomes so far (acknowledged, refused or cut off). */
  get outcomes(): number {
    return this.acked + this.refused + this.cut;
  }

  start(url: string): void {
    this.stopping = false;
    this.loop = this.run(url);
  }

  private async run(url: string): Promise<void> {
    while (!this.stopping && this.next < this.cap) {
      let client: MqttClient;
      try {
        client = await connectAsync(url, {
          protocolVersion: 5,
          reconnectPeriod: 0,
          connectTimeout: 10_000,
          clean: true,
          ...this.credentials,
        });
      } catch (e) {
        this.lastError = (e as Error).message;
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      client.on("error", () => {});
      this.client = client;
      await this.publish(client);
      await client.endAsync(true).catch(() => {});
      this.client = null;
    }
  }

  private async publish(client: MqttClient): Promise<void> {
    const inflight = new Set<Promise<void>>();
    while (!this.stopping && this.next < this.cap && client.connected) {
      const value = this.next++;
      const p: Promise<void> = client.publishAsync(this.topic, String(value), { qos: 1 }).then(
        () => {
          this.ledger.add(this.device, value);
          this.acked++;
          inflight.delete(p);
        },
        (e: Error & { code?: number }) => {
          if (e.code === 0x97 || /quota/i.test(e.message)) this.refused++;
          else this.cut++;
          this.lastError = e.message;
          inflight.delete(p);
        },
      );
      inflight.add(p);
      if (inflight.size >= this.window) await Promise.race(inflight);
    }
    await Promise.allSettled(inflight);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.client?.endAsync(true).catch(() => {});
  }
}
