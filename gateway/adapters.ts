// Finds a protocol's code by name and loads it only when the config has a device of that protocol.
// A protocol is a folder protocols/<name>/ whose index exports createAdapter and createSimulator.
import type { DeviceConfig } from "../config/schema.js";
import type { ProtocolModule } from "../protocols/adapter.js";

export class ProtocolNotAvailableError extends Error {
  override name = "ProtocolNotAvailableError";
}

export async function loadProtocol(protocol: string): Promise<ProtocolModule> {
  const url = new URL(`../protocols/${protocol}/index.js`, import.meta.url);
  let mod: Partial<ProtocolModule>;
  try {
    mod = (await import(url.href)) as Partial<ProtocolModule>;
  } catch (e) {
    if (
      (e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND" &&
      String((e as Error).message).includes(`protocols/${protocol}/index.js`)
    ) {
      throw new ProtocolNotAvailableError(
        `protocol '${protocol}' is not built into this version of iggy-edge`,
      );
    }
    throw e;
  }
  if (typeof mod.createAdapter !== "function" || typeof mod.createSimulator !== "function") {
    throw new ProtocolNotAvailableError(
      `protocols/${protocol}/index.js does not export createAdapter and createSimulator`,
    );
  }
  return mod as ProtocolModule;
}

/** The enabled devices, grouped by protocol, in config order. */
export function devicesByProtocol(devices: readonly DeviceConfig[]): Map<string, DeviceConfig[]> {
  const groups = new Map<string, DeviceConfig[]>();
  for (const d of devices) {
    if (!d.enabled) continue;
    const list = groups.get(d.protocol) ?? [];
    list.push(d);
    groups.set(d.protocol, list);
  }
  return groups;
}
