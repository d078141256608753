// A cheap CoAP load generator for the benchmarks: confirmable POSTs over plain UDP sockets, each
// client with one request in flight (it sends the next when the answer to the last arrives). The
// datagram is built once with coap-packet and only its message id and token are patched per request,
// so the generator spends a few microseconds per request where the coap package's Agent spends far
// more (and was the ceiling of the bare server's figure). A request not answered within `ackTimeoutMs`
// is sent again (same message id and token, so the server answers it from its cache); an empty ACK
// stops the retransmissions and the separate response that follows is acknowledged.
import { createSocket, type Socket } from "node:dgram";
import { generate } from "coap-packet";
import { percentile } from "./bench-kit.js";

export interface LoadSpec {
  port: number;
  host?: string;
  /** Uri-Path segments of the resource. */
  path: string[];
  payload: Buffer;
  clients: number;
  seconds: number;
  /** Never more requests than this in all. */
  maxRequests: number;
  /** Resend a request unanswered for this long. */
  ackTimeoutMs?: number;
  /** Give up a request (counted failed) after this many sends. */
  maxSends?: number;
}

export interface LoadResult {
  /** Answered 2.xx per second of the run. */
  rate: number;
  /** Answers by response code ("2.01": n). */
  codes: Record<string, number>;
  answered: number;
  /** Answered with another class than 2, or given up after maxSends. */
  failed: number;
  retransmits: number;
  /** Answer latencies (ms), p50 and p99. */
  p50: number;
  p99: number;
}

const TOKEN_LENGTH = 4;
// Header (4 bytes), then the token.
const MID_AT = 2;
const TOKEN_AT = 4;

const TYPE_CON = 0;
const TYPE_ACK = 2;

function codeString(byte: number): string {
  return `${byte >> 5}.${String(byte & 0x1f).padStart(2, "0")}`;
}

class Client {
  private readonly datagram: Buffer;
  private mid: number;
  private token = 0;
  private sentAt = 0;
  private sends = 0;
  private timer: NodeJS.Timeout | null = null;
  private acked = false;
  private waiting = false;

  constructor(
    private readonly socket: Socket,
    template: Buffer,
    private readonly index: number,
    private readonly load: Load,
  ) {
    this.datagram = Buffer.from(template);
    this.mid = (index * 6151) & 0xffff;
  }

  next(): void {
    if (!this.load.mayStart()) {
      this.waiting = false;
      this.load.clientDone();
      return;
    }
    this.mid = (this.mid + 1) & 0xffff;
    // Unique across the run's clients: the client's index in the high byte.
    this.token = ((this.index << 24) | (this.load.nextToken() & 0xffffff)) >>> 0;
    this.datagram.writeUInt16BE(this.mid, MID_AT);
    this.datagram.writeUInt32BE(this.token, TOKEN_AT);
    this.sends = 0;
    this.acked = false;
    this.waiting = true;
    this.sentAt = performance.now();
    this.send();
  }

  private send(): void {
    this.sends++;
    if (this.sends > 1) this.load.retransmits++;
    this.socket.send(this.datagram, this.load.port, this.load.host);
    this.arm(this.load.ackTimeoutMs * (this.acked ? 8 : 2 ** (this.sends - 1)));
  }

  private arm(ms: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.timeout(), ms);
  }

  private timeout(): void {
    this.timer = null;
    if (!this.waiting) return;
    if (this.acked || this.sends >= this.load.maxSends) {
      this.load.failed++;
      this.waiting = false;
      this.next();
    } else this.send();
  }

  onMessage(msg: Buffer): void {
    if (msg.length < 4) return;
    const type = (msg[0]! >> 4) & 0x03;
    const tkl = msg[0]! & 0x0f;
    const code = msg[1]!;
    const mid = msg.readUInt16BE(MID_AT);
    // A separate response (or a copy of one) is acknowledged whatever it answers.
    if (type === TYPE_CON)
      this.socket.send(Buffer.from([0x60, 0, msg[2]!, msg[3]!]), this.load.port, this.load.host);
    if (!this.waiting) return;
    if (type === TYPE_ACK && code === 0) {
      // An empty ACK: the answer comes later as a separate response.
      if (mid === this.mid && !this.acked) {
        this.acked = true;
        this.arm(this.load.ackTimeoutMs * 8);
      }
      return;
    }
    if (tkl !== TOKEN_LENGTH || msg.length < TOKEN_AT + TOKEN_LENGTH || code === 0) return;
    if (msg.readUInt32BE(TOKEN_AT) !== this.token) return; // an answer to an earlier send
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.waiting = false;
    this.load.answer(codeString(code), performance.now() - this.sentAt);
    this.next();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

class Load {
  readonly host: string;
  readonly port: number;
  readonly ackTimeoutMs: number;
  readonly maxSends: number;
  retransmits = 0;
  failed = 0;
  answered = 0;
  readonly codes: Record<string, number> = {};
  readonly latencies: number[] = [];
  private started = 0;
  private token = 0;
  private running: number;
  private readonly end: number;
  private done!: () => void;
  readonly finished = new Promise<void>((resolve) => (this.done = resolve));

  constructor(private readonly spec: LoadSpec) {
    this.host = spec.host ?? "127.0.0.1";
    this.port = spec.port;
    this.ackTimeoutMs = spec.ackTimeoutMs ?? 2000;
    this.maxSends = spec.maxSends ?? 5;
    this.running = spec.clients;
    this.end = performance.now() + spec.seconds * 1000;
  }

  mayStart(): boolean {
    if (this.started >= this.spec.maxRequests || performance.now() >= this.end) return false;
    this.started++;
    return true;
  }

  nextToken(): number {
    return this.token++;
  }

  answer(code: string, ms: number): void {
    this.codes[code] = (this.codes[code] ?? 0) + 1;
    if (code.startsWith("2.")) this.answered++;
    else this.failed++;
    // A bounded sample: every 16th latency.
    if ((this.answered + this.failed) % 16 === 0 && this.latencies.length < 1_000_000)
      this.latencies.push(ms);
  }

  clientDone(): void {
    if (--this.running === 0) this.done();
  }
}

/** Runs the load until `seconds` have passed (or maxRequests were sent) and every client's last request is settled. */
export async function coapLoad(spec: LoadSpec): Promise<LoadResult> {
  const template = generate({
    confirmable: true,
    code: "POST",
    messageId: 0,
    token: Buffer.alloc(TOKEN_LENGTH),
    options: spec.path.map((p) => ({ name: "Uri-Path", value: Buffer.from(p) })),
    payload: spec.payload,
  });
  const load = new Load(spec);
  const sockets: Socket[] = [];
  const clients: Client[] = [];
  try {
    for (let i = 0; i < spec.clients; i++) {
      const socket = createSocket("udp4");
      await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, "127.0.0.1", () => {
          socket.off("error", reject);
          resolve();
        });
      });
      sockets.push(socket);
      const client = new Client(socket, template, i, load);
      socket.on("message", (msg) => client.onMessage(msg));
      clients.push(client);
    }
    const t0 = performance.now();
    for (const c of clients) c.next();
    await load.finished;
    const seconds = (performance.now() - t0) / 1000;
    const sorted = load.latencies.sort((a, b) => a - b);
    return {
      rate: load.answered / seconds,
      codes: load.codes,
      answered: load.answered,
      failed: load.failed,
      retransmits: load.retransmits,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
    };
  } finally {
    for (const c of clients) c.close();
    // Sends to an address go out on the next tick: let the last acknowledgements leave first.
    await new Promise((resolve) => setImmediate(resolve));
    for (const s of sockets) s.close();
  }
}
