// A TCP port to hand to something that cannot listen on port 0 itself (a device map written before
// its simulator starts, a peer started as a child process).
//
// The kernel's port 0 answer comes from the ephemeral range, the same range it draws from for the
// local side of every outgoing connection: between this check and the real bind, any connect() in
// the process or a concurrent one may take it. Ports below that range are never handed out by the
// kernel, so only another caller of this function could take them, and it picks at random.
import { readFileSync } from "node:fs";
import net from "node:net";

const LOWEST = 10_000;
const ATTEMPTS = 64;

function ephemeralStart(): number {
  try {
    const first = Number(
      readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > LOWEST + 1_000) return first;
  } catch {
    // not Linux: IANA's dynamic range
  }
  return 49_152;
}

function tryListen(port: number, host: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EADDRINUSE" || e.code === "EACCES") resolve(null);
      else reject(e);
    });
    server.listen({ port, host, exclusive: true }, () => {
      const bound = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

/** A loopback TCP port, outside the kernel's ephemeral range, that was free a moment ago. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const top = ephemeralStart();
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = LOWEST + Math.floor(Math.random() * (top - LOWEST));
    const bound = await tryListen(port, host);
    if (bound !== null) return bound;
  }
  const bound = await tryListen(0, host);
  if (bound === null) throw new Error(`no free TCP port on ${host}`);
  return bound;
}
