// Shared fixtures of the Iggy tests: a dev server in this process or in a child, clients, raw sockets.
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IggyClient, type IggyClientOptions } from "../../gateway/iggy/index.js";
import { DevIggyServer, type DevServerOptions } from "../../gateway/iggy/dev-server/server.js";
import { startDevIggy } from "../../scripts/bench-kit.js";

export const PASSWORD = "secret-pw";

export async function startDev(options: DevServerOptions = {}): Promise<DevIggyServer> {
  return DevIggyServer.start({ port: 0, password: PASSWORD, ...options });
}

export function clientFor(port: number, options: Partial<IggyClientOptions> = {}): IggyClient {
  return new IggyClient({
    address: `127.0.0.1:${port}`,
    credentials: { username: "iggy", password: PASSWORD },
    requestTimeoutMs: 5_000,
    reconnect: { initialDelayMs: 10, maxDelayMs: 100 },
    ...options,
  });
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** dev-iggy in a child process (so it can be killed with SIGKILL), with the tests' password. */
export async function spawnDev(args: string[]): Promise<{ child: ChildProcess; port: number }> {
  const { child, port } = await startDevIggy(["--password", PASSWORD, ...args], 15_000);
  return { child, port };
}

export async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill("SIGKILL");
  await exited;
}

/** A raw TCP connection that collects everything the server sends until it closes. */
export async function rawConnection(
  port: number,
): Promise<{ socket: Socket; received(): Buffer; closed: Promise<void> }> {
  const socket = connect(port, "127.0.0.1");
  await once(socket, "connect");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  socket.on("error", () => undefined);
  const closed = once(socket, "close").then(() => undefined);
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** Reads `n` bytes from a raw connection (bounded by a deadline so a broken peer cannot hang a test). */
export async function readBytes(socket: Socket, n: number, timeoutMs = 5_000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  return new Promise((ok, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`only ${have} of ${n} bytes within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onData = (c: Buffer): void => {
      chunks.push(c);
      have += c.length;
      if (have >= n) {
        clearTimeout(timer);
        socket.off("data", onData);
        ok(Buffer.concat(chunks));
      }
    };
    socket.on("data", onData);
  });
}

export function frame(code: number, payload: Buffer | number[]): Buffer {
  const p = Buffer.from(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(p.length + 4, 0);
  head.writeUInt32LE(code, 4);
  return Buffer.concat([head, p]);
}

export function loginFrame(username = "iggy", password = PASSWORD): Buffer {
  const u = Buffer.from(username);
  const p = Buffer.from(password);
  return frame(38, Buffer.concat([Buffer.from([u.length]), u, Buffer.from([p.length]), p, Buffer.alloc(8)]));
}

export async function listen(server: Server): Promise<number> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

export { freePort } from "../../protocols/free-port.js";

/**
 * A proxy in front of the dev server. `cut` decides, for each chunk from the client, how many of its
 * bytes to forward before cutting both sides (undefined = forward all); `dropReplies` swallows
 * what the server sends back and cuts the connection once it has some.
 */
export function proxy(upstreamPort: number) {
  const state = { cut: undefined as ((chunk: Buffer) => number | undefined) | undefined, dropReplies: false };
  const server = createServer((down) => {
    const up = connect(upstreamPort, "127.0.0.1");
    const end = () => {
      down.destroy();
      up.destroy();
    };
    down.on("error", end);
    up.on("error", end);
    down.on("close", end);
    up.on("close", end);
    down.on("data", (chunk: Buffer) => {
      const n = state.cut?.(chunk);
      if (n === undefined) {
        up.write(chunk);
        return;
      }
      up.write(chunk.subarray(0, n), () => setImmediate(end));
    });
    up.on("data", (chunk: Buffer) => {
      if (state.dropReplies) end();
      else down.write(chunk);
    });
  });
  return { server, state };
}
