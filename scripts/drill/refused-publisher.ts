// An MQTT 5 QoS1 publisher of a running count that expects refusals: the gateway answers a publish
// its buffer refused with PUBACK 0x97 (quota exceeded), which mqtt.js reports as an error. It counts
// acknowledgements (into the ledger) and refusals, reconnects when the connection closes, never sends
// a value twice, and stops at its cap or when told.
import { connectAsync, type MqttClient } from "mqtt";
import type { AckLedger } from "./loads/load.js";
import { CounterSource } from "./loads/qos1-publisher.js";

export class RefusedPublisher {
  private readonly source: CounterSource;
  private client: MqttClient | null = null;
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  acked = 0;
  refused = 0;
  /** Publishes cut off by a closed connection (neither acknowledged nor refused). */
  cut = 0;
  lastError = "";

  constructor(
    device: string,
    topic: string,
    ledger: AckLedger,
    window: number,
    cap: number,
    private readonly credentials: { username: string; password: string },
  ) {
    this.source = new CounterSource(device, topic, ledger, window, cap);
  }

  /** Outcomes so far (acknowledged, refused or cut off). */
  get outcomes(): number {
    return this.acked + this.refused + this.cut;
  }

  start(url: string): void {
    this.stopping = false;
    this.loop = this.run(url);
  }

  private async run(url: string): Promise<void> {
    while (!this.stopping && this.source.sent < this.source.cap) {
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
      await this.source.publish(client, () => !this.stopping, {
        acked: () => this.acked++,
        failed: (e) => {
          if (e.code === 0x97 || /quota/i.test(e.message)) this.refused++;
          else this.cut++;
          this.lastError = e.message;
        },
      });
      await client.endAsync(true).catch(() => {});
      this.client = null;
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop;
    await this.client?.endAsync(true).catch(() => {});
  }
}
