// The embedded broker: aedes over TCP (or TLS) and optionally WebSocket, with credentials, a per-user
// topic ACL and bounds on connections, packet size and publishes waiting for their commit.
//
// Two engines: aedes 1.2.0 speaks MQTT 3.1 and 3.1.1; with `mqtt5: true` the broker runs on aedes
// 2.0.0-beta.1 (package alias "aedes2", pinned), which speaks 3.1.1 and 5. The beta predates 1.2.0's
// security fixes, so this file adds their equivalents on it (see harden()).
//
// Holding the acknowledgement: aedes writes a QoS1 PUBACK before its `published` hook runs, but it
// calls `authorizePublish` first, for every QoS, and sends PUBACK (QoS1) or PUBREC (QoS2) only when
// that callback reports success. So the readings are handed to the buffer inside authorizePublish and
// the callback waits for the commit. A publish that is not taken: an MQTT 3.1.1 connection is closed
// without an acknowledgement (the device sends it again after it reconnects); an MQTT 5 one gets its
// PUBACK/PUBREC with a reason code (0x87 not authorized, 0x97 quota exceeded, 0x99 payload format
// invalid) and stays open. aedes 2 answers every refusal with 0x87, so the broker writes that
// acknowledgement itself and marks the packet as refused (aedes' `_notAuthorized`), which makes aedes
// neither acknowledge nor forward it.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import net, { type AddressInfo } from "node:net";
import type { Readable, Writable } from "node:stream";
import {
  Aedes,
  type AedesPublishPacket,
  type AuthenticateError,
  type Client,
  type PublishPacket,
  type Subscription,
} from "aedes";
import mqttPacket from "mqtt-packet";
import type { Logger } from "pino";
import type { WebSocketServer } from "ws";
import { BurstLog } from "../burst-log.js";
import { NoAnswerError } from "./commands.js";
import { guardFrames } from "./frame-guard.js";
import { Credentials, type BrokerUserConfig } from "./password.js";
import { memoryPersistence } from "./persistence.js";
import type { BrokerConfig } from "./schema.js";
import { filterCovers, topicMatches } from "./topic.js";

export type { BrokerConfig };

/**
 * Returns a promise when the publish must not be acknowledged before it settles. A rejection with
 * PayloadRefused: the payload was not taken; any other rejection: the buffer refused it.
 */
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

/** MQTT 5 reason codes of a PUBACK/PUBREC that refuses a publish. */
export const ReasonCode = {
  notAuthorized: 0x87,
  quotaExceeded: 0x97,
  payloadFormatInvalid: 0x99,
} as const;

/** No point's decoder takes the payload: MQTT 5 answers 0x99; MQTT 3.1.1 acknowledges it, as ever. */
export class PayloadRefused extends Error {}

/** The MQTT 5 properties of a command the broker publishes. */
export interface CommandProperties {
  responseTopic?: string;
  correlationData?: Buffer;
  messageExpiryInterval?: number;
}

const ANONYMOUS: BrokerUserConfig = { username: "", publish: ["#"], subscribe: ["#"] };
/** Room for a topic name and properties next to the largest payload allowed. */
const PACKET_OVERHEAD = 64 * 1024;
const LOG_QUIET_MS = 10_000;
/** A topic no user can subscribe to: filters aedes 2 cannot hold are rewritten to it. */
const REFUSED_FILTER = "$iggy-edge/refused";
/** MQTT 5 sessions the broker keeps waiting for their client at most. */
const PENDING_SESSIONS_LIMIT = 100_000;

interface QoS2Store {
  incomingGetPacket(client: Client, packet: PublishPacket): Promise<unknown>;
  incomingStorePacket(client: Client, packet: PublishPacket): Promise<unknown>;
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<unknown>;
  cleanIncoming?(client: { id: string }): Promise<unknown>;
}

