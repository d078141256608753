// MQTT QoS1 publishers (mqtt.js) at the gateway's embedded broker. Acknowledged = PUBACK, which
// the broker sends only after the reading is committed to the buffer.
import type { StoredReading } from "../iggy-reader.js";
import { AckLedger, judgeCounters, type Load, type LoadEnv, type LoadVerdict } from "./load.js";
import { Qos1Publisher } from "./qos1-publisher.js";

export const BROKER_USER = { username: "drill", password: "drill-pw-0" };

export class MqttEmbeddedLoad implements Load {
  readonly name = "mqtt-embedded";
  private readonly ledger = new AckLedger();
  private publishers: Qos1Publisher[] = [];
  private env!: LoadEnv;
  private target = 0;

  async prepare(env: LoadEnv): Promise<void> {
    this.env = env;
    const cap = env.short ? 20_000 : 200_000;
    this.publishers = [1, 2].map(
      (k) => new Qos1Publisher(`pub-${k}`, `drill/pub-${k}/seq`, this.ledger, 32, cap),
    );
  }

  devices(): string[] {
    return [
      "  - id: drill-publishers",
      "    protocol: mqtt",
      '    points: [ { name: seq, topic: "drill/+device/seq", decode: number } ]',
    ];
  }

  async beginRound(): Promise<void> {
    // The kill lands after a random number of PUBACKs in this round.
    this.target = this.env.rng.between(20, this.env.short ? 400 : 2_000);
    for (const p of this.publishers)
      await p.start(`mqtt://127.0.0.1:${this.env.mqttPort}`, { ...BROKER_USER, clean: true });
  }

  async armed(): Promise<boolean> {
    const acked = this.publishers.reduce((n, p) => n + p.ackedThisRun, 0);
    // A publisher that reached its cap cannot arm the round any more.
    return (
      acked >= this.target || this.publishers.every((p) => p.sent >= (this.env.short ? 20_000 : 200_000))
    );
  }

  async endRound(): Promise<void> {
    await Promise.all(this.publishers.map((p) => p.stop(true)));
  }

  async finish(): Promise<void> {}

  async settled(): Promise<boolean> {
    return true; // every PUBACK means committed: nothing of this load is still on its way in
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    const v = judgeCounters(this.name, stored, (r) => r.device.startsWith("pub-"), this.ledger, false);
    v.notes.push(
      `${this.publishers.reduce((n, p) => n + p.sent, 0)} sent, ${this.publishers.reduce((n, p) => n + p.failed, 0)} cut off by a kill`,
    );
    return v;
  }

  async close(): Promise<void> {
    await this.endRound();
  }
}
