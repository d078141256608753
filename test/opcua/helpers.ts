// Shared by the OPC-UA tests: device configs through the real schema, a recording log and buffer.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { OpcuaAdapter, type OpcuaAdapterOptions } from "../../protocols/opcua/adapter.js";
import { opcuaDevice as deviceSchema, type OpcuaDeviceConfig } from "../../protocols/opcua/schema.js";
import { freePort, tempDir } from "../iggy/helpers.js";
import { hasPythonModule, requirePeer } from "../helpers/peers.js";
import { AsyncuaPeer, type PeerOptions } from "./asyncua-peer.js";
import { recorder, type Recorder } from "../modbus/helpers.js";

export { recorder, type Recorder };

export function opcuaDevice(d: Record<string, unknown>): OpcuaDeviceConfig {
  const parsed = deviceSchema.parse({ protocol: "opcua", ...d });
  if (parsed.protocol !== "opcua") throw new Error("not opcua");
  return parsed;
}

/** The asyncua peer on a free port, killed when the test ends; null when asyncua is missing (skipped). */
export async function startPeer(
  t: TestContext,
  options: Partial<PeerOptions> = {},
): Promise<AsyncuaPeer | null> {
  if (
    !requirePeer(
      t,
      "asyncua (Python)",
      hasPythonModule("asyncua"),
      "pip install asyncua==2.1.0 (scripts/peers/requirements.txt)",
    )
  )
    return null;
  const peer = await AsyncuaPeer.start({ port: await freePort(), ...options });
  t.after(() => peer.stop());
  return peer;
}

/**
 * The asyncua peer with secure endpoints, its certificates in a temporary folder (`certs.path`), and
 * a data folder for the gateway (`data.path`); both removed when the test ends. Null when skipped.
 */
export async function startSecurePeer(
  t: TestContext,
  options: Partial<PeerOptions> = {},
): Promise<{ peer: AsyncuaPeer; certs: { path: string }; data: { path: string } } | null> {
  const certs = tempDir("iggy-edge-opcua-server-");
  t.after(() => certs.remove());
  const peer = await startPeer(t, { secureDir: certs.path, ...options });
  if (!peer) return null;
  const data = tempDir("iggy-edge-opcua-data-");
  t.after(() => data.remove());
  return { peer, certs, data };
}

/** An adapter on `devices` with its data directory in a temporary folder, stopped when the test ends. */
export function adapterFor(
  t: TestContext,
  devices: OpcuaDeviceConfig[],
  rec: Recorder,
  opts: OpcuaAdapterOptions = { retryInitialMs: 100, retryMaxMs: 500 },
  dataDir?: string,
): OpcuaAdapter {
  const dir = dataDir === undefined ? tempDir("iggy-edge-opcua-") : undefined;
  const adapter = new OpcuaAdapter(
    devices,
    { gatewayId: "gw-test", dataDir: dataDir ?? dir!.path },
    rec.deps,
    opts,
  );
  t.after(async () => {
    await adapter.stop();
    dir?.remove();
  });
  return adapter;
}

export { waitFor } from "../helpers/wait.js";

/**
 * Puts the secure peer's certificate (made in `secureDir` when it started) into the gateway's
 * trust list under `dataDir`, for tests about something other than trusting it.
 */
export function trustPeerCertificate(secureDir: string, dataDir: string): void {
  const dir = join(dataDir, "opcua", "pki", "trusted", "certs");
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(secureDir, "server_cert.der"), join(dir, "asyncua-peer.der"));
}
