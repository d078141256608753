// Shared by the client-mode tests: an MQTT adapter reading one device from a private Mosquitto,
// a buffer under the test's control (commit, hold, refuse per emit), and what Mosquitto's log says
// about one client's packets.
import type { TestContext } from "node:test";
import type { Emit, EmitOptions, Reading } from "../../protocols/adapter.js";
import { MqttAdapter } from "../../protocols/mqtt/adapter.js";
import { configSchema } from "../../protocols/config-schema.js";
import { protocolContext } from "../../protocols/registry.js";
import { mqttDevices, recorder, run, waitFor, type Mosquitto } from "./helpers.js";

export const CLIENT_ID = "edge-test";

export function mosquittoPub(m: Mosquitto, args: string[]) {
  return run("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(m.port), ...args]);
}

export interface SiteRig {
  adapter: MqttAdapter;
  rec: ReturnType<typeof recorder>;
}

/**
 * An adapter with one device at Mosquitto `m`: `points` (default: co2 at QoS1 on site/hall-2/co2 and
 * a writable fan), connection settings merged over the defaults. Resolves once Mosquitto logged the
 * subscription of the first point's filter.
 */
export async function siteAdapter(
  t: TestContext,
  m: Mosquitto,
  opts: {
    emit?: Emit;
    connection?: Record<string, unknown>;
    points?: Record<string, unknown>[];
    clientId?: string;
  } = {},
): Promise<SiteRig> {
  const clientId = opts.clientId ?? CLIENT_ID;
  const points = opts.points ?? [
    { name: "co2", topic: "site/hall-2/co2", qos: 1, unit: "ppm" },
    {
      name: "fan",
      topic: "site/hall-2/fan",
      decode: "boolean",
      qos: 0,
      command_topic: "site/hall-2/fan/set",
      write: true,
    },
  ];
  const config = configSchema.parse({
    gateway: { id: "gw", data_dir: "/nonexistent" },
    devices: [
      {
        id: "hall-2",
        protocol: "mqtt",
        connection: {
          url: `mqtt://127.0.0.1:${m.port}`,
          client_id: clientId,
          reconnect_min_ms: 50,
          reconnect_max_ms: 200,
          ...opts.connection,
        },
        points,
      },
    ],
  });
  const rec = recorder();
  const adapter = new MqttAdapter(mqttDevices(config), protocolContext(config, "mqtt"), rec.deps);
  await adapter.start(opts.emit ?? rec.emit);
  t.after(() => adapter.stop());
  // Mosquitto logs the filter as subscribed: named wildcards are plain '+'.
  const first = (points[0]!.topic as string).replace(/\+[A-Za-z_][A-Za-z0-9_]*/g, "+");
  await waitFor("connected and subscribed", () => subscriptions(m, clientId, first) >= 1, 10_000);
  return { adapter, rec };
}

/** How often Mosquitto logged `clientId` subscribing to `filter`. */
export function subscriptions(m: Mosquitto, clientId: string, filter: string, from = 0): number {
  const line = new RegExp(`\\b${clientId} \\d ${filter.replace(/[+#/]/g, (c) => `\\${c}`)}\\b`, "g");
  return (m.log().slice(from).match(line) ?? []).length;
}

/** Acknowledgements Mosquitto received from `clientId` (PUBACK or PUBREC), in log order, from log offset `from`. */
export function acksReceived(m: Mosquitto, clientId: string, kind: "PUBACK" | "PUBREC", from = 0): number[] {
  const re = new RegExp(`Received ${kind} from ${clientId} \\(Mid: (\\d+)`, "g");
  return [...m.log().slice(from).matchAll(re)].map((x) => Number(x[1]));
}

export interface HeldEmit {
  readings: Reading[];
  options: EmitOptions | undefined;
  release(): void;
  refuse(err: Error): void;
}

/** A buffer whose every emit waits until the test releases (or refuses) it. */
export class HoldingBuffer {
  readonly calls: HeldEmit[] = [];
  readonly committed: Reading[] = [];

  readonly emit: Emit = (readings, options) =>
    new Promise<void>((resolve, reject) => {
      let settled = false;
      this.calls.push({
        readings: [...readings],
        options,
        release: () => {
          if (settled) return;
          settled = true;
          this.committed.push(...readings);
          resolve();
        },
        refuse: (err) => {
          if (settled) return;
          settled = true;
          reject(err);
        },
      });
    });

  /** Emits that hold a reading with `value`. */
  holding(value: unknown): HeldEmit[] {
    return this.calls.filter((c) => c.readings.some((r) => r.value === value));
  }

  releaseAll(): void {
    for (const c of this.calls) c.release();
  }
}
