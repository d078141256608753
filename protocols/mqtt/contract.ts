// MQTT in the adapter contract suite (test/protocols/contract.ts): devices of the project's own
// simulator (mqtt.js clients) publish QoS1 to the adapter's embedded broker on a free loopback port.
// A device learns its acknowledgement from the PUBACK its client receives. `contractMqtt5`: the same
// with the broker on aedes 2 (mqtt.broker.mqtt5) and the devices speaking MQTT 5.
import { tmpdir } from "node:os";
import type { AdapterDeps, Emit, ProtocolContext } from "../adapter.js";
import type { ContractEntry, ContractRig } from "../contract-entry.js";
import { MqttAdapter } from "./adapter.js";
import { mqttDevice, mqttSection, type MqttDeviceConfig, type MqttSectionConfig } from "./schema.js";
import { MqttSimulator } from "./simulator.js";

const WRITE_RANGE = { min: 5, max: 30 };
const LOGIN = { username: "contract", password: "contract-pw" };

function deviceConfig(id: string): MqttDeviceConfig {
  const parsed = mqttDevice.parse({
    id,
    protocol: "mqtt",
    points: [
      { name: "level", topic: `contract/${id}/level`, decode: "number", qos: 1 },
      {
        name: "setpoint",
        topic: `contract/${id}/setpoint`,
        decode: "number",
        qos: 1,
        command_topic: `contract/${id}/setpoint/set`,
        write: WRITE_RANGE,
      },
    ],
  });
  if (parsed.protocol !== "mqtt") throw new Error("not an mqtt device");
  return parsed;
}

class MqttRig implements ContractRig {
  readonly adapter: MqttAdapter;
  readonly devices: string[];
  private sim: MqttSimulator | null = null;
  private readonly awayFrom = new Map<string, number>();
  private closed = false;

  constructor(
    private readonly configs: MqttDeviceConfig[],
    private readonly context: ProtocolContext<MqttSectionConfig>,
    private readonly deps: AdapterDeps,
    private readonly protocolVersion: 4 | 5,
  ) {
    this.devices = configs.map((d) => d.id);
    this.adapter = new MqttAdapter(configs, context, deps, { listen: "127.0.0.1:0" });
  }

  writable(): { point: string; min: number; max: number } {
    return { point: "setpoint", ...WRITE_RANGE };
  }

  readOnly(): string {
    return "level";
  }

  async start(emit: Emit): Promise<void> {
    await this.adapter.start(emit);
    const at = this.adapter.brokerAddress()!;
    this.sim = new MqttSimulator(this.configs, this.context, {
      ratePerPoint: 0,
      reconnectMs: 50,
      brokerUrl: `mqtt://127.0.0.1:${at.port}`,
      credentials: LOGIN,
      protocolVersion: this.protocolVersion,
      log: this.deps.log.child({ role: "simulator" }),
    });
    await this.sim.start();
  }

  produce(device: string, value: number): void {
    this.mustSim().publish(device, "level", value);
  }

  acks(device: string): number {
    return this.mustSim().counts()[device]?.acked ?? 0;
  }

  roundTrip(device: string): Promise<void> {
    return this.mustSim().probe(device);
  }

  refusals(): number {
    return this.adapter.stats().refused;
  }

  writesSeen(device: string): number {
    return this.sim?.counts()[device]?.commands ?? 0;
  }

  valueOf(device: string, point: string): unknown {
    return this.mustSim().value(device, point);
  }

  misbehave(device: string): void {
    const sim = this.mustSim();
    sim.setFault(device, { kind: "garbage" });
    sim.publish(device, "level", 0);
  }

  async goAway(device: string): Promise<void> {
    const sim = this.mustSim();
    this.awayFrom.set(device, sim.counts()[device]?.connects ?? 0);
    // The device's connection fails (no DISCONNECT) every 20 ms; it keeps reconnecting, publishing nothing.
    sim.setFault(device, { kind: "disconnect", everyMs: 20 });
  }

  attemptsWhileAway(device: string): number {
    return (this.mustSim().counts()[device]?.connects ?? 0) - (this.awayFrom.get(device) ?? 0);
  }

  async comeBack(device: string): Promise<void> {
    const sim = this.mustSim();
    sim.setFault(device, null);
    await sim.connected(device);
  }

  async stopDevices(): Promise<void> {
    await this.sim?.stop();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.sim?.stop();
    await this.adapter.stop();
  }

  private mustSim(): MqttSimulator {
    if (this.sim === null) throw new Error("the simulated MQTT devices start with the rig (start)");
    return this.sim;
  }
}

function entry(protocolVersion: 4 | 5): ContractEntry {
  return {
    async setup({ devices, deps }) {
      const configs = Array.from({ length: devices }, (_, i) => deviceConfig(`mqtt-${i + 1}`));
      const section = mqttSection.parse({
        broker: {
          users: [{ ...LOGIN, publish: ["#"], subscribe: ["#"] }],
          persist: false,
          mqtt5: protocolVersion === 5,
        },
      });
      const context: ProtocolContext<MqttSectionConfig> = {
        gatewayId: "contract",
        dataDir: tmpdir(),
        section,
      };
      return new MqttRig(configs, context, deps, protocolVersion);
    },
  };
}

export const contract = entry(4);
export const contractMqtt5 = entry(5);
