// The drills' TCP proxy (scripts/drill/tcp-proxy.ts) against a loopback echo server: it passes
// bytes both ways, holds replies back in order, cuts and refuses connections while down, and cuts a
// connection on a reply after the given number (the request having reached the server).
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import { TcpProxy } from "../../scripts/drill/tcp-proxy.js";

async function echoServer(t: TestContext): Promise<{ server: Server; port: number; received: string[] }> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
    s.on("data", (b) => {
      received.push(b.toString());
      s.write(b);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { server, port: (server.address() as { port: number }).port, received };
}

async function proxyTo(t: TestContext, port: number): Promise<TcpProxy> {
  const proxy = await TcpProxy.start({ host: "127.0.0.1", port });
  t.after(() => proxy.close());
  return proxy;
}

/** A client that collects what it reads and tells when it closed. */
async function client(t: TestContext, port: number) {
  const s = connect({ host: "127.0.0.1", port });
  t.after(() => s.destroy());
  s.on("error", () => {});
  let data = "";
  const waiters: (() => void)[] = [];
  s.on("data", (b) => {
    data += b.toString();
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise((ok) => s.once("close", ok));
  await once(s, "connect");
  return {
    socket: s,
    closed,
    get data() {
      return data;
    },
    /** Sends `text` and waits until `until` has been read in all. */
    async roundTrip(text: string, until: string): Promise<void> {
      s.write(text);
      while (!data.includes(until)) await new Promise<void>((ok) => waiters.push(ok));
    },
  };
}

test("passes bytes both ways", { timeout: 30_000 }, async (t) => {
  const echo = await echoServer(t);
  const proxy = await proxyTo(t, echo.port);
  const c = await client(t, proxy.port);
  await c.roundTrip("hello", "hello");
  assert.equal(proxy.connections, 1);
});

test("holds every reply back at least the delay, in order", { timeout: 30_000 }, async (t) => {
  const echo = await echoServer(t);
  const proxy = await proxyTo(t, echo.port);
  proxy.set({ kind: "pass", delayMs: 150 });
  const c = await client(t, proxy.port);
  const sent = Date.now();
  c.socket.write("a;");
  await c.roundTrip("b;", "b;");
  assert.ok(Date.now() - sent >= 150, "the reply came no earlier than the delay");
  proxy.set({ kind: "pass" });
  // A reply after the delay was lifted still comes after the ones held back.
  await c.roundTrip("c;", "c;");
  assert.equal(c.data, "a;b;c;");
});

test("down: cuts open connections and resets new ones; up again: passes", { timeout: 30_000 }, async (t) => {
  const echo = await echoServer(t);
  const proxy = await proxyTo(t, echo.port);
  const c = await client(t, proxy.port);
  await c.roundTrip("x", "x");
  proxy.set({ kind: "down" });
  await c.closed;
  const refused = connect({ host: "127.0.0.1", port: proxy.port });
  refused.on("error", () => {});
  t.after(() => refused.destroy());
  let read = "";
  refused.on("data", (b) => (read += b.toString()));
  await new Promise((ok) => refused.once("close", ok)); // events.once would reject on the reset
  assert.equal(read, "");
  assert.equal(proxy.refused, 2);
  proxy.set({ kind: "pass" });
  const again = await client(t, proxy.port);
  await again.roundTrip("y", "y");
});

test(
  "cut-replies: the request reaches the server, the reply after the allowed ones is lost",
  { timeout: 30_000 },
  async (t) => {
    const echo = await echoServer(t);
    const proxy = await proxyTo(t, echo.port);
    proxy.set({ kind: "cut-replies", replies: () => 2 });
    const c = await client(t, proxy.port);
    await c.roundTrip("1;", "1;");
    await c.roundTrip("2;", "2;");
    c.socket.write("3;");
    await c.closed;
    assert.equal(c.data, "1;2;");
    assert.deepEqual(echo.received.join(""), "1;2;3;");
    assert.equal(proxy.repliesCut, 1);
  },
);
