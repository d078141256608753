// Every protocol of the gateway and what the running gateway needs of them: loading a protocol's
// code when the config uses it, its context, its devices. Adding a protocol is a folder
// protocols/<name>/ (schema.ts, plugin.ts, index.ts, example.yaml, simulator), one line in PROTOCOLS
// and one in config-schema.ts. Nothing here loads a schema: the config arrives validated.
import type { ProtocolContext, ProtocolModule, SimulatorModule } from "./adapter.js";
import { coap } from "./coap/plugin.js";
import type { Config } from "./config-schema.js";
import { modbus } from "./modbus/plugin.js";
import { mqtt } from "./mqtt/plugin.js";
import { opcua } from "./opcua/plugin.js";
import type { ProtocolPlugin } from "./plugin.js";

export type { Config, DeviceConfig } from "./config-schema.js";

export const PROTOCOLS = [modbus, mqtt, coap, opcua] as const;

export class ProtocolNotAvailableError extends Error {
  override name = "ProtocolNotAvailableError";
}

export function protocolPlugin(name: string): ProtocolPlugin | undefined {
  return (PROTOCOLS as readonly ProtocolPlugin[]).find((p) => p.name === name);
}

function builtPlugin<K extends "load" | "loadSimulator">(
  name: string,
  part: K,
): ProtocolPlugin & Required<Pick<ProtocolPlugin, K>> {
  const plugin = protocolPlugin(name);
  if (plugin === undefined) throw new ProtocolNotAvailableError(`there is no protocol '${name}'`);
  if (plugin[part] === undefined) {
    throw new ProtocolNotAvailableError(`${plugin.title} is not built into this version of iggy-edge`);
  }
  return plugin as ProtocolPlugin & Required<Pick<ProtocolPlugin, K>>;
}

/** A protocol's adapter, imported now (and only now). */
export async function loadProtocol(name: string): Promise<ProtocolModule> {
  return (await builtPlugin(name, "load").load()) as unknown as ProtocolModule;
}

/** A protocol's simulator, imported now (and only now). */
export async function loadSimulator(name: string): Promise<SimulatorModule> {
  return (await builtPlugin(name, "loadSimulator").loadSimulator()) as unknown as SimulatorModule;
}

type SectionOf<N extends string> = N extends keyof Config ? NonNullable<Config[N]> : unknown;

/** What a protocol's code sees of the config besides its devices. */
export function protocolContext<N extends string>(config: Config, name: N): ProtocolContext<SectionOf<N>> {
  return {
    gatewayId: config.gateway.id,
    dataDir: config.gateway.data_dir,
    section: (config as Record<string, unknown>)[name] as SectionOf<N> | undefined,
  };
}

/** The enabled devices, grouped by protocol, in config order. */
export function devicesByProtocol<D extends { protocol: string; enabled: boolean }>(
  devices: readonly D[],
): Map<string, D[]> {
  const groups = new Map<string, D[]>();
  for (const d of devices) {
    if (!d.enabled) continue;
    const list = groups.get(d.protocol) ?? [];
    list.push(d);
    groups.set(d.protocol, list);
  }
  return groups;
}
