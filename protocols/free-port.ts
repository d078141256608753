// A port to hand to something that cannot listen on port 0 itself (a device map written before
// its simulator starts, a peer started as a child process).
//
// The kernel's port 0 answer comes from the ephemeral range, the same range it draws from for the
// local side of every outgoing connection: between this check and the real bind, any connect() in
// the process or a concurrent one may take it. Ports outside that range are never handed out by
// the kernel, so only another caller of this function could take them, and it picks at random and
// never hands out the same port twice in one process.
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import net from "node:net";

const LOWEST = 10_000;
const HIGHEST = 65_535;
const ATTEMPTS = 64;
const handedOut = new Set<string>();

/** Where ports are drawn from: below the ephemeral range, or above it when too little is below. */
export function portRange(): [number, number] {
  let [low, high] = [32_768, 60_999];
  try {
    const [a, b] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(a) && Number.isInteger(b)) [low, high] = [a!, b!];
  } catch {
    [low, high] = [49_152, HIGHEST]; // not Linux: IANA's dynamic range
  }
  if (low - LOWEST >= 1_000) return [LOWEST, low - 1];
  if (HIGHEST - high >= 1_000) return [high + 1, HIGHEST];
  throw new Error(
    `the ephemeral port range ${low}-${high} leaves no room for test ports: narrow it (net.ipv4.ip_local_port_range)`,
  );
}

type Protocol = "tcp" | "udp";

/** Whether `port` could be bound on `host` just now. */
function canBind(protocol: Protocol, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const refused = (e: NodeJS.ErrnoException) =>
      e.code === "EADDRINUSE" || e.code === "EACCES" ? resolve(false) : reject(e);
    if (protocol === "udp") {
      const socket = createSocket(net.isIPv6(host) ? "udp6" : "udp4");
      socket.once("error", (e) => {
        socket.close();
        refused(e);
      });
      socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
      return;
    }
    const server = net.createServer();
    server.once("error", refused);
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function pick(protocol: Protocol, host: string): Promise<number> {
  const [low, high] = portRange();
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    const key = `${protocol}:${port}`;
    if (handedOut.has(key)) continue;
    if (!(await canBind(protocol, port, host))) continue;
    handedOut.add(key);
    return port;
  }
  throw new Error(
    `no free ${protocol.toUpperCase()} port on ${host} in ${low}-${high} after ${ATTEMPTS} tries`,
  );
}

/** A TCP port on `host`, outside the kernel's ephemeral range, that was free a moment ago. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return pick("tcp", host);
}

/** The same for UDP. */
export function freeUdpPort(host = "127.0.0.1"): Promise<number> {
  return pick("udp", host);
}
