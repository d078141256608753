// What the embedded broker keeps across restarts: retained messages and the subscriptions of
// persistent sessions, in a small SQLite file beside the buffer. aedes' in-memory persistence stays
// the working copy; changes are written behind (at most FLUSH_MS later, and on close), so a crash
// may forget the last half second of retained-state changes but never delays a publish. Messages
// queued for offline sessions and in-flight QoS2 state stay in memory. A retained MQTT 5 message
// keeps its properties and its expiry: one that expired while the gateway was down is not restored.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { decode as msgpackDecode, encode as msgpackEncode } from "@msgpack/msgpack";
import Database from "better-sqlite3";
import type { Logger } from "pino";

const require = createRequire(import.meta.url);
// The async in-memory implementation aedes uses by default; no ESM entry, hence require.
const MemoryPersistence = require("aedes-persistence/asyncPersistence.js") as new () => MemoryLike;
const AedesPacket = require("aedes-packet") as new (p: object, broker: unknown) => object;

const FLUSH_MS = 500;

interface Sub {
  topic: string;
  qos: number;
  rh?: number;
  rap?: boolean;
  nl?: boolean;
}

interface RetainedPacket {
  topic: string;
  payload: Buffer;
  qos: number;
  /** MQTT 5 properties (aedes 2). */
  properties?: Record<string, unknown>;
  /** When an MQTT 5 message expires, ms since the epoch (aedes 2). */
  messageExpiry?: number;
}

interface RetainedRow {
  topic: string;
  payload: Buffer;
  qos: number;
  expires_at: number | null;
  properties: Buffer | null;
}

interface MemoryLike {
  setup(broker: unknown): Promise<void>;
  storeRetained(packet: RetainedPacket): Promise<void>;
  addSubscriptions(client: { id: string }, subs: Sub[]): Promise<void>;
  removeSubscriptions(client: { id: string }, topics: string[]): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<void>;
  subscriptionsByClient(client: { id: string }): Promise<Sub[]>;
  destroy(): Promise<void>;
}

export interface BrokerStore {
  persistence: unknown;
  close(): Promise<void>;
}

/** aedes-persistence 11's in-memory persistence (the broker's when nothing is kept on disk). */
export function memoryPersistence(): unknown {
  return new MemoryPersistence();
}

/** Properties as stored: MessagePack, where Buffers (correlation data) stay bytes. */
function packProperties(p: Record<string, unknown> | undefined): Buffer | null {
  if (p === undefined) return null;
  const kept = Object.fromEntries(
    Object.entries(p).filter(([k, v]) => v !== undefined && k !== "topicAlias"),
  );
  return Object.keys(kept).length === 0 ? null : Buffer.from(msgpackEncode(kept));
}

function unpackProperties(b: Buffer): Record<string, unknown> {
  const p = msgpackDecode(b) as Record<string, unknown>;
  for (const [k, v] of Object.entries(p)) if (v instanceof Uint8Array) p[k] = Buffer.from(v);
  return p;
}

