// The CoAP protocol's simulator module, loaded by `iggy-edge simulate` (never by the gateway).
import type { AdapterDeps, ProtocolContext, Simulator, SimulatorModule } from "../adapter.js";
import { targetOf } from "./exchange.js";
import type { CoapDeviceConfig, CoapSectionConfig } from "./schema.js";
import { CoapSimulator, parseFaults } from "./simulator.js";

export { CoapSimulator, parseFaults, type SimFault, type SimCounts } from "./simulator.js";

/**
 * Devices with a `url` serve their resources there; server-mode devices push to the gateway's
 * `coap.listen` every IGGY_EDGE_COAP_PUSH_MS (default 1000) and on every change. Faults can be set
 * from the start with IGGY_EDGE_COAP_FAULTS (see parseFaults).
 */
export function createSimulator(
  devices: CoapDeviceConfig[],
  context: ProtocolContext<CoapSectionConfig>,
  deps: AdapterDeps,
): Simulator {
  const every = Number(process.env.IGGY_EDGE_COAP_PUSH_MS ?? 1000);
  return new CoapSimulator(devices, {
    log: deps.log.child({ role: "simulator" }),
    gateway: targetOf(`coap://${context.section?.listen ?? "127.0.0.1:5683"}`),
    pushEveryMs: Number.isFinite(every) && every >= 0 ? every : 1000,
    faults: parseFaults(process.env.IGGY_EDGE_COAP_FAULTS),
  });
}

const mod: SimulatorModule<CoapDeviceConfig, CoapSectionConfig> = { createSimulator };
export default mod;
