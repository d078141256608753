import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import net from "node:net";
import { test, type TestContext } from "node:test";
import { freePort, freeUdpPort, portRange } from "../../protocols/free-port.js";
import { closeAtEnd } from "../helpers/cleanup.js";

function ephemeralRange(): [number, number] {
  const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  return [low!, high!];
}

async function holdTcp(t: TestContext, port: number): Promise<void> {
  const server = closeAtEnd(t, net.createServer());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
}

test(
  "free ports are bindable, never twice the same, never one the kernel gives outgoing connections",
  { timeout: 30_000 },
  async (t) => {
    const [low, high] = ephemeralRange();
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port < low || port > high, `${port} is inside the ephemeral range ${low}-${high}`);
      assert.ok(!seen.has(port), `${port} handed out twice`);
      seen.add(port);
      await holdTcp(t, port);
    }
    const udp = await freeUdpPort();
    assert.ok(udp < low || udp > high, `UDP ${udp} is inside the ephemeral range`);
    const socket = createSocket("udp4");
    t.after(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(udp, "127.0.0.1", () => resolve());
    });
  },
);

test("a port already taken is passed over", { timeout: 30_000 }, async (t) => {
  const [low, high] = portRange();
  // A port of the range that is taken, not by this helper (so only the bind check can tell).
  let taken = 0;
  for (let p = high; p >= low && taken === 0; p--) {
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once("error", () => resolve(false));
      s.listen(p, "127.0.0.1", () => resolve(true));
    });
    if (ok) {
      closeAtEnd(t, s);
      taken = p;
    }
  }
  assert.ok(taken > 0);
  // The first draw lands on the taken port, the later ones anywhere.
  const draws = [(taken - low + 0.5) / (high - low + 1)];
  const random = Math.random.bind(Math);
  t.mock.method(Math, "random", () => draws.shift() ?? random());
  const port = await freePort();
  assert.equal(draws.length, 0, "the taken port was drawn first");
  assert.notEqual(port, taken);
});
