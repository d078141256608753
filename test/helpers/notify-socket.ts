// The systemd side of sd_notify in a test: a datagram socket the test listens on, whose path goes to
// the process under test as NOTIFY_SOCKET. Every datagram is kept, parsed into its KEY=VALUE fields.
import { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { tempDir } from "../iggy/helpers.js";
import { WAIT_LIMIT_MS } from "./wait.js";

interface DgramSocket {
  bind(path: string): void;
  close(): void;
  on(event: "message", listener: (buf: Buffer) => void): void;
  on(event: "error", listener: (err: Error) => void): void;
}

export type NotifyMessage = Record<string, string>;

export function parseNotify(buf: Buffer): NotifyMessage {
  const fields: NotifyMessage = {};
  for (const line of buf.toString("utf8").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1);
  }
  return fields;
}

export class NotifyListener extends EventEmitter {
  readonly path: string;
  readonly messages: NotifyMessage[] = [];
  private readonly socket: DgramSocket;

  /** Listens until the test ends. */
  constructor(t: TestContext) {
    super();
    const dir = tempDir("iggy-edge-notify-");
    this.path = join(dir.path, "notify.sock");
    const dgram = createRequire(import.meta.url)("unix-dgram") as {
      createSocket(type: "unix_dgram"): DgramSocket;
    };
    this.socket = dgram.createSocket("unix_dgram");
    this.socket.on("error", (e) => this.emit("error", e));
    this.socket.on("message", (buf) => {
      const m = parseNotify(buf);
      this.messages.push(m);
      this.emit("message", m);
    });
    this.socket.bind(this.path);
    t.after(() => {
      this.socket.close();
      dir.remove();
    });
  }

  /** The first message from index `from` on that `match` accepts (one already received counts). */
  async next(
    what: string,
    match: (m: NotifyMessage) => boolean,
    from = 0,
    timeoutMs = WAIT_LIMIT_MS,
  ): Promise<{ message: NotifyMessage; index: number }> {
    const found = this.messages.findIndex((m, i) => i >= from && match(m));
    if (found >= 0) return { message: this.messages[found]!, index: found };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("message", onMessage);
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.messages)}`,
          ),
        );
      }, timeoutMs);
      const onMessage = (m: NotifyMessage) => {
        if (!match(m)) return;
        clearTimeout(timer);
        this.off("message", onMessage);
        resolve({ message: m, index: this.messages.length - 1 });
      };
      this.on("message", onMessage);
    });
  }
}
