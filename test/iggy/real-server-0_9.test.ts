// Opt-in: our client against a real Iggy 0.9 server (binary protocol 0.11). The shared peers folder
// holds only a 0.8 server, so this runs only against a 0.9.x server you start yourself:
//   IGGY_E2E_ADDR=127.0.0.1:8090 IGGY_E2E_PROTOCOL=0.9 IGGY_E2E_USERNAME=iggy IGGY_E2E_PASSWORD=... \
//     node --test dist/test/iggy/
// It creates streams named e2e-<random> and deletes them at the end. 0.9 has no idempotent
// producer: a batch resent after a lost reply is the forwarder's tail check's to catch.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { header, IggyClient, IggyServerError, type IggyClientOptions } from "../../gateway/iggy/index.js";

const addr = process.env.IGGY_E2E_PROTOCOL === "0.9" ? process.env.IGGY_E2E_ADDR : undefined;

function options(address = addr!): IggyClientOptions {
  return {
    address,
    protocol: "0.9",
    credentials: {
      username: process.env.IGGY_E2E_USERNAME ?? "iggy",
      password: process.env.IGGY_E2E_PASSWORD ?? "iggy",
    },
    requestTimeoutMs: 10_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 500 },
  };
}

test("real Iggy 0.9 server: detection, commands, confirmations", async (t) => {
  if (!addr) {
    t.skip(
      "skipped: opt-in, no Iggy 0.9 server binary is in the shared peers folder (only 0.8); to run it, " +
        "start a 0.9 server and set IGGY_E2E_ADDR and IGGY_E2E_PROTOCOL=0.9, with IGGY_E2E_USERNAME/IGGY_E2E_PASSWORD",
    );
    return;
  }
  const stream = `e2e-${randomBytes(4).toString("hex")}`;
  const auto = new IggyClient({ ...options(), protocol: "auto" });
  await auto.ping();
  assert.equal(auto.protocolVersion, "0.9", "auto finds 0.9");
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
    const topic = await client.ensureTopic(stream, "tele", { partitions: 2, messageExpiry: 3_600_000_000n });
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
  } finally {
    await client.deleteStream(stream).catch(() => undefined);
    await client.close();
  }
});
