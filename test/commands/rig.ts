// The commands tests' rig: an Iggy server (dev-iggy in a child process, or Apache Iggy's own 0.8
// server), the Modbus simulator in this process (it counts the writes that reach each device),
// a "dead" Modbus device (a TCP server that accepts and never answers), the gateway as `iggy-edge run`
// in a child process, and `iggy-edge command` run as a user runs it.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { IggyClient, type PolledMessage } from "../../gateway/iggy/index.js";
import { decodeResult, type CommandResult } from "../../gateway/commands/message.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { parseConfig } from "../../gateway/config.js";
import { ModbusSimulator } from "../../protocols/modbus/simulator.js";
import type { ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import { closeAtEnd, killAtEnd } from "../helpers/cleanup.js";
import { cliPath } from "../helpers/cli.js";
import { startIggyServer } from "../helpers/iggy-server.js";
import { repoRoot } from "../helpers/peers.js";
import { waitFor } from "../helpers/wait.js";
import { freePort, spawnDev, PASSWORD, kill } from "../iggy/helpers.js";
import { tempDir } from "../mqtt/helpers.js";

export const GATEWAY = "cmd-gw";
export const STREAM = "iot";

export interface IggyPeer {
  address: string;
  username: string;
  password: string;
  /** The wire generation the gateway and the test's client speak. */
  protocol: "0.8" | "0.10";
}

export type IggyKind = "dev-iggy" | "dev-iggy 0.10" | "iggy 0.8";
export const IGGY_KINDS: IggyKind[] = ["dev-iggy", "dev-iggy 0.10", "iggy 0.8"];

/** An Iggy server of `kind`, stopped when the test ends; null when the real one is missing (outside CI). */
export async function startIggy(t: TestContext, kind: IggyKind): Promise<IggyPeer | null> {
  if (kind !== "iggy 0.8") {
    const { child, port } = await spawnDev([]);
    t.after(() => kill(child));
    return {
      address: `127.0.0.1:${port}`,
      username: "iggy",
      password: PASSWORD,
      protocol: kind === "dev-iggy" ? "0.8" : "0.10",
    };
  }
  const server = await startIggyServer(t);
  if (server === null) return null;
  return { address: server.address, ...server.credentials, protocol: "0.8" };
}

export function iggyClient(t: TestContext, iggy: IggyPeer): IggyClient {
  const client = new IggyClient({
    address: iggy.address,
    credentials: { username: iggy.username, password: iggy.password },
    protocol: iggy.protocol,
    requestTimeoutMs: 10_000,
    reconnect: { initialDelayMs: 10, maxDelayMs: 200 },
  });
  t.after(() => client.close());
  return client;
}

/**
 * A Modbus TCP device that answers register reads (with zeros) and never answers a write, counting
 * the write requests it gets.
 */
export async function hangingDevice(t: TestContext): Promise<{ port: number; writes(): number }> {
  let writes = 0;
  const server = closeAtEnd(
    t,
    createServer((socket) => {
      let pending = Buffer.alloc(0);
      socket.on("data", (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk]);
        // MBAP: transaction(2) protocol(2) length(2) unit(1), then the function code.
        while (pending.length >= 8 && pending.length >= 6 + pending.readUInt16BE(4)) {
          const fc = pending[7]!;
          if ([5, 6, 15, 16].includes(fc)) writes++;
          else if (fc === 3 || fc === 4) {
            const n = pending.readUInt16BE(10);
            const reply = Buffer.alloc(9 + 2 * n);
            pending.copy(reply, 0, 0, 4);
            reply.writeUInt16BE(3 + 2 * n, 4);
            reply[6] = pending[6]!;
            reply[7] = fc;
            reply[8] = 2 * n;
            socket.write(reply);
          }
          pending = pending.subarray(6 + pending.readUInt16BE(4));
        }
      });
      socket.on("error", () => undefined);
    }),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, writes: () => writes };
}

