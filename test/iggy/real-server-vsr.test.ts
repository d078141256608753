// Opt-in: our client against a real Iggy server of a VSR line, 0.9 (binary protocol 0.11) or 0.10
// (binary protocol 0.12). The shared peers folder holds only a 0.8 server, so these run only against
// a server you start yourself:
//   IGGY_E2E_ADDR=127.0.0.1:8090 IGGY_E2E_PROTOCOL=0.9 IGGY_E2E_USERNAME=iggy IGGY_E2E_PASSWORD=... \
//     node --test dist/test/iggy/
// (or IGGY_E2E_PROTOCOL=0.10). They create streams named e2e-<random> and delete them at the end.
// 0.9 has no idempotent producer: a batch resent after a lost reply is the forwarder's tail check's
// to catch; on 0.10 the server writes it once, which the 0.10 test checks.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { header, IggyClient, IggyServerError, type IggyClientOptions } from "../../gateway/iggy/index.js";
import { listen, proxy } from "./helpers.js";

for (const protocol of ["0.9", "0.10"] as const) {
  const addr = process.env.IGGY_E2E_PROTOCOL === protocol ? process.env.IGGY_E2E_ADDR : undefined;
  const idempotent = protocol === "0.10";

  const options = (address = addr!): IggyClientOptions => ({
    address,
    protocol,
    credentials: {
      username: process.env.IGGY_E2E_USERNAME ?? "iggy",
      password: process.env.IGGY_E2E_PASSWORD ?? "iggy",
    },
    requestTimeoutMs: 10_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 500 },
  });

  const title = `real Iggy ${protocol} server: detection, commands, confirmations${idempotent ? ", idempotent resend" : ""}`;
  test(title, async (t) => {
    if (!addr) {
      t.skip(
        `skipped: opt-in, no Iggy ${protocol} server binary is in the shared peers folder (only 0.8); to run it, ` +
          `start a ${protocol} server and set IGGY_E2E_ADDR and IGGY_E2E_PROTOCOL=${protocol}, with IGGY_E2E_USERNAME/IGGY_E2E_PASSWORD`,
      );
      return;
    }
    const stream = `e2e-${randomBytes(4).toString("hex")}`;
    const auto = new IggyClient({ ...options(), protocol: "auto" });
    await auto.ping();
    assert.equal(auto.protocolVersion, protocol, `auto finds ${protocol}`);
    await auto.close();

    const client = new IggyClient(options());
    try {
      await client.connect();
      const bad = new IggyClient({
        ...options(),
        credentials: { username: "iggy", password: "definitely-wrong" },
      });
      await assert.rejects(bad.connect(), (e: unknown) => e instanceof IggyServerError && e.code === 42);
      await bad.close();

      await client.ensureStream(stream);
      const topic = await client.ensureTopic(stream, "tele", {
        partitions: 2,
        messageExpiry: 3_600_000_000n,
      });
      assert.equal(topic.partitionsCount, 2);
      const out = await client.send(
        stream,
        "tele",
        [{ id: 1n, payload: Buffer.from("a"), headers: new Map([["gateway", header.string("e2e")]]) }],
        { partitioning: { kind: "partition", id: 1 } },
      );
      assert.equal(
        out.status,
        "confirmed",
        JSON.stringify(out, (_k, v) => (typeof v === "bigint" ? String(v) : v)),
      );
      const tail = await client.pollTail(stream, "tele", 1, 5);
      assert.deepEqual(
        tail.map((m) => [m.id, m.payload.toString(), m.headers.get("gateway")]),
        [[1n, "a", header.string("e2e")]],
      );
      const gw = { kind: "consumer" as const, id: "e2e-gw" };
      await client.storeConsumerOffset(stream, "tele", gw, 1, 0n);
      assert.equal((await client.getConsumerOffset(stream, "tele", gw, 1))?.storedOffset, 0n);
      if (!idempotent) return;

      // A lost reply, then the same batch again: written once.
      const p = proxy(Number(addr.split(":").pop()));
      const viaProxy = new IggyClient(options(`127.0.0.1:${await listen(p.server)}`));
      await viaProxy.getTopic(stream, "tele");
      p.state.dropReplies = true;
      const batch = [{ id: 2n, payload: Buffer.from("b") }];
      assert.equal(
        (await viaProxy.send(stream, "tele", batch, { partitioning: { kind: "partition", id: 1 } })).status,
        "unknown",
      );
      p.state.dropReplies = false;
      assert.equal(
        (await viaProxy.send(stream, "tele", batch, { partitioning: { kind: "partition", id: 1 } })).status,
        "confirmed",
      );
      assert.deepEqual(
        (await client.pollTail(stream, "tele", 1, 10)).map((m) => m.id),
        [1n, 2n],
      );
      await viaProxy.close();
      p.server.close();
    } finally {
      await client.deleteStream(stream).catch(() => undefined);
      await client.close();
    }
  });
}
