// Our client against a real Iggy 0.8 server: Apache Iggy's own server from the shared peers folder
// (test/helpers/iggy-server.ts starts one for this file), or a server you run:
//   IGGY_E2E_ADDR=127.0.0.1:8090 IGGY_E2E_USERNAME=iggy IGGY_E2E_PASSWORD=... node --test dist/test/iggy/
// Optional with IGGY_E2E_ADDR: IGGY_E2E_TOKEN (a personal access token), IGGY_E2E_TLS_CA and
// IGGY_E2E_TLS_SERVER_NAME. It creates streams named e2e-<random> and deletes them at the end.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  header,
  IggyClient,
  IggyServerError,
  partitionForKey,
  xxh3_64,
  type IggyClientOptions,
} from "../../gateway/iggy/index.js";
import { encodeHeaders } from "../../gateway/iggy/wire/headers.js";
import { storedFrame } from "../../gateway/iggy/wire/v0_8/layouts.js";
import { startIggyServer } from "../helpers/iggy-server.js";
import { listen, proxy } from "./helpers.js";

// IGGY_E2E_PROTOCOL=0.9 or 0.10 points the address at a server of that line (real-server-vsr.test.ts
// covers them): this file then runs against the peers' 0.8 server.
const vsr = process.env.IGGY_E2E_PROTOCOL === "0.9" || process.env.IGGY_E2E_PROTOCOL === "0.10";
const userAddr = vsr ? undefined : process.env.IGGY_E2E_ADDR;
const code = (c: number) => (e: unknown) => e instanceof IggyServerError && e.code === c;

interface Target {
  address: string;
  username: string;
  password: string;
  token?: string;
  tls?: IggyClientOptions["tls"];
}

function userTarget(address: string): Target {
  const { IGGY_E2E_TLS_CA: ca, IGGY_E2E_TLS_SERVER_NAME: serverName, IGGY_E2E_TOKEN: token } = process.env;
  return {
    address,
    username: process.env.IGGY_E2E_USERNAME ?? "iggy",
    password: process.env.IGGY_E2E_PASSWORD ?? "iggy",
    ...(token ? { token } : {}),
    ...(ca || serverName ? { tls: { ...(ca ? { ca } : {}), ...(serverName ? { serverName } : {}) } } : {}),
  };
}

function clientOptions(target: Target, address = target.address): IggyClientOptions {
  return {
    address,
    credentials: { username: target.username, password: target.password },
    requestTimeoutMs: 10_000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 500 },
    ...(target.tls ? { tls: target.tls } : {}),
  };
}

