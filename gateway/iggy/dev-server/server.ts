// dev-iggy: an Iggy-compatible TCP server for demos and tests. Each connection reads whole
// frames (the full length first, always), answers them in order, and on a frame it cannot follow
// answers InvalidCommand and closes that connection only.
import { loadFastXxh3 } from "../hash/xxh3.js";
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from "node:net";
import { createServer as createTlsServer } from "node:tls";
import type { Logger } from "pino";
import { LayoutError } from "../wire/bytes.js";
import type { ServerWireGeneration, ServerWireSession } from "./wire/types.js";
import { serverWireFor } from "./wire/registry.js";
import { type DedupSettings } from "./dedup.js";
import { Engine, StatusError, type Session, type User } from "./engine.js";
import { DataDir } from "./store.js";

export interface DevServerOptions {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Keep data here (and load what is there); in memory when absent. */
  dataDir?: string;
  /** fsync each appended batch (only with dataDir). */
  fsync?: boolean;
  dedup?: Partial<DedupSettings>;
  /** The root user (id 0). Default iggy / iggy. */
  username?: string;
  password?: string;
  /** Personal access tokens that log in as the root user. */
  tokens?: string[];
  tls?: { cert: Buffer; key: Buffer };
  /** Largest request frame read; a longer length is answered with InvalidCommand and the connection closed. */
  maxRequestBytes?: number;
  /** "auto" (default): 0.8 and 0.10 on one port, per connection; or "0.8" / "0.10" only. */
  protocol?: string;
  logger?: Logger;
}

export class DevIggyServer {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly engine: Engine,
    private readonly wire: ServerWireGeneration,
    private readonly maxRequestBytes: number,
    private readonly dataDir: DataDir | undefined,
    private readonly log: Logger | undefined,
  ) {}

  static async start(options: DevServerOptions = {}): Promise<DevIggyServer> {
    await loadFastXxh3();
    const dataDir = options.dataDir ? new DataDir(options.dataDir) : undefined;
    const users: User[] = [
      { id: 0, username: options.username ?? "iggy", password: options.password ?? "iggy" },
    ];
    const engine = new Engine({
      users,
      tokens: new Map((options.tokens ?? []).map((t) => [t, 0])),
      dedup: {
        enabled: options.dedup?.enabled ?? false,
        maxEntries: options.dedup?.maxEntries ?? 10_000,
        expiryMs: options.dedup?.expiryMs ?? 60_000,
      },
      ...(dataDir ? { dataDir } : {}),
      fsync: options.fsync ?? false,
    });
    const wire = serverWireFor(options.protocol ?? "auto");
    const server = options.tls
      ? createTlsServer({ cert: options.tls.cert, key: options.tls.key })
      : createTcpServer();
    const dev = new DevIggyServer(
      server,
      engine,
      wire,
      options.maxRequestBytes ?? 256 * 1024 * 1024,
      dataDir,
      options.logger,
    );
    // Every TCP socket is tracked from its first moment (a TLS one before its handshake) so close() ends all.
    server.on("connection", (s: Socket) => dev.track(s));
    server.on(options.tls ? "secureConnection" : "connection", (s: Socket) => dev.accept(s));
    server.on("tlsClientError", (e: Error) => dev.log?.debug({ err: e.message }, "tls handshake failed"));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port ?? 8090, options.host ?? "127.0.0.1", () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (e) => dev.log?.error({ err: e.message }, "dev-iggy listener error"));
    engine.endpoint = dev.address;
    return dev;
  }

  get address(): { host: string; port: number } {
    const a = this.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stops listening and drops every connection (like a killed server, for the client). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
    this.dataDir?.close();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
  }

  private accept(socket: Socket): void {
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    const wire = this.wire.newSession({ maxRequestBytes: this.maxRequestBytes });
    const session: Session = { userId: null };
    socket.on("error", (e) => this.log?.debug({ peer, err: e.message }, "connection error"));
    socket.on("data", (chunk: Buffer) => {
      let frames;
      try {
        frames = wire.push(chunk);
      } catch (e) {
        const code = e instanceof LayoutError ? e.code : 3;
        this.log?.warn({ peer, err: String(e) }, "unreadable frame; closing the connection");
        socket.end(wire.encodeError(code));
        socket.destroySoon();
        return;
      }
      if (frames.length === 0) return;
      socket.cork();
      for (const f of frames) {
        for (const b of this.answer(wire, session, f.code, f.body)) socket.write(b);
        if (wire.closeAfterReply?.()) {
          socket.uncork();
          socket.end();
          socket.destroySoon();
          return;
        }
      }
      socket.uncork();
    });
  }

  private answer(wire: ServerWireSession, session: Session, code: number, body: Buffer): Buffer[] {
    try {
      const request = wire.decodeRequest(code, body);
      return wire.encodeReply(request, this.engine.handle(session, request));
    } catch (e) {
      if (e instanceof StatusError || e instanceof LayoutError) {
        this.log?.debug({ code, status: e.code, err: e.message }, "dev-iggy refused a request");
        return [wire.encodeError(e.code)];
      }
      this.log?.error(
        { err: e instanceof Error ? e.stack : String(e), code },
        "dev-iggy failed on a request",
      );
      return [wire.encodeError(1)];
    }
  }
}
