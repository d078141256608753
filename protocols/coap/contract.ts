// CoAP in the adapter contract suite (test/protocols/contract.ts): server mode. Simulated devices of
// the project's own simulator push their readings to the adapter's CoAP server with confirmable POSTs
// (one at a time, and every 100 ms all their points, so a silent device is one that went away), and
// each serves its resources on a free port, where the adapter's writes go. A device learns its
// acknowledgement from the 2.01 it receives; a device silent for silence_ms is down.
import type { AdapterDeps, Emit, ProtocolContext } from "../adapter.js";
import type { ContractEntry, ContractRig } from "../contract-entry.js";
import { CoapAdapter } from "./adapter.js";
import { coapDevice, coapSection, type CoapDeviceConfig, type CoapSectionConfig } from "./schema.js";
import { CoapSimulator } from "./simulator.js";

const WRITE_RANGE = { min: 5, max: 30 };

function deviceConfig(id: string): CoapDeviceConfig {
  const parsed = coapDevice.parse({
    id,
    protocol: "coap",
    // Port 0: the simulator serves each device on a free port; the adapter is told which.
    connection: { mode: "server", url: "coap://127.0.0.1:0", silence_ms: 1500, timeout_ms: 2000 },
    points: [
      { name: "level", path: `/d/${id}/level` },
      { name: "setpoint", path: `/d/${id}/setpoint`, write: WRITE_RANGE },
    ],
  });
  if (parsed.protocol !== "coap") throw new Error("not a coap device");
  return parsed;
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

class CoapRig implements ContractRig {
  readonly adapter: CoapAdapter;
  readonly devices: string[];
  private readonly awayFrom = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly sim: CoapSimulator,
    configs: CoapDeviceConfig[],
    context: ProtocolContext<CoapSectionConfig>,
    deps: AdapterDeps,
  ) {
    this.devices = configs.map((d) => d.id);
    const gateway = configs.map((d) => {
      const at = sim.address(d.id);
      return { ...d, connection: { ...d.connection, url: `coap://127.0.0.1:${at.port}` } };
    });
    this.adapter = new CoapAdapter(gateway, context, deps, { listen: "127.0.0.1:0" });
  }

  writable(): { point: string; min: number; max: number } {
    return { point: "setpoint", ...WRITE_RANGE };
  }

  readOnly(): string {
    return "level";
  }

  async start(emit: Emit): Promise<void> {
    await this.adapter.start(emit);
    this.sim.pushTo(this.adapter.serverAddress()!);
  }

  produce(device: string, value: number): void {
    this.sim.set(device, "level", value);
  }

  acks(device: string): number {
    return this.sim.counts()[device]?.acked ?? 0;
  }

  async roundTrip(device: string): Promise<void> {
    await this.sim.probe(device);
  }

  refusals(): number {
    return this.adapter.stats().server?.refused ?? 0;
  }

  writesSeen(device: string): number {
    return this.sim.counts()[device]?.writes ?? 0;
  }

  valueOf(device: string, point: string): unknown {
    return this.sim.get(device, point);
  }

  misbehave(device: string): void {
    this.sim.fault(device, { kind: "garbage" });
    this.sim.set(device, "level", 0);
  }

  async goAway(device: string): Promise<void> {
    this.awayFrom.set(device, this.sim.counts()[device]?.pushes ?? 0);
    this.sim.fault(device, { kind: "drop" });
  }

  attemptsWhileAway(device: string): number {
    return (this.sim.counts()[device]?.pushes ?? 0) - (this.awayFrom.get(device) ?? 0);
  }

  async comeBack(device: string): Promise<void> {
    const acked = this.acks(device);
    this.sim.fault(device, null);
    await until(`${device}'s pushes answered again`, () => this.acks(device) > acked);
  }

  async stopDevices(): Promise<void> {
    await this.sim.stopPushers();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sim.stopPushers();
    await this.adapter.stop();
    await this.sim.stop();
  }
}

export const contract: ContractEntry = {
  async setup({ devices, deps }) {
    const configs = Array.from({ length: devices }, (_, i) => deviceConfig(`coap-${i + 1}`));
    const sim = new CoapSimulator(configs, {
      animateMs: 0,
      pushEveryMs: 100,
      log: deps.log.child({ role: "simulator" }),
    });
    await sim.start();
    const context: ProtocolContext<CoapSectionConfig> = {
      gatewayId: "contract",
      dataDir: "/tmp",
      section: coapSection.parse({ busy_max_age_s: 0 }),
    };
    try {
      return new CoapRig(sim, configs, context, deps);
    } catch (e) {
      await sim.stop();
      throw e;
    }
  },
};