/** What aedes 2 adds to a client, as far as this file uses it. */
interface V5Client {
  version: number;
  clean: boolean;
  /** Between CONNECT and the end of its handling: publishes after CONNACK may come before `connected`. */
  connecting: boolean;
  connected: boolean;
  _requestProblemInformation?: boolean;
  _parser?: { prependListener(event: "packet", fn: (packet: unknown) => void): void };
  subscriptions?: object;
  duplicates?: object;
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

/** A name an object literal already has (`constructor`, `__proto__`): aedes 2 keys plain objects by ids and topics. */
function prototypeKey(s: string): boolean {
  return s in Object.prototype;
}

export class EmbeddedBroker {
  private aedes: Aedes | null = null;
  private server: net.Server | null = null;
  private http: HttpServer | null = null;
  private wss: WebSocketServer | null = null;
  private readonly sockets = new Set<net.Socket>();
  private readonly users = new WeakMap<Client, BrokerUserConfig>();
  private readonly held = new WeakMap<Client, number>();
  /** aedes 2: QoS2 message ids of each client id stored and awaiting PUBREL (aedes 1.2 bounds them itself). */
  private readonly awaitingRelease = new Map<string, Set<number>>();
  /** Commands waiting for their device's answer, by response topic and correlation data (hex). */
  private readonly answers = new Map<string, Map<string, (packet: AedesPublishPacket) => void>>();
  /** Connections (streams) that sent DISCONNECT. */
  private readonly saidGoodbye = new WeakSet<object>();
  private readonly credentials: Credentials;
  private readonly bursts: BurstLog;
  private v5 = false;
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

  /** The broker speaks MQTT 5 (aedes 2) besides 3.1.1. */
  get mqtt5(): boolean {
    return this.v5;
  }

