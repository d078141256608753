// Modbus in the adapter contract suite (test/protocols/contract.ts): the adapter polls devices of
// the project's own simulator, each on a port of its own. A polled device gets no acknowledgement;
// its readings count as collected once their emit resolved (the adapter's `readings` counter).
import type { AdapterDeps, Emit } from "../adapter.js";
import type { ContractEntry, ContractRig } from "../contract-entry.js";
import { ModbusAdapter } from "./adapter.js";
import { modbusDevice, type ModbusDeviceConfig } from "./schema.js";
import { ModbusSimulator } from "./simulator.js";

const WRITE_RANGE = { min: 5, max: 30 };

function deviceConfig(id: string): ModbusDeviceConfig {
  const parsed = modbusDevice.parse({
    id,
    protocol: "modbus",
    poll_ms: 25,
    connection: { host: "127.0.0.1", port: 1, timeout_ms: 250, retries: 0 },
    points: [
      { name: "level", address: "holding:0", type: "uint16" },
      { name: "setpoint", address: "holding:1", type: "uint16", write: WRITE_RANGE },
    ],
  });
  // Port 0: the simulator listens on a free port for each device (the schema wants 1..65535).
  return { ...parsed, connection: { ...parsed.connection, port: 0 } };
}

class ModbusRig implements ContractRig {
  readonly adapter: ModbusAdapter;
  readonly devices: string[];
  private readonly awayFrom = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly sim: ModbusSimulator,
    configs: ModbusDeviceConfig[],
    deps: AdapterDeps,
  ) {
    this.devices = configs.map((d) => d.id);
    const gateway = configs.map((d) => {
      const at = sim.address(d.id) as { host: string; port: number };
      return { ...d, connection: { ...d.connection, port: at.port } };
    });
    // Probes of a device that is down every 100-200 ms, so a test sees several in little time.
    this.adapter = new ModbusAdapter(gateway, deps, { maxProbeBackoffMs: 200 });
  }

  writable(): { point: string; min: number; max: number } {
    return { point: "setpoint", ...WRITE_RANGE };
  }

  readOnly(): string {
    return "level";
  }

  start(emit: Emit): Promise<void> {
    return this.adapter.start(emit);
  }

  produce(device: string, value: number): void {
    this.sim.set(device, "level", value);
  }

  acks(device: string): number {
    return this.adapter.stats()[device]?.readings ?? 0;
  }

  async roundTrip(device: string): Promise<void> {
    // A read of its own on the device's line, outside the schedule (its readings go nowhere).
    await this.adapter.pollOnce(device);
  }

  refusals(): number {
    return Object.values(this.adapter.stats()).reduce((n, s) => n + s.emitFailures, 0);
  }

  writesSeen(device: string): number {
    return this.sim.writeCounts()[device] ?? 0;
  }

  valueOf(device: string, point: string): unknown {
    return this.sim.get(device, point);
  }

  misbehave(device: string): void {
    this.sim.fault(device, { kind: "exception", code: 4 });
  }

  async goAway(device: string): Promise<void> {
    this.awayFrom.set(device, this.sim.requestCounts()[device] ?? 0);
    this.sim.fault(device, { kind: "drop" });
  }

  attemptsWhileAway(device: string): number {
    return (this.sim.requestCounts()[device] ?? 0) - (this.awayFrom.get(device) ?? 0);
  }

  async comeBack(device: string): Promise<void> {
    this.sim.fault(device, null);
  }

  async stopDevices(): Promise<void> {
    // The simulator is a server the adapter connects to: it keeps serving.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.adapter.stop();
    await this.sim.stop();
  }
}

export const contract: ContractEntry = {
  async setup({ devices, deps }) {
    const configs = Array.from({ length: devices }, (_, i) => deviceConfig(`modbus-${i + 1}`));
    const sim = new ModbusSimulator(configs, { animateMs: 0, log: deps.log.child({ role: "simulator" }) });
    await sim.start();
    try {
      return new ModbusRig(sim, configs, deps);
    } catch (e) {
      await sim.stop();
      throw e;
    }
  },
};
