// A loopback TCP proxy the drills put between the gateway and Iggy, to make Iggy unreachable
// (every connection cut, new ones reset), slow (every reply held back for a while, in order) or
// lossy (a connection cut when a reply arrives, so the request's fate is unknown to the gateway).
// Requests always pass at once: what is held back or lost is only ever the answer.
import { createServer, connect, type Server, type Socket } from "node:net";

export type ProxyMode =
  | { kind: "pass"; delayMs?: number }
  | { kind: "down" }
  /** Each connection (open or new) passes `replies()` more reply chunks, then is cut when the next one arrives. */
  | { kind: "cut-replies"; replies: () => number };

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Reply chunks due for the client, oldest first. */
  queue: { due: number; chunk: Buffer }[];
  timer: NodeJS.Timeout | null;
  upstreamClosed: boolean;
  repliesLeft: number;
}

export class TcpProxy {
  private readonly pairs = new Set<Pair>();
  private mode: ProxyMode = { kind: "pass" };
  /** Connections accepted and passed on. */
  connections = 0;
  /** Connections reset at once because the proxy was down, and open ones cut by `down`. */
  refused = 0;
  /** Replies dropped with their connection in cut-replies mode. */
  repliesCut = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on("connection", (client) => this.accept(client));
  }

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer({ noDelay: true });
    const proxy = new TcpProxy(server, target);
    await new Promise<void>((ok, fail) => {
      server.once("error", fail);
      server.listen(0, "127.0.0.1", () => ok());
    });
    return proxy;
  }

  get port(): number {
    const a = this.server.address();
    if (!a || typeof a === "string") throw new Error("the proxy is not listening");
    return a.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Open connection pairs (client and upstream). */
  get open(): number {
    return this.pairs.size;
  }

  set(mode: ProxyMode): void {
    this.mode = mode;
    if (mode.kind === "cut-replies") for (const p of this.pairs) p.repliesLeft = mode.replies();
    if (mode.kind === "down") {
      for (const p of [...this.pairs]) {
        this.refused++;
        this.drop(p);
      }
    }
  }

  async close(): Promise<void> {
    for (const p of [...this.pairs]) this.drop(p);
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  private accept(client: Socket): void {
    const mode = this.mode;
    if (mode.kind === "down") {
      this.refused++;
      client.on("error", () => {});
      client.resetAndDestroy();
      return;
    }
    this.connections++;
    client.setNoDelay(true);
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    const pair: Pair = {
      client,
      upstream,
      queue: [],
      timer: null,
      upstreamClosed: false,
      repliesLeft: mode.kind === "cut-replies" ? mode.replies() : Infinity,
    };
    this.pairs.add(pair);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.on("data", (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on("drain", () => client.resume());
    client.on("close", () => this.drop(pair));
    upstream.on("data", (chunk: Buffer) => this.reply(pair, chunk));
    upstream.on("close", () => {
      pair.upstreamClosed = true;
      if (pair.queue.length === 0) this.drop(pair);
    });
  }

  private reply(pair: Pair, chunk: Buffer): void {
    const mode = this.mode;
    if (mode.kind === "cut-replies") {
      if (pair.repliesLeft <= 0) {
        this.repliesCut++;
        this.drop(pair);
        return;
      }
      pair.repliesLeft--;
    }
    const delayMs = mode.kind === "pass" ? (mode.delayMs ?? 0) : 0;
    if (delayMs <= 0 && pair.queue.length === 0) {
      pair.client.write(chunk);
      return;
    }
    // Never earlier than a reply queued before it: the order of the bytes is the protocol.
    const last = pair.queue.at(-1)?.due ?? 0;
    pair.queue.push({ due: Math.max(Date.now() + delayMs, last), chunk });
    this.arm(pair);
  }

  private arm(pair: Pair): void {
    if (pair.timer || pair.queue.length === 0) return;
    pair.timer = setTimeout(
      () => {
        pair.timer = null;
        const now = Date.now();
        while (pair.queue.length > 0 && pair.queue[0]!.due <= now)
          pair.client.write(pair.queue.shift()!.chunk);
        if (pair.queue.length === 0 && pair.upstreamClosed) this.drop(pair);
        else this.arm(pair);
      },
      Math.max(0, pair.queue[0]!.due - Date.now()),
    );
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    if (pair.timer) clearTimeout(pair.timer);
    pair.queue.length = 0;
    pair.client.destroy();
    pair.upstream.destroy();
  }
}