/** A TCP server that accepts connections and never answers: a Modbus device that hangs. */
export async function deadDevice(t: TestContext): Promise<number> {
  const server = closeAtEnd(
    t,
    createServer(() => undefined),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

export interface RigOptions {
  iggy: IggyPeer;
  /** YAML lines of the `devices:` list (indented by 2). */
  devices: string;
  /** Extra top-level YAML (an `mqtt:` section, say). */
  extra?: string;
  createMissing?: boolean;
}

export interface Gateway {
  child: ChildProcess;
  output(): string;
}

export interface Rig {
  dir: string;
  configFile: string;
  modbus: ModbusSimulator;
  /** The gateway's HTTP listener, host:port. */
  httpAddress: string;
  /** Starts the gateway (again, on the same data dir); ready once /readyz answers 200. */
  startGateway(): Promise<Gateway>;
  /** Runs `iggy-edge ARGS` to its end. */
  cli(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** `iggy-edge command -c CONFIG ARGS`. */
  command(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function makeRig(t: TestContext, o: RigOptions): Promise<Rig> {
  const dir = tempDir(t, "iggy-edge-commands-");
  const httpPort = await freePort();
  const configFile = join(dir, "config.yaml");
  writeFileSync(
    configFile,
    [
      `gateway: { id: ${GATEWAY}, data_dir: ${JSON.stringify(join(dir, "data"))} }`,
      `iggy: { address: "${o.iggy.address}", username: ${o.iggy.username}, password: "${o.iggy.password}", protocol: "${o.iggy.protocol}", create_missing: ${o.createMissing ?? true} }`,
      `http: { listen: "127.0.0.1:${httpPort}" }`,
      `commands: { poll_ms: 20, timeout_ms: 20000 }`,
      o.extra ?? "",
      "devices:",
      o.devices,
      "",
    ].join("\n"),
  );
  const { config } = parseConfig((await import("node:fs")).readFileSync(configFile, "utf8"), configFile);
  const modbusDevices = config.devices.filter(
    (d): d is ModbusDeviceConfig => d.protocol === "modbus" && d.enabled && !/^(dead|stuck)/.test(d.id),
  );
  const modbus = new ModbusSimulator(modbusDevices, { animateMs: 0 });
  await modbus.start();
  t.after(() => modbus.stop());

  const run = (args: string[], timeoutMs = 60_000) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [cliPath, ...args], {
        cwd: repoRoot,
        env: { ...process.env, IGGY_EDGE_CONFIG: undefined, IGGY_PASSWORD: undefined },
        stdio: ["ignore", "pipe", "pipe"],
      });
      killAtEnd(t, child);
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
      child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  return {
    dir,
    configFile,
    modbus,
    httpAddress: `127.0.0.1:${httpPort}`,
    async startGateway() {
      const child = killAtEnd(
        t,
        spawn(process.execPath, [cliPath, "run", "-c", configFile], {
          cwd: repoRoot,
          env: { ...process.env, IGGY_EDGE_CONFIG: undefined },
          stdio: ["ignore", "pipe", "pipe"],
        }),
      );
      let out = "";
      child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      await waitFor("the gateway to be ready and reading commands", async () => {
        if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}:\n${out}`);
        return out.includes('"msg":"reading commands"');
      });
      return { child, output: () => out };
    },
    cli: run,
    command: (args) => run(["command", "-c", configFile, ...args]),
  };
}

/** The results of gateway GATEWAY on the results topic, read from the start. */
export async function readResults(
  client: IggyClient,
  partitions = 1,
): Promise<(CommandResult & { offset: bigint })[]> {
  const topic = await client.getTopic(STREAM, "command-results");
  if (topic === null) return [];
  const partition = gatewayPartition(GATEWAY, partitions);
  const out: (CommandResult & { offset: bigint })[] = [];
  let from = 0n;
  for (;;) {
    const batch = await client.poll(STREAM, "command-results", {
      partition,
      strategy: { kind: "offset", value: from },
      count: 1000,
    });
    const fresh = batch.messages.filter((m: PolledMessage) => m.offset >= from);
    if (fresh.length === 0) return out;
    for (const m of fresh) {
      const r = decodeResult(m);
      if (r) out.push({ ...r, offset: m.offset });
      from = m.offset + 1n;
    }
  }
}
