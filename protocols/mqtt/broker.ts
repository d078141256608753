// The embedded broker: aedes over TCP (or TLS) and optionally WebSocket, with credentials, a per-user
// topic ACL and bounds on connections, packet size and publishes waiting for their commit.
//
// Holding the acknowledgement: aedes 1.x writes a QoS1 PUBACK before its `published` hook runs, but
// it calls `authorizePublish` first, for every QoS, and sends PUBACK (QoS1) or PUBREC (QoS2) only when
// that callback reports success. So the readings are handed to the buffer inside authorizePublish and
// the callback waits for the commit; a refused append fails the callback, aedes closes the connection
// without acknowledging, and the device sends the publish again after it reconnects.
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import tls from "node:tls";
import type { Readable } from "node:stream";
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from "aedes";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import { BurstLog } from "../burst-log.js";
import { guardFrames } from "./frame-guard.js";
import { Credentials, type BrokerUserConfig } from "./password.js";
import type { BrokerConfig } from "./schema.js";
import { filterCovers, topicMatches } from "./topic.js";

export type { BrokerConfig };

/** Returns a promise when the publish must not be acknowledged before it settles. */
export type PublishHook = (packet: PublishPacket, client: Client) => Promise<void> | undefined;

export interface BrokerOptions {
  config: BrokerConfig;
  log: Logger;
  onPublish: PublishHook;
  /** A client's connection ended; `cleanly`: it sent DISCONNECT first (it left, it did not fail). */
  onClientGone?: (client: Client, cleanly: boolean) => void;
  /** aedes persistence (retained messages, sessions); in memory when absent. */
  persistence?: unknown;
}

const ANONYMOUS: BrokerUserConfig = { username: "", publish: ["#"], subscribe: ["#"] };
/** Room for a topic name and properties next to the largest payload allowed. */
const PACKET_OVERHEAD = 64 * 1024;
const LOG_QUIET_MS = 10_000;

interface QoS2Store {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
}

class Refusal extends Error {
  constructor(message: string, returnCode?: number) {
    super(message);
    if (returnCode !== undefined) (this as unknown as AuthenticateError).returnCode = returnCode;
  }
}

export function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(":");
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(s.slice(i + 1)) };
}

export class EmbeddedBroker {
  private aedes: Aedes | null = null;
  private server: net.Server | null = null;
  private http: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly users = new WeakMap<Client, BrokerUserConfig>();
  private readonly held = new WeakMap<Client, number>();
  /** Connections (streams) that sent DISCONNECT. */
  private readonly saidGoodbye = new WeakSet<object>();
  private readonly credentials: Credentials;
  private readonly bursts: BurstLog;
  listening = false;

  constructor(private readonly opts: BrokerOptions) {
    this.credentials = new Credentials(opts.config.users);
    const log = opts.log;
    this.bursts = new BurstLog({
      quietMs: LOG_QUIET_MS,
      onEnd: ({ key, total }) => {
        if (total > 1) log.warn({ count: total }, `${key}: ${total} times in a burst that has now ended`);
      },
    });
  }

