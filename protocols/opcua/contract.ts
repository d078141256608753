// OPC-UA in the adapter contract suite (test/protocols/contract.ts): each device is an asyncua server
// (test/opcua/asyncua_server.py, not ours; started with the rig) behind a loopback TCP proxy that can cut the link and
// count the adapter's attempts to reconnect. A subscribed device gets no acknowledgement; its
// readings count as collected once their emit resolved (the adapter's `readings` counter).
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createServer, connect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsyncuaPeer } from "../../test/opcua/asyncua-peer.js";
import type { AdapterDeps, Emit } from "../adapter.js";
import type { ContractEntry, ContractRig } from "../contract-entry.js";
import { freePort } from "../free-port.js";
import { OpcuaAdapter } from "./adapter.js";
import { opcuaDevice, type OpcuaDeviceConfig } from "./schema.js";

const WRITE_RANGE = { min: 5, max: 30 };

/** One data directory per process: the gateway's application certificate is made once. */
let dataDir: Promise<string> | undefined;
function sharedDataDir(): Promise<string> {
  dataDir ??= mkdtemp(join(tmpdir(), "iggy-edge-opcua-contract-")).then((dir) => {
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    return dir;
  });
  return dataDir;
}

/** A TCP proxy in front of one server: `away` cuts every connection and refuses (and counts) new ones. */
class LinkProxy {
  away = false;
  attempts = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(private readonly upstreamPort: number) {
    this.server = createServer((down) => {
      this.attempts++;
      if (this.away) {
        down.destroy();
        return;
      }
      const up = connect(this.upstreamPort, "127.0.0.1");
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.once("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      down.pipe(up);
      up.pipe(down);
      down.once("close", () => up.destroy());
      up.once("close", () => down.destroy());
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return (this.server.address() as { port: number }).port;
  }

  cut(): void {
    this.away = true;
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function deviceConfig(id: string, port: number): OpcuaDeviceConfig {
  const parsed = opcuaDevice.parse({
    id,
    protocol: "opcua",
    connection: { endpoint: `opc.tcp://127.0.0.1:${port}`, timeout_ms: 2000 },
    points: [
      { name: "level", node: "ns=2;s=Level", sampling_ms: 20 },
      { name: "setpoint", node: "ns=2;s=W_Int32", type: "Int32", sampling_ms: 20, write: WRITE_RANGE },
    ],
  });
  return parsed;
}

interface Link {
  peer: AsyncuaPeer;
  proxy: LinkProxy;
  awayFrom: number;
}

class OpcuaRig implements ContractRig {
  readonly adapter: OpcuaAdapter;
  readonly devices: string[];
  private closed = false;

  constructor(
    private readonly links: Map<string, Link>,
    configs: OpcuaDeviceConfig[],
    deps: AdapterDeps,
    dir: string,
  ) {
    this.devices = configs.map((d) => d.id);
    this.adapter = new OpcuaAdapter(configs, { gatewayId: "contract", dataDir: dir }, deps, {
      retryInitialMs: 100,
      retryMaxMs: 200,
    });
  }

  private link(device: string): Link {
    const l = this.links.get(device);
    if (!l) throw new Error(`no device ${device}`);
    return l;
  }

  writable(): { point: string; min: number; max: number } {
    return { point: "setpoint", ...WRITE_RANGE };
  }

  readOnly(): string {
    return "level";
  }

  /** The servers start here, not in setup: a rig that is never started costs no Python process. */
  async start(emit: Emit): Promise<void> {
    await Promise.all([...this.links.values()].map((l) => l.peer.start()));
    await this.adapter.start(emit);
  }

  produce(device: string, value: number): void {
    this.link(device).peer.set("Level", value);
  }

  acks(device: string): number {
    return this.adapter.stats()[device]?.readings ?? 0;
  }

  async roundTrip(device: string): Promise<void> {
    await this.adapter.readOnce(device);
    await this.link(device).peer.ping();
  }

  refusals(): number {
    return Object.values(this.adapter.stats()).reduce((n, s) => n + s.emitFailures, 0);
  }

  writesSeen(device: string): number {
    return this.link(device).peer.writes.length;
  }

  valueOf(device: string, point: string): unknown {
    const node = point === "setpoint" ? "W_Int32" : point;
    return this.link(device).peer.writesTo(node).at(-1)?.value;
  }

  misbehave(device: string): void {
    this.link(device).peer.status("Level", "BadSensorFailure");
  }

  async goAway(device: string): Promise<void> {
    const l = this.link(device);
    l.awayFrom = l.proxy.attempts;
    l.proxy.cut();
  }

  attemptsWhileAway(device: string): number {
    const l = this.link(device);
    return l.proxy.attempts - l.awayFrom;
  }

  async comeBack(device: string): Promise<void> {
    this.link(device).proxy.away = false;
  }

  async stopDevices(): Promise<void> {
    // The servers started with the rig: they go, so that only the adapter's own handles remain.
    await Promise.all([...this.links.values()].map((l) => l.peer.stop()));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adapter.stop();
    await Promise.all([...this.links.values()].map((l) => Promise.all([l.proxy.close(), l.peer.stop()])));
  }
}

export const contract: ContractEntry = {
  async setup({ devices, deps }) {
    const ids = Array.from({ length: devices }, (_, i) => `opcua-${i + 1}`);
    const links = new Map<string, Link>();
    try {
      await Promise.all(
        ids.map(async (id) => {
          const peer = new AsyncuaPeer({ port: await freePort(), animateMs: 0 });
          const proxy = new LinkProxy(peer.options.port);
          links.set(id, { peer, proxy, awayFrom: 0 });
        }),
      );
      const configs: OpcuaDeviceConfig[] = [];
      for (const id of ids) configs.push(deviceConfig(id, await links.get(id)!.proxy.listen()));
      return new OpcuaRig(links, configs, deps, await sharedDataDir());
    } catch (e) {
      await Promise.all(
        [...links.values()].map((l) => Promise.all([l.proxy.close().catch(() => undefined), l.peer.stop()])),
      );
      throw e;
    }
  },
};