  async start(): Promise<void> {
    const c = this.opts.config;
    this.v5 = c.mqtt5;
    const Engine = c.mqtt5 ? ((await import("aedes2")).Aedes as unknown as typeof Aedes) : Aedes;
    const hooks = {
      authenticate: (
        client: Client,
        username: string | undefined,
        password: Buffer | undefined,
        done: (error: AuthenticateError | null, success: boolean | null) => void,
      ) => this.authenticate(client, username, password, done),
      authorizePublish: (
        client: Client | null,
        packet: PublishPacket,
        done: (error?: Error | null) => void,
      ) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (
        client: Client,
        sub: Subscription,
        done: (error: Error | null, subscription?: Subscription | null) => void,
      ) => this.authorizeSubscribe(client, sub, done),
    };
    // Otherwise mqtt-packet's writer fills a table of all 65,536 two-byte packet ids on the first
    // packet it writes (+7 MiB RSS once one device connects), to save a 2-byte buffer per packet.
    mqttPacket.writeToStream.cacheNumbers = false;
    const aedes = c.mqtt5
      ? await Engine.createBroker({
          // aedes-persistence 11 (cleanIncoming), not the 10.x the beta brings along.
          persistence: this.opts.persistence ?? memoryPersistence(),
          maxClientsIdLength: 256,
          topicAliasMaximum: c.topic_alias_maximum,
          maximumPacketSize: c.max_message_bytes + PACKET_OVERHEAD,
          receiveMaximum: c.max_inflight,
          sessionExpiryIntervalLimit: c.session_expiry_max_s,
          pendingSessionsLimit: PENDING_SESSIONS_LIMIT,
          ...hooks,
        } as Parameters<typeof Aedes.createBroker>[0])
      : await Engine.createBroker({
          ...(this.opts.persistence ? { persistence: this.opts.persistence } : {}),
          maxClientsIdLength: 256,
          maxInflightInbound: c.max_inflight,
          ...hooks,
        });
    this.aedes = aedes;
    if (c.mqtt5) this.harden(aedes);
    aedes.on("clientError", (client, err) => {
      if (this.unsupportedVersion(client, err)) return;
      this.opts.log.debug({ client: client.id, err: err.message }, "mqtt client error");
    });
    aedes.on("connectionError", (client, err) => {
      if (this.unsupportedVersion(client, err)) return;
      this.opts.log.debug({ client: client.id, err: err.message }, "mqtt connection error");
    });
    aedes.on("clientDisconnect", (client) => {
      if (c.mqtt5 && (client as unknown as V5Client).clean) this.forgetIncoming(client);
      this.opts.onClientGone?.(client, this.saidGoodbye.has(client.conn));
    });

    const handle = (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once("close", () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      this.guard(socket, socket.remoteAddress);
      this.adopt(aedes.handle(socket) as unknown as Client | undefined);
    };
    // node:tls is loaded only for a broker that listens with TLS.
    const server = c.tls
      ? (await import("node:tls")).createServer(
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
        this.adopt(aedes.handle(stream, req) as unknown as Client | undefined);
      });
      this.http = http;
      this.wss = wss;
      await listen(http, c.websocket.listen);
    }
    this.listening = true;
    this.opts.log.info(
      {
        listen: this.address(),
        websocket: this.websocketAddress(),
        tls: c.tls !== undefined,
        mqtt: c.mqtt5 ? "3.1.1 and 5 (aedes 2.0.0-beta.1)" : "3.1.1 (aedes 1.2)",
      },
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

  /**
   * Publishes as the broker itself (commands to devices). Resolves when handed to the subscribers.
   * `properties` reach MQTT 5 subscribers (aedes 2 only).
   */
  publish(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties?: CommandProperties,
  ): Promise<void> {
    const aedes = this.aedes;
    if (aedes === null) return Promise.reject(new Error("the embedded broker is not running"));
    const packet = { cmd: "publish", topic, payload, qos, retain, dup: false, messageId: 0 } as PublishPacket;
    if (properties !== undefined && Object.keys(properties).length > 0) packet.properties = properties;
    return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Publishes a command that carries `responseTopic` and fresh correlation data, and resolves with
   * the device's answer: the first publish on `responseTopic` with the same correlation data.
   */
  async request(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    retain: boolean,
    properties: CommandProperties & { responseTopic: string },
    timeoutMs: number,
  ): Promise<AedesPublishPacket> {
    const aedes = this.aedes;
    if (aedes === null) throw new Error("the embedded broker is not running");
    if (!this.v5) throw new Error("a command with a response topic needs mqtt.broker.mqtt5: true");
    const responseTopic = properties.responseTopic;
    let waiting = this.answers.get(responseTopic);
    if (waiting === undefined) {
      const fresh = new Map<string, (packet: AedesPublishPacket) => void>();
      this.answers.set(responseTopic, fresh);
      waiting = fresh;
      await new Promise<void>((resolve) =>
        aedes.subscribe(
          responseTopic,
          (packet, cb) => {
            const data = packet.properties?.correlationData;
            if (data !== undefined) fresh.get(Buffer.from(data).toString("hex"))?.(packet);
            cb();
          },
          resolve,
        ),
      );
    }
    const correlationData = randomBytes(16);
    const key = correlationData.toString("hex");
    let timer: NodeJS.Timeout | undefined;
    const answered = new Promise<AedesPublishPacket>((resolve, reject) => {
      waiting.set(key, resolve);
      timer = setTimeout(() => reject(new NoAnswerError(responseTopic, timeoutMs)), timeoutMs);
    });
    answered.catch(() => {}); // awaited after the publish, which may outlast the timeout
    try {
      await this.publish(topic, payload, qos, retain, { ...properties, correlationData });
      return await answered;
    } finally {
      clearTimeout(timer);
      waiting.delete(key);
    }
  }

  async stop(): Promise<void> {
    this.listening = false;
    const aedes = this.aedes;
    this.aedes = null;
    this.bursts.flush();
    this.answers.clear();
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

  /**
   * aedes 2.0.0-beta.1 lacks three fixes of aedes 1.1.3/1.2.0; their equivalents here:
   * - ids and topics as keys of plain objects (GHSA-52qw-whmv-87c5): a client id or a topic filter
   *   such as "constructor" or "__proto__" crashed the process. Its maps get no prototype, such
   *   client ids are refused (authenticate), such filters rewritten before aedes sees them (adopt).
   * - the QoS2 state of a clean session was never dropped (GHSA-p8r9-qf8w-p73r): dropped when the
   *   session ends (clientDisconnect, sessionExpired).
   * - no bound on QoS2 publishes awaiting PUBREL (GHSA-5jvp-3p2v-5qgf): counted here and held to
   *   max_inflight together with the publishes waiting for their commit.
   */
  private harden(aedes: Aedes): void {
    const broker = aedes as unknown as { clients: object; brokers: object; persistence: QoS2Store };
    broker.clients = Object.assign(Object.create(null) as object, broker.clients);
    broker.brokers = Object.assign(Object.create(null) as object, broker.brokers);
    const store = broker.persistence;
    const del = store.incomingDelPacket.bind(store);
    store.incomingDelPacket = (client, packet) => {
      const ids = this.awaitingRelease.get(client.id);
      if (ids !== undefined && packet.messageId !== undefined) {
        ids.delete(packet.messageId);
        if (ids.size === 0) this.awaitingRelease.delete(client.id);
      }
      return del(client, packet);
    };
    aedes.on("sessionExpired" as "clientDisconnect", (client) => this.forgetIncoming(client));
  }

  /** aedes 1 refused a CONNECT of a version it does not speak (MQTT 5): says how to allow it. */
  private unsupportedVersion(client: Client, err: Error): boolean {
    if ((err as { errorCode?: number }).errorCode !== 1) return false;
    const remote = (client.conn as net.Socket).remoteAddress ?? client.req?.socket.remoteAddress;
    this.refused("protocol version", () =>
      this.opts.log.warn(
        { remote },
        "refused an MQTT connection: unacceptable protocol version (MQTT 5 needs mqtt.broker.mqtt5: true)",
      ),
    );
    return true;
  }

  /** aedes 2: a clean session's QoS2 state goes with it. */
  private forgetIncoming(client: Client): void {
    this.awaitingRelease.delete(client.id);
    const store = (this.aedes as unknown as { persistence: QoS2Store } | null)?.persistence;
    store
      ?.cleanIncoming?.(client)
      .catch((err: Error) =>
        this.opts.log.debug(
          { client: client.id, err: err.message },
          "dropping a session's QoS2 state failed",
        ),
      );
  }

  /** aedes 2: a new connection's maps without prototype, and filters it cannot hold rewritten. */
  private adopt(client: Client | undefined): void {
    if (!this.v5 || client === undefined) return;
    const c = client as unknown as V5Client;
    c.subscriptions = Object.create(null) as object;
    c.duplicates = Object.create(null) as object;
    c._parser?.prependListener("packet", (packet) => {
      const p = packet as {
        cmd: string;
        subscriptions?: { topic: string }[];
        unsubscriptions?: string[];
      };
      if (p.cmd === "subscribe" && p.subscriptions !== undefined) {
        p.subscriptions.forEach((s, i) => {
          if (prototypeKey(s.topic)) s.topic = `${REFUSED_FILTER}/${i}`;
        });
      } else if (p.cmd === "unsubscribe" && p.unsubscriptions !== undefined) {
        p.unsubscriptions = p.unsubscriptions.map((t, i) => (prototypeKey(t) ? `${REFUSED_FILTER}/${i}` : t));
      }
    });
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
    if (prototypeKey(client.id)) {
      this.refused("client id", () =>
        this.opts.log.warn(
          { client: client.id, remote },
          "refused an MQTT connection: client id not allowed",
        ),
      );
      return done(new Refusal("identifier rejected", 2) as AuthenticateError, false);
    }
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
      return this.refuse(client, packet, done, {
        code: ReasonCode.notAuthorized,
        reason: `not authorized to publish to ${topic}`,
        kind: `publish ACL ${user?.username ?? "?"}`,
        what: "not allowed to publish to this topic",
        fields: { username: user?.username, topic },
      });
    }
    const size = packet.payload.length;
    if (size > this.opts.config.max_message_bytes) {
      return this.refuse(client, packet, done, {
        code: ReasonCode.quotaExceeded,
        reason: "message larger than max_message_bytes",
        kind: "message size",
        what: "message larger than max_message_bytes",
        fields: { topic, bytes: size, max_message_bytes: this.opts.config.max_message_bytes },
      });
    }
    if (packet.qos === 0) {
      this.opts.onPublish(packet, client);
      return done(null);
    }
    const held = (this.held.get(client) ?? 0) + (this.awaitingRelease.get(client.id)?.size ?? 0);
    if (held >= this.opts.config.max_inflight) {
      return this.refuse(client, packet, done, {
        code: ReasonCode.quotaExceeded,
        reason: "too many publishes waiting for their commit (max_inflight)",
        kind: "max_inflight",
        what: "too many publishes waiting for their commit",
        fields: { max_inflight: this.opts.config.max_inflight },
      });
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
    if (pending === undefined) return this.accepted(client, packet, done);
    this.held.set(client, (this.held.get(client) ?? 0) + 1);
    pending.then(
      () => {
        this.held.set(client, (this.held.get(client) ?? 1) - 1);
        this.accepted(client, packet, done);
      },
      (err: Error) => {
        this.held.set(client, (this.held.get(client) ?? 1) - 1);
        if (err instanceof PayloadRefused) {
          if (!this.isV5(client)) return this.accepted(client, packet, done); // as MQTT 3.1.1 always did
          return this.refuse(client, packet, done, {
            code: ReasonCode.payloadFormatInvalid,
            reason: err.message,
            kind: "payload",
            what: "no decoder of its points takes the payload",
            fields: { topic: packet.topic },
          });
        }
        if (!this.isV5(client)) return done(err); // the adapter logged the refusal
        this.answer(
          client,
          packet,
          ReasonCode.quotaExceeded,
          `the gateway's buffer refused it: ${err.message}`,
        );
        (packet as { _notAuthorized?: boolean })._notAuthorized = true;
        done(null);
      },
    );
  }

  private accepted(client: Client, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (this.v5 && packet.qos === 2 && packet.messageId !== undefined) {
      let ids = this.awaitingRelease.get(client.id);
      if (ids === undefined) this.awaitingRelease.set(client.id, (ids = new Set()));
      ids.add(packet.messageId);
    }
    done(null);
  }

  private isV5(client: Client): boolean {
    return this.v5 && (client as unknown as V5Client).version === 5;
  }

  /**
   * Refuses a publish: MQTT 5 gets an acknowledgement with the reason code (QoS1/2; QoS0 is dropped)
   * and the connection stays; MQTT 3.1.1 has no such acknowledgement, so the connection is closed.
   */
  private refuse(
    client: Client,
    packet: PublishPacket,
    done: (error?: Error | null) => void,
    r: { code: number; reason: string; kind: string; what: string; fields: Record<string, unknown> },
  ): void {
    if (!this.isV5(client)) {
      this.refused(r.kind, () =>
        this.opts.log.warn({ client: client.id, ...r.fields }, `closed an MQTT connection: ${r.what}`),
      );
      return done(new Error(r.reason));
    }
    const hex = `0x${r.code.toString(16)}`;
    this.refused(`${r.kind} (MQTT 5)`, () =>
      this.opts.log.warn(
        { client: client.id, reason_code: hex, ...r.fields },
        `refused an MQTT 5 publish with reason code ${hex}: ${r.what}`,
      ),
    );
    this.answer(client, packet, r.code, r.reason);
    (packet as { _notAuthorized?: boolean })._notAuthorized = true;
    done(null);
  }

  /** Writes an MQTT 5 PUBACK (QoS1) or PUBREC (QoS2) with a reason code for `packet`. */
  private answer(client: Client, packet: PublishPacket, code: number, reason: string): void {
    const c = client as unknown as V5Client;
    if (packet.qos === 0 || !(c.connecting || c.connected)) return; // as aedes' own write()
    const ack: mqttPacket.IPubackPacket | mqttPacket.IPubrecPacket = {
      cmd: packet.qos === 1 ? "puback" : "pubrec",
      reasonCode: code,
      ...(packet.messageId !== undefined ? { messageId: packet.messageId } : {}),
      ...(c._requestProblemInformation === false
        ? {}
        : { properties: { reasonString: reason.slice(0, 200) } }),
    };
    (client.conn as unknown as Writable).write(mqttPacket.generate(ack, { protocolVersion: 5 }));
  }

  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (error: Error | null, subscription?: Subscription | null) => void,
  ): void {
    const user = this.users.get(client);
    if (
      user !== undefined &&
      !sub.topic.startsWith(REFUSED_FILTER) &&
      user.subscribe.some((f) => filterCovers(f, sub.topic))
    )
      return done(null, sub);
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
