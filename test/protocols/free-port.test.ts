import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import net from "node:net";
import { test } from "node:test";
import { freePort } from "../../protocols/free-port.js";
import { closeAtEnd } from "../helpers/cleanup.js";

function ephemeralRange(): [number, number] {
  const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
    .trim()
    .split(/\s+/)
    .map(Number);
  return [low!, high!];
}

test(
  "a free port is bindable and never one the kernel hands to outgoing connections",
  { timeout: 30_000 },
  async (t) => {
    const [low, high] = ephemeralRange();
    const seen = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      assert.ok(port < low || port > high, `${port} is inside the ephemeral range ${low}-${high}`);
      seen.add(port);
      const server = net.createServer();
      closeAtEnd(t, server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", resolve);
      });
    }
    assert.ok(seen.size > 1, "the ports are drawn at random");
  },
);

test("a port already taken is passed over", { timeout: 30_000 }, async (t) => {
  const [low] = ephemeralRange();
  const taken = await freePort();
  const server = net.createServer();
  closeAtEnd(t, server);
  await new Promise<void>((resolve) => server.listen(taken, "127.0.0.1", resolve));
  // The first draw lands on the taken port, the later ones anywhere.
  const draws = [(taken - 10_000 + 0.5) / (low - 10_000)];
  t.mock.method(Math, "random", () => draws.shift() ?? 0.5);
  const port = await freePort();
  assert.equal(draws.length, 0, "the taken port was drawn first");
  assert.notEqual(port, taken);
});