  async start(): Promise<void> {
    const c = this.opts.config;
    const aedes = await Aedes.createBroker({
      ...(this.opts.persistence ? { persistence: this.opts.persistence } : {}),
      maxClientsIdLength: 256,
      maxInflightInbound: c.max_inflight,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    this.aedes = aedes;
    aedes.on("clientError", (client, err) => {
      this.opts.log.debug({ client: client.id, err: err.message }, "mqtt client error");
    });
    aedes.on("connectionError", (client, err) => {
      this.opts.log.debug({ client: client.id, err: err.message }, "mqtt connection error");
    });
    aedes.on("clientDisconnect", (client) => {
      this.opts.onClientGone?.(client, this.saidGoodbye.has(client.conn));
    });

    const handle = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      this.guard(socket, socket.remoteAddress);
      aedes.handle(socket);
    };
    const server = c.tls
      ? tls.createServer(
          {
            cert: readFileSync(c.tls.cert),
            key: readFileSync(c.tls.key),
            ...(c.tls.ca ? { ca: readFileSync(c.tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
          },
          handle,
        )
      : net.createServer(handle);
    // Sockets that have not sent CONNECT yet count too; past the bound the kernel's backlog waits.
    server.maxConnections = c.max_connections + 16;
    this.server = server;
    await listen(server, c.listen);

    if (c.websocket) {
      // ws is loaded only for a broker that serves WebSocket.
      const { createWebSocketStream, WebSocketServer } = await import("ws");
      const http = createHttpServer((_req, res) => {
        res.writeHead(426, { "content-type": "text/plain" }).end("MQTT over WebSocket only\n");
      });
      const wss = new WebSocketServer({
        server: http,
        maxPayload: c.max_message_bytes + PACKET_OVERHEAD,
        handleProtocols: (protocols) => (protocols.has("mqtt") ? "mqtt" : false),
      });
      wss.on("connection", (ws, req) => {
        if (wss.clients.size > c.max_connections + 16) return ws.close(1013, "too many connections");
        const stream = createWebSocketStream(ws);
        stream.on("error", () => {});
        this.guard(stream, req.socket.remoteAddress);
        aedes.handle(stream, req);
      });
      this.http = http;
      this.wss = wss;
      await listen(http, c.websocket.listen);
    }
    this.listening = true;
    this.opts.log.info(
      { listen: this.address(), websocket: this.websocketAddress(), tls: c.tls !== undefined },
      "embedded MQTT broker listening",
    );
  }

  /** Where the TCP listener is (the real port when the config said 0 in tests). */
  address(): { host: string; port: number } | null {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  websocketAddress(): { host: string; port: number } | null {
    const a = this.http?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : null;
  }

  connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  /** Publishes as the broker itself (commands to devices). Resolves when handed to the subscribers. */
  publish(topic: string, payload: Buffer, qos: 0 | 1 | 2, retain: boolean): Promise<void> {
    const aedes = this.aedes;
    if (aedes === null) return Promise.reject(new Error("the embedded broker is not running"));
    return new Promise((resolve, reject) =>
      aedes.publish(
        { cmd: "publish", topic, payload, qos, retain, dup: false, messageId: 0 } as PublishPacket,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }

  async stop(): Promise<void> {
    this.listening = false;
    const aedes = this.aedes;
    this.aedes = null;
    this.bursts.flush();
    const closing: Promise<unknown>[] = [];
    if (this.server) closing.push(new Promise((r) => this.server!.close(r)));
    if (this.wss) {
      for (const ws of this.wss.clients) ws.terminate();
      closing.push(new Promise((r) => this.wss!.close(r)));
    }
    if (this.http) closing.push(new Promise((r) => this.http!.close(r)));
    if (aedes) await new Promise<void>((r) => aedes.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await Promise.all(closing);
    this.server = null;
    this.http = null;
    this.wss = null;
  }

  private guard(stream: Readable, remote: string | undefined): void {
    const max = this.opts.config.max_message_bytes + PACKET_OVERHEAD;
    const onPacketType = (type: number): void => {
      if (type === 14) this.saidGoodbye.add(stream);
    };
    guardFrames(
      stream,
      max,
      (announced) => {
        this.refused("packet too large", () =>
          this.opts.log.warn(
            { remote, announced, max_message_bytes: this.opts.config.max_message_bytes },
            announced === null
              ? "closed an MQTT connection: malformed packet length"
              : "closed an MQTT connection: packet larger than max_message_bytes",
          ),
        );
      },
      onPacketType,
    );
  }

  /** Logs the first of a burst of refusals of one kind, and counts the rest. */
  private refused(kind: string, first: () => void): void {
    if (this.bursts.note(`refused: ${kind}`)) first();
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const c = this.opts.config;
    const remote = (client.conn as net.Socket).remoteAddress ?? client.req?.socket.remoteAddress;
    if ((this.aedes?.connectedClients ?? 0) >= c.max_connections) {
      this.refused("max_connections", () =>
        this.opts.log.warn(
          { client: client.id, remote, max_connections: c.max_connections },
          "refused an MQTT connection: max_connections reached",
        ),
      );
      return done(new Refusal("server unavailable", 3) as AuthenticateError, false);
    }
    if (username === undefined || username === "") {
      if (c.allow_anonymous) {
        this.users.set(client, ANONYMOUS);
        return done(null, true);
      }
      this.refused("no credentials", () =>
        this.opts.log.warn(
          { client: client.id, remote },
          "refused an MQTT connection without username (the broker requires credentials)",
        ),
      );
      return done(new Refusal("not authorized", 5) as AuthenticateError, false);
    }
    this.credentials.check(username, password).then(
      (user) => {
        if (user === null) {
          this.refused(`bad credentials for ${username}`, () =>
            this.opts.log.warn(
              { client: client.id, username, remote },
              "refused an MQTT connection: bad username or password",
            ),
          );
          return done(new Refusal("bad username or password", 4) as AuthenticateError, false);
        }
        this.users.set(client, user);
        done(null, true);
      },
      (err: Error) => {
        this.opts.log.error({ err: err.message, username }, "checking MQTT credentials failed");
        done(new Refusal("server unavailable", 3) as AuthenticateError, false);
      },
    );
  }

  private authorizePublish(
    client: Client | null,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
  ): void {
    if (client === null) return done(null);
    const user = this.users.get(client);
    const topic = packet.topic;
    if (user === undefined || topic.startsWith("$") || !user.publish.some((f) => topicMatches(f, topic))) {
      this.refused(`publish ACL ${user?.username ?? "?"}`, () =>
        this.opts.log.warn(
          { client: client.id, username: user?.username, topic },
          "closed an MQTT connection: not allowed to publish to this topic",
        ),
      );
      return done(new Error(`not authorized to publish to ${topic}`));
    }
    const size = packet.payload.length;
    if (size > this.opts.config.max_message_bytes) {
      this.refused("message size", () =>
        this.opts.log.warn(
          { client: client.id, topic, bytes: size, max_message_bytes: this.opts.config.max_message_bytes },
          "closed an MQTT connection: message larger than max_message_bytes",
        ),
      );
      return done(new Error("message too large"));
    }
    if (packet.qos === 0) {
      this.opts.onPublish(packet, client);
      return done(null);
    }
    const held = this.held.get(client) ?? 0;
    if (held >= this.opts.config.max_inflight) {
      this.refused("max_inflight", () =>
        this.opts.log.warn(
          { client: client.id, max_inflight: this.opts.config.max_inflight },
          "closed an MQTT connection: too many publishes waiting for their commit",
        ),
      );
      return done(new Error("max_inflight exceeded"));
    }
    if (packet.qos === 2 && packet.dup && this.aedes) {
      // A QoS2 publish sent again because our PUBREC was lost: already committed, not stored twice.
      const persistence = (this.aedes as unknown as { persistence: QoS2Store }).persistence;
      persistence.incomingGetPacket(client, packet).then(
        () => done(null),
        () => this.hold(client, packet, done),
      );
      return;
    }
    this.hold(client, packet, done);
  }

  private hold(client: Client, packet: PublishPacket, done: (error?: Error | null) => void): void {
    const pending = this.opts.onPublish(packet, client);
    if (pending === undefined) return done(null);
    this.held.set(client, (this.held.get(client) ?? 0) + 1);
    pending.then(
      () => {
        this.held.set(client, (this.held.get(client) ?? 1) - 1);
        done(null);
      },
      (err: Error) => {
        this.held.set(client, (this.held.get(client) ?? 1) - 1);
        done(err);
      },
    );
  }

  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const user = this.users.get(client);
    if (user !== undefined && user.subscribe.some((f) => filterCovers(f, sub.topic))) return done(null, sub);
    this.refused(`subscribe ACL ${user?.username ?? "?"}`, () =>
      this.opts.log.warn(
        { client: client.id, username: user?.username, filter: sub.topic },
        "refused an MQTT subscription: not allowed for this user",
      ),
    );
    done(null, null);
  }
}

function listen(server: net.Server | HttpServer, hostPort: string): Promise<void> {
  const { host, port } = splitHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
