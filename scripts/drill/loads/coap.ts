// CoAP confirmable POSTs of a running count (text/plain "N") from server-mode devices to the
// gateway's CoAP server, one request in flight per device (NSTART 1, as the project's simulator
// sends), through the same exchange the simulator uses (protocols/coap/exchange.ts). Acknowledged =
// answered 2.xx, which the gateway sends only after its commit. A value is never sent again once
// its exchange ended (answered, refused, or given up): the retransmissions of the coap package
// carry the same message id, which the gateway answers from its duplicate cache; when the gateway
// is killed, the exchange in flight is cancelled before it starts again, so a value found twice in
// Iggy was doubled after the device's part was done.
import { Agent } from "coap";
import { exchange, type Exchange } from "../../../protocols/coap/exchange.js";
import { sleep } from "../../../protocols/sleep.js";
import { freePort } from "../../bench-kit.js";
import type { StoredReading } from "../iggy-reader.js";
import { AckLedger, judgeCounters, type Load, type LoadEnv, type LoadVerdict } from "./load.js";

const DEVICES = ["coap-1", "coap-2", "coap-3"];

class CoapCounter {
  private next = 0;
  private agent: Agent | null = null;
  private current: Exchange | null = null;
  /** Settles when stop() is called: cancel() stops an exchange's retransmissions but never settles its answer. */
  private stopped: Promise<void> = Promise.resolve();
  private onStop: () => void = () => {};
  private loop: Promise<void> = Promise.resolve();
  private stopping = false;
  ackedThisRun = 0;
  /** Answered with another class than 2 (a 5.03 of a refusing buffer, a 4.29): not stored, not sent again. */
  refused = 0;
  /** Exchanges given up (no answer in time, or cancelled by a kill). */
  cut = 0;

  constructor(
    readonly device: string,
    private readonly ledger: AckLedger,
    private readonly cap: number,
  ) {}

  get sent(): number {
    return this.next;
  }

  start(port: number): void {
    this.stopping = false;
    this.ackedThisRun = 0;
    this.stopped = new Promise((resolve) => (this.onStop = resolve));
    const agent = new Agent({ type: "udp4" });
    agent.on("error", () => {});
    this.agent = agent;
    this.loop = this.post(agent, port);
  }

  private async post(agent: Agent, port: number): Promise<void> {
    while (!this.stopping && this.next < this.cap) {
      const value = this.next++;
      const x = exchange(
        agent,
        { host: "127.0.0.1", port },
        {
          method: "POST",
          path: `/d/${this.device}/seq`,
          payload: Buffer.from(String(value)),
          timeoutMs: 10_000,
        },
      );
      this.current = x;
      try {
        const res = await Promise.race([x.answer, this.stopped]);
        if (res === undefined) {
          this.cut++; // stopped with the request in flight: given up, never sent again
        } else if (res.code.startsWith("2.")) {
          this.ledger.add(this.device, value);
          this.ackedThisRun++;
        } else {
          this.refused++;
          await sleep(50);
        }
      } catch {
        this.cut++;
      }
      this.current = null;
    }
  }

  /** Gives up the exchange in flight (its retransmissions stop) and closes the device's socket. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.current?.cancel();
    this.onStop();
    await this.loop;
    this.agent?.close();
    this.agent = null;
  }
}

export class CoapLoad implements Load {
  readonly name = "coap";
  private readonly ledger = new AckLedger();
  private counters: CoapCounter[] = [];
  private env!: LoadEnv;
  private port = 0;
  private target = 0;
  private cap = 0;

  async prepare(env: LoadEnv): Promise<void> {
    this.env = env;
    this.port = await freePort();
    this.cap = env.short ? 10_000 : 100_000;
    this.counters = DEVICES.map((d) => new CoapCounter(d, this.ledger, this.cap));
  }

  sections(): string[] {
    return [`coap: { listen: 127.0.0.1:${this.port} }`];
  }

  devices(): string[] {
    return DEVICES.flatMap((d) => [
      `  - id: ${d}`,
      "    protocol: coap",
      "    connection: { mode: server }",
      `    points: [ { name: seq, path: /d/${d}/seq, decode: number } ]`,
    ]);
  }

  async beginRound(): Promise<void> {
    this.target = this.env.rng.between(10, this.env.short ? 200 : 1_000);
    for (const c of this.counters) c.start(this.port);
  }

  async armed(): Promise<boolean> {
    const acked = this.counters.reduce((n, c) => n + c.ackedThisRun, 0);
    return acked >= this.target || this.counters.every((c) => c.sent >= this.cap);
  }

  async endRound(): Promise<void> {
    await Promise.all(this.counters.map((c) => c.stop()));
  }

  async finish(): Promise<void> {}

  async settled(): Promise<boolean> {
    return true; // every 2.xx means committed
  }

  verdict(stored: StoredReading[]): LoadVerdict {
    const v = judgeCounters(this.name, stored, (r) => DEVICES.includes(r.device), this.ledger, false);
    const sum = (k: "sent" | "refused" | "cut") => this.counters.reduce((n, c) => n + c[k], 0);
    v.notes.push(
      `${sum("sent")} POSTs, ${sum("refused")} answered other than 2.xx, ${sum("cut")} unanswered or cut off by a kill`,
    );
    return v;
  }

  async close(): Promise<void> {
    await this.endRound();
  }
}
