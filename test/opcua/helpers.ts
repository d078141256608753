// Shared by the OPC-UA tests: device configs through the real schema, a recording log and buffer.
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { Writable } from "node:stream";
import pino from "pino";
import type { AdapterDeps, Reading } from "../../protocols/adapter.js";
import { OpcuaAdapter, type OpcuaAdapterOptions } from "../../protocols/opcua/adapter.js";
import { opcuaDevice as deviceSchema, type OpcuaDeviceConfig } from "../../protocols/opcua/schema.js";
import { freePort, tempDir } from "../iggy/helpers.js";
import { hasPythonModule, requirePeer } from "../helpers/peers.js";
import { AsyncuaPeer, type PeerOptions } from "./asyncua-peer.js";

export function opcuaDevice(d: Record<string, unknown>): OpcuaDeviceConfig {
  const parsed = deviceSchema.parse({ protocol: "opcua", ...d });
  if (parsed.protocol !== "opcua") throw new Error("not opcua");
  return parsed;
}

export interface Recorder {
  deps: AdapterDeps;
  logs: Record<string, unknown>[];
  text: () => string;
  rejects: { reason: string; device?: string | undefined }[];
  readings: Reading[];
  emit: (rs: Reading[]) => Promise<void>;
  messages(msg: string, device?: string): Record<string, unknown>[];
}

export function recorder(): Recorder {
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      raw.push(chunk.toString());
      for (const line of chunk.toString().split("\n"))
        if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const rejects: Recorder["rejects"] = [];
  const readings: Reading[] = [];
  return {
    logs,
    text: () => raw.join(""),
    rejects,
    readings,
    deps: {
      log: pino({ level: "debug" }, stream),
      reject: (reason, device) => rejects.push({ reason, device }),
    },
    emit: async (rs) => {
      readings.push(...rs);
    },
    messages: (msg, device) =>
      logs.filter((l) => l.msg === msg && (device === undefined || l.device === device)),
  };
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