export async function openBrokerStore(dir: string, log: Logger): Promise<BrokerStore> {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, "broker.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.exec(`
    CREATE TABLE IF NOT EXISTS retained (topic TEXT PRIMARY KEY, payload BLOB NOT NULL, qos INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS subscriptions (
      client_id TEXT NOT NULL, topic TEXT NOT NULL, options TEXT NOT NULL, PRIMARY KEY (client_id, topic));
  `);
  // Files from before MQTT 5: retained rows without expiry and properties.
  const columns = new Set((db.pragma("table_info(retained)") as { name: string }[]).map((c) => c.name));
  if (!columns.has("expires_at")) db.exec("ALTER TABLE retained ADD COLUMN expires_at INTEGER");
  if (!columns.has("properties")) db.exec("ALTER TABLE retained ADD COLUMN properties BLOB");
  const putRetained = db.prepare(
    "INSERT OR REPLACE INTO retained (topic, payload, qos, expires_at, properties) VALUES (?, ?, ?, ?, ?)",
  );
  const delRetained = db.prepare("DELETE FROM retained WHERE topic = ?");
  const delClient = db.prepare("DELETE FROM subscriptions WHERE client_id = ?");
  const putSub = db.prepare("INSERT INTO subscriptions (client_id, topic, options) VALUES (?, ?, ?)");

  const dirtyRetained = new Map<string, RetainedPacket | null>();
  const dirtyClients = new Set<string>();
  let timer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  class SqlitePersistence extends MemoryPersistence {
    override async setup(broker: unknown): Promise<void> {
      await super.setup(broker);
      const now = Date.now();
      const expired = db.prepare("DELETE FROM retained WHERE expires_at IS NOT NULL AND expires_at <= ?");
      expired.run(now);
      const retained = db
        .prepare("SELECT topic, payload, qos, expires_at, properties FROM retained")
        .all() as RetainedRow[];
      for (const r of retained) {
        const original: Record<string, unknown> = {
          cmd: "publish",
          topic: r.topic,
          payload: r.payload,
          qos: r.qos,
          retain: true,
        };
        if (r.properties !== null) original.properties = unpackProperties(r.properties);
        if (r.expires_at !== null) original.messageExpiry = r.expires_at;
        await super.storeRetained(new AedesPacket(original, broker) as RetainedPacket);
      }
      const rows = db
        .prepare("SELECT client_id, topic, options FROM subscriptions ORDER BY client_id")
        .all() as {
        client_id: string;
        topic: string;
        options: string;
      }[];
      const byClient = new Map<string, Sub[]>();
      for (const r of rows) {
        const list = byClient.get(r.client_id) ?? [];
        list.push({ topic: r.topic, ...(JSON.parse(r.options) as Omit<Sub, "topic">) });
        byClient.set(r.client_id, list);
      }
      for (const [id, subs] of byClient) await super.addSubscriptions({ id }, subs);
      if (retained.length > 0 || byClient.size > 0) {
        log.info(
          { retained: retained.length, sessions: byClient.size },
          "restored the MQTT broker's retained messages and sessions",
        );
      }
    }

    override async storeRetained(packet: RetainedPacket): Promise<void> {
      await super.storeRetained(packet);
      dirtyRetained.set(packet.topic, packet.payload.length === 0 ? null : packet);
      schedule();
    }

    override async addSubscriptions(client: { id: string }, subs: Sub[]): Promise<void> {
      await super.addSubscriptions(client, subs);
      dirtyClients.add(client.id);
      schedule();
    }

    override async removeSubscriptions(client: { id: string }, topics: string[]): Promise<void> {
      await super.removeSubscriptions(client, topics);
      dirtyClients.add(client.id);
      schedule();
    }

    override async cleanSubscriptions(client: { id: string }): Promise<void> {
      await super.cleanSubscriptions(client);
      dirtyClients.add(client.id);
      schedule();
    }
  }
  const persistence = new SqlitePersistence();

  const flush = async () => {
    timer = null;
    const clients = [...dirtyClients];
    dirtyClients.clear();
    const subs = await Promise.all(clients.map((id) => persistence.subscriptionsByClient({ id })));
    const retained = [...dirtyRetained];
    dirtyRetained.clear();
    if (!db.open) return;
    db.transaction(() => {
      for (const [topic, p] of retained) {
        if (p === null) delRetained.run(topic);
        else putRetained.run(topic, p.payload, p.qos, p.messageExpiry ?? null, packProperties(p.properties));
      }
      clients.forEach((id, i) => {
        delClient.run(id);
        for (const s of subs[i]!) {
          const { topic, ...options } = s;
          putSub.run(id, topic, JSON.stringify(options));
        }
      });
    })();
  };
  const schedule = () => {
    if (timer !== null || closed) return;
    timer = setTimeout(() => {
      flush().catch((e: Error) => log.error({ err: e.message }, "saving the MQTT broker state failed"));
    }, FLUSH_MS);
  };

  return {
    persistence,
    async close() {
      closed = true;
      if (timer !== null) clearTimeout(timer);
      await flush();
      db.close();
    },
  };
}
