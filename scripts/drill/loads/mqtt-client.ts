// Client mode: the gateway subscribes (QoS1, persistent session) at a site broker (Mosquitto, our
// own config on a loopback port), and a QoS1 publisher (mqtt.js) publishes there. Acknowledged =
// Mosquitto's PUBACK to the publisher: from then on the message is Mosquitto's to deliver, and the
// gateway's session must get it into Iggy whatever happens to the gateway. The gateway acknowledges
// to Mosquitto only after its commit, so a kill between commit and PUBACK makes Mosquitto send the
// message again (MQTT QoS1 is at least once): those are counted as redelivered, not as doubled.
import type { TestContext } from "node:test";
import { subscriptions } from "../../../test/mqtt/client-mode-helpers.js";
import { hasMosquitto, startMosquitto, type Mosquitto } from "../../../test/mqtt/helpers.js";
import type { GatewayProcess } from "../gateway-process.js";
import type { StoredReading } from "../iggy-reader.js";
import { until } from "../kit.js";
import { AckLedger, judgeCounters, type Load, type LoadEnv, type LoadVerdict } from "./load.js";
import { Qos1Publisher } from "./qos1-publisher.js";

const CLIENT_ID = "drill-edge";
const FILTER = "site/+/seq";
const END = "site-end";

export class MqttClientLoad implements Load {
  readonly name = "mqtt-client";
  private readonly ledger = new AckLedger();
  private mosquitto: Mosquitto | null = null;
  private publisher!: Qos1Publisher;
  private env!: LoadEnv;
  private target = 0;
  private subscribed = false;

  async prepare(env: LoadEnv): Promise<void> {
    this.env = env;
    const t: TestContext = env.ctx.asTest();
    if (!hasMosquitto(t)) return;
    // Unlimited queue: while the gateway is dead Mosquitto keeps what arrives for its session.
    this.mosquitto = await startMosquitto(t, ["max_queued_messages 0"]);
    this.publisher = new Qos1Publisher(
      "site-1",
      "site/site-1/seq",
      this.ledger,
      32,
      env.short ? 20_000 : 200_000,
    );
  }

  devices(): string[] {
    return [
      "  - id: drill-site",
      "    protocol: mqtt",
      "    connection:",
      `      { url: "mqtt://127.0.0.1:${this.mosquitto!.port}", client_id: ${CLIENT_ID}, clean: false, reconnect_min_ms: 50, reconnect_max_ms: 500 }`,
      `    points: [ { name: seq, topic: "site/+device/seq", qos: 1, decode: number } ]`,
    ];
  }

  async beginRound(): Promise<void> {
    const m = this.mosquitto!;
    // Before the session exists Mosquitto would keep nothing for the gateway: publish only after it.
    if (!this.subscribed) {
      await until("the gateway's subscription at Mosquitto", () => subscriptions(m, CLIENT_ID, FILTER) >= 1);
      this.subscribed = true;
    }
    this.target = this.env.rng.between(20, this.env.short ? 400 : 2_000);
    await this.publisher.start(`mqtt://127.0.0.1:${m.port}`, { clean: true });
  }

  async armed(): Promise<boolean> {
    return (
      this.publisher.ackedThisRun >= this.target || this.publisher.sent >= (this.env.short ? 20_000 : 200_000)
    );
  }

  /** Mosquitto outlives the gateway: the publisher stops cleanly, every publish answered. */
  async endRound(): Promise<void> {
    await this.publisher.stop(false);
  }

  /** A sentinel after everything: Mosquitto delivers a session's queue in order. */
  async finish(): Promise<void> {
    const end = new Qos1Publisher(END, `site/${END}/seq`, new AckLedger(), 1, 1);
    await end.start(`mqtt://127.0.0.1:${this.mosquitto!.port}`, { clean: true });
    await end.stop(false);
    if (end.ackedThisRun !== 1) throw new Error("Mosquitto did not acknowledge the sentinel");
  }

  async settled(gateway: GatewayProcess): Promise<boolean> {
    const n = await gateway.metric(`iggy_edge_readings_received_total{protocol="mqtt",device="${END}"}`);
    return (n ?? 0) >= 1;
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    return judgeCounters(this.name, stored, (r) => r.device === "site-1", this.ledger, true);
  }

  async close(): Promise<void> {
    await this.publisher?.stop(true);
  }
}