test("real Iggy server: every client command, error codes, outcomes", { timeout: 180_000 }, async (t) => {
  let target: Target;
  if (userAddr) {
    target = userTarget(userAddr);
  } else {
    const server = await startIggyServer(t);
    if (!server) return;
    target = { address: server.address, ...server.credentials };
  }
  const options = (address?: string) => clientOptions(target, address);
  const addr = target.address;
  const stream = `e2e-${randomBytes(4).toString("hex")}`;
  const client = new IggyClient(options());
  try {
    await client.connect();
    await client.ping();

    await t.test("auto: the VSR version probe finds 0.8", async () => {
      const auto = new IggyClient({ ...options(), protocol: "auto" });
      await auto.ping();
      assert.equal(auto.protocolVersion, "0.8");
      await auto.close();
    });

    await t.test("login failures carry the server's code", async () => {
      const bad = new IggyClient({
        ...options(),
        credentials: { username: target.username, password: "definitely-wrong" },
      });
      await assert.rejects(bad.connect(), code(42));
      await bad.close();
      if (target.token) {
        const pat = new IggyClient({ ...options(), credentials: { token: target.token } });
        await pat.ping();
        await pat.close();
      }
    });

    await t.test("streams and topics", async () => {
      const s = await client.createStream(stream);
      assert.equal(s.name, stream);
      await assert.rejects(client.createStream(stream), code(1012));
      assert.equal(await client.getStream(`${stream}-missing`), null);
      const topic = await client.createTopic(stream, "t", { partitions: 3 });
      assert.deepEqual(
        topic.partitions.map((p) => p.id),
        [0, 1, 2],
      );
      await assert.rejects(client.createTopic(stream, "t", { partitions: 1 }), code(2013));
      await assert.rejects(client.createTopic(`${stream}-missing`, "t", { partitions: 1 }), code(1009));
      await assert.rejects(client.createTopic(stream, "big", { partitions: 1001 }), code(2015));
      assert.equal(await client.getTopic(stream, "missing"), null);
      assert.equal((await client.getStream(stream))?.topics.length, 1);
    });

    await t.test("send with headers, poll back with checksums, key partitioning", async () => {
      const headers = new Map([
        ["codec", header.string("msgpack")],
        ["gateway", header.string("line-3")],
        ["first_seq", header.uint64(7n)],
      ]);
      const key = Buffer.from("line-3");
      const pid = partitionForKey(key, 3);
      const out = await client.send(
        stream,
        "t",
        [{ id: (1n << 64n) | 7n, payload: Buffer.from("batch"), headers }],
        {
          partitioning: { kind: "partition", id: pid },
        },
      );
      assert.equal(out.status, "confirmed");
      const byKey = await client.send(stream, "t", [{ id: 8n, payload: Buffer.from("keyed") }], {
        partitioning: { kind: "key", key },
      });
      assert.equal(byKey.status, "confirmed");
      const tail = await client.pollTail(stream, "t", pid, 10);
      assert.deepEqual(
        tail.map((m) => [m.offset, m.id, m.payload.toString()]),
        [
          [0n, (1n << 64n) | 7n, "batch"],
          [1n, 8n, "keyed"],
        ],
        "the server put the keyed message where XXH32(key) % 3 says",
      );
      assert.deepEqual(tail[0]!.headers, headers);
      for (const m of tail) {
        assert.equal(
          m.checksum,
          xxh3_64(storedFrame({ ...m, headers: encodeHeaders(m.headers) }, 0n).subarray(8)),
        );
      }
    });

    await t.test("poll strategies and consumer offsets", async () => {
      await client.createTopic(stream, "offsets", { partitions: 1 });
      await client.send(
        stream,
        "offsets",
        Array.from({ length: 5 }, (_, i) => ({ id: BigInt(100 + i), payload: Buffer.from(`n${i}`) })),
        {
          partitioning: { kind: "partition", id: 0 },
        },
      );
      const c = { kind: "consumer" as const, id: "e2e" };
      const next = await client.poll(stream, "offsets", {
        partition: 0,
        consumer: c,
        strategy: { kind: "next" },
        count: 3,
        autoCommit: true,
      });
      assert.deepEqual(
        next.messages.map((m) => m.payload.toString()),
        ["n0", "n1", "n2"],
      );
      assert.deepEqual(await client.getConsumerOffset(stream, "offsets", c, 0), {
        partitionId: 0,
        currentOffset: 4n,
        storedOffset: 2n,
      });
      const rest = await client.poll(stream, "offsets", {
        partition: 0,
        consumer: c,
        strategy: { kind: "next" },
        count: 10,
        autoCommit: true,
      });
      assert.deepEqual(
        rest.messages.map((m) => m.offset),
        [3n, 4n],
      );
      const last = await client.poll(stream, "offsets", {
        partition: 0,
        strategy: { kind: "last" },
        count: 2,
      });
      assert.deepEqual(
        last.messages.map((m) => m.offset),
        [3n, 4n],
      );
      const fromOffset = await client.poll(stream, "offsets", {
        partition: 0,
        strategy: { kind: "offset", value: 4n },
        count: 9,
      });
      assert.deepEqual(
        fromOffset.messages.map((m) => m.offset),
        [4n],
      );
      await client.storeConsumerOffset(stream, "offsets", c, 0, 1n);
      assert.equal((await client.getConsumerOffset(stream, "offsets", c, 0))?.storedOffset, 1n);
      await assert.rejects(client.storeConsumerOffset(stream, "offsets", c, 0, 99n), code(4100));
      assert.equal(
        await client.getConsumerOffset(stream, "offsets", { kind: "consumer", id: "nobody" }, 0),
        null,
      );
    });

    await t.test("rejected sends carry codes, and the client recovers", async () => {
      for (const [p, c] of [
        [
          client.send(`${stream}-missing`, "t", [{ payload: Buffer.from("x") }], {
            partitioning: { kind: "balanced" },
          }),
          1009,
        ],
        [
          client.send(stream, "missing", [{ payload: Buffer.from("x") }], {
            partitioning: { kind: "balanced" },
          }),
          2010,
        ],
        [
          client.send(stream, "t", [{ payload: Buffer.from("x") }], {
            partitioning: { kind: "partition", id: 9 },
          }),
          3007,
        ],
      ] as const) {
        const out = await p;
        assert.equal(out.status, "rejected");
        if (out.status === "rejected") assert.equal(out.error.code, c);
      }
      await client.ping();
    });

    await t.test(
      "a SEND cut mid-frame is unknown and not stored; a lost reply is unknown and stored",
      async (st) => {
        const [host, port] = [
          addr.slice(0, addr.lastIndexOf(":")),
          Number(addr.slice(addr.lastIndexOf(":") + 1)),
        ];
        if ((host !== "127.0.0.1" && host !== "localhost") || options().tls) {
          st.skip("the cutting proxy runs on loopback only, without TLS");
          return;
        }
        const p = proxy(port);
        const cut = new IggyClient(options(`127.0.0.1:${await listen(p.server)}`));
        try {
          await client.createTopic(stream, "cut", { partitions: 1 });
          p.state.cut = (chunk) => (chunk.readUInt32LE(4) === 101 ? 1000 : undefined);
          const partial = await cut.send(stream, "cut", [{ id: 1n, payload: Buffer.alloc(200_000, 1) }], {
            partitioning: { kind: "partition", id: 0 },
          });
          assert.equal(partial.status, "unknown");
          p.state.cut = undefined;
          assert.deepEqual(await client.pollTail(stream, "cut", 0, 5), []);
          await cut.ping(); // log in again before replies start to vanish
          p.state.dropReplies = true;
          const lost = await cut.send(stream, "cut", [{ id: 2n, payload: Buffer.from("stored") }], {
            partitioning: { kind: "partition", id: 0 },
          });
          assert.equal(lost.status, "unknown");
          p.state.dropReplies = false;
          assert.deepEqual(
            (await client.pollTail(stream, "cut", 0, 5)).map((m) => m.id),
            [2n],
          );
        } finally {
          await cut.close();
          p.server.close();
        }
      },
    );
  } finally {
    await client.deleteStream(stream).catch(() => undefined);
    await client.close();
  }
});
