// Every command of the client against the dev server, with the error paths a gateway meets.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  header,
  IggyServerError,
  partitionForKey,
  xxh3_64,
  type IggyClient,
  type OutgoingMessage,
} from "../../gateway/iggy/index.js";
import type { DevIggyServer } from "../../gateway/iggy/dev-server/server.js";
import { encodeHeaders } from "../../gateway/iggy/wire/headers.js";
import { storedFrame } from "../../gateway/iggy/wire/v0_8/layouts.js";
import { clientFor, startDev } from "./helpers.js";

const code = (c: number) => (e: unknown) => e instanceof IggyServerError && e.code === c;
const msg = (text: string, extra: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  payload: Buffer.from(text),
  ...extra,
});

describe("client against dev-iggy", () => {
  let server: DevIggyServer;
  let client: IggyClient;

  before(async () => {
    server = await startDev({ tokens: ["pat-123"] });
    client = clientFor(server.address.port);
    await client.connect();
  });
  after(async () => {
    await client.close();
    await server.close();
  });

  test("ping", async () => {
    await client.ping();
    assert.equal(client.connected, true);
    assert.equal(client.protocolVersion, "0.8");
  });

  test("login with a personal access token; wrong credentials fail at once with their code", async () => {
    const pat = clientFor(server.address.port, { credentials: { token: "pat-123" } });
    await pat.ping();
    await pat.close();
    const badToken = clientFor(server.address.port, { credentials: { token: "nope" } });
    await assert.rejects(badToken.connect(), code(53));
    await badToken.close();
    const badPassword = clientFor(server.address.port, {
      credentials: { username: "iggy", password: "wrong-pw" },
    });
    await assert.rejects(badPassword.connect(), code(42));
    await badPassword.close();
    const shortName = clientFor(server.address.port, {
      credentials: { username: "ab", password: "wrong-pw" },
    });
    await assert.rejects(shortName.connect(), code(43));
    await shortName.close();
  });

  test("streams: create, get by name and id, duplicate, missing", async () => {
    const s = await client.createStream("s-streams");
    assert.equal(s.name, "s-streams");
    assert.equal(s.topicsCount, 0);
    const byName = await client.getStream("s-streams");
    const byId = await client.getStream(s.id);
    assert.equal(byName?.id, s.id);
    assert.equal(byId?.name, "s-streams");
    await assert.rejects(client.createStream("s-streams"), code(1012));
    assert.equal(await client.getStream("no-such-stream"), null);
    assert.equal((await client.ensureStream("s-streams")).id, s.id);
    const other = await client.ensureStream("s-streams-2");
    assert.notEqual(other.id, s.id);
    await client.deleteStream("s-streams-2");
    assert.equal(await client.getStream("s-streams-2"), null);
    await assert.rejects(client.deleteStream("s-streams-2"), code(1009));
    assert.equal((await client.createStream("s-streams-3")).id, other.id, "a freed id is used again");
  });

  test("topics: create with partitions, details, errors", async () => {
    await client.createStream("s-topics");
    const t = await client.createTopic("s-topics", "t", { partitions: 3 });
    assert.equal(t.partitionsCount, 3);
    assert.deepEqual(
      t.partitions.map((p) => p.id),
      [0, 1, 2],
    );
    assert.equal(t.maxTopicSize, (1n << 64n) - 1n, "0 = server default, shown as unlimited");
    const got = await client.getTopic("s-topics", "t");
    assert.equal(got?.id, t.id);
    assert.equal((await client.getStream("s-topics"))?.topics[0]?.name, "t");
    assert.equal(await client.getTopic("s-topics", "nope"), null);
    assert.equal(await client.getTopic("no-stream", "t"), null);
    await assert.rejects(client.createTopic("s-topics", "t", { partitions: 1 }), code(2013));
    await assert.rejects(client.createTopic("no-stream", "t", { partitions: 1 }), code(1009));
    await assert.rejects(client.createTopic("s-topics", "big", { partitions: 1001 }), code(2015));
    await assert.rejects(
      client.createTopic("s-topics", "small", { partitions: 1, maxTopicSize: 1000n }),
      code(1019),
    );
    await assert.rejects(client.createTopic("s-topics", "c0", { partitions: 1, compression: 0 }), code(3));
    assert.equal((await client.ensureTopic("s-topics", "t", { partitions: 9 })).partitionsCount, 3);
  });

  test("send by partition id with ids and headers; poll returns them with offsets and checksums", async () => {
    await client.ensureStream("s-send");
    await client.ensureTopic("s-send", "t", { partitions: 2 });
    const headers = new Map([
      ["gateway", header.string("gw-1")],
      ["first_seq", header.uint64(100n)],
      ["count", header.uint32(2)],
    ]);
    const out = await client.send(
      "s-send",
      "t",
      [msg("a", { id: (7n << 64n) | 100n, headers }), msg("b", { id: 2n })],
      {
        partitioning: { kind: "partition", id: 1 },
      },
    );
    assert.equal(out.status, "confirmed");
    const batch = await client.poll("s-send", "t", { partition: 1, strategy: { kind: "first" }, count: 10 });
    assert.equal(batch.partitionId, 1);
    assert.equal(batch.currentOffset, 1n);
    assert.deepEqual(
      batch.messages.map((m) => [m.offset, m.id, m.payload.toString()]),
      [
        [0n, (7n << 64n) | 100n, "a"],
        [1n, 2n, "b"],
      ],
    );
    assert.deepEqual(batch.messages[0]!.headers, headers);
    assert.equal(batch.messages[1]!.headers.size, 0);
    for (const m of batch.messages) {
      const frame = storedFrame({ ...m, headers: encodeHeaders(m.headers) }, 0n);
      assert.equal(m.checksum, xxh3_64(frame.subarray(8)), "checksum is XXH3-64 of the frame from byte 8");
      assert.ok(m.timestamp > 0n);
    }
    const empty = await client.poll("s-send", "t", { partition: 0, strategy: { kind: "first" }, count: 10 });
    assert.deepEqual([empty.currentOffset, empty.messages.length], [0n, 0]);
  });

  test("key partitioning lands where XXH32(key) % partitions says; balanced goes round", async () => {
    await client.ensureStream("s-part");
    await client.ensureTopic("s-part", "t", { partitions: 5 });
    const key = Buffer.from("gateway-7");
    assert.equal(
      (await client.send("s-part", "t", [msg("k")], { partitioning: { kind: "key", key } })).status,
      "confirmed",
    );
    const expected = partitionForKey(key, 5);
    for (let p = 0; p < 5; p++) {
      const b = await client.poll("s-part", "t", { partition: p, strategy: { kind: "first" }, count: 10 });
      assert.equal(b.messages.length, p === expected ? 1 : 0, `partition ${p}`);
    }
    await client.createTopic("s-part", "rr", { partitions: 3 });
    for (let i = 0; i < 6; i++)
      await client.send("s-part", "rr", [msg(`m${i}`)], { partitioning: { kind: "balanced" } });
    for (let p = 0; p < 3; p++) {
      const b = await client.poll("s-part", "rr", { partition: p, strategy: { kind: "first" }, count: 10 });
      assert.equal(b.messages.length, 2, `partition ${p}`);
    }
  });

  test("poll strategies: offset, first, last, next with auto-commit, timestamp", async () => {
    await client.ensureStream("s-poll");
    await client.ensureTopic("s-poll", "t", { partitions: 1 });
    const batch = Array.from({ length: 10 }, (_, i) => msg(`m${i}`, { id: BigInt(i + 1) }));
    await client.send("s-poll", "t", batch, { partitioning: { kind: "partition", id: 0 } });
    const texts = (b: { messages: { payload: Buffer }[] }) => b.messages.map((m) => m.payload.toString());
    const at = (strategy: Parameters<IggyClient["poll"]>[2]["strategy"], count: number, consumer = 1) =>
      client.poll("s-poll", "t", {
        partition: 0,
        strategy,
        count,
        consumer: { kind: "consumer", id: consumer },
      });

    assert.deepEqual(texts(await at({ kind: "offset", value: 7n }, 5)), ["m7", "m8", "m9"]);
    assert.deepEqual(texts(await at({ kind: "offset", value: 10n }, 5)), []);
    assert.deepEqual(texts(await at({ kind: "first" }, 2)), ["m0", "m1"]);
    assert.deepEqual(texts(await at({ kind: "last" }, 3)), ["m7", "m8", "m9"]);
    assert.deepEqual(texts(await at({ kind: "last" }, 50)).length, 10);
    assert.deepEqual(texts(await at({ kind: "first" }, 0)), []);

    const next = (count: number) =>
      client.poll("s-poll", "t", {
        partition: 0,
        strategy: { kind: "next" },
        count,
        autoCommit: true,
        consumer: { kind: "consumer", id: "reader" },
      });
    assert.deepEqual(texts(await next(4)), ["m0", "m1", "m2", "m3"]);
    assert.deepEqual(texts(await next(4)), ["m4", "m5", "m6", "m7"]);
    const stored = await client.getConsumerOffset("s-poll", "t", { kind: "consumer", id: "reader" }, 0);
    assert.deepEqual(stored, { partitionId: 0, currentOffset: 9n, storedOffset: 7n });
    assert.deepEqual(texts(await next(4)), ["m8", "m9"]);
    assert.deepEqual(texts(await next(4)), []);

    const first = (await at({ kind: "first" }, 1)).messages[0]!;
    assert.equal((await at({ kind: "timestamp", value: first.timestamp }, 100)).messages.length, 10);
    assert.equal(
      (await at({ kind: "timestamp", value: first.timestamp + 10_000_000_000n }, 100)).messages.length,
      0,
    );
  });

  test("pollTail gives the last N with headers decoded, for the forwarder's resend check", async () => {
    await client.ensureStream("s-tail");
    await client.ensureTopic("s-tail", "t", { partitions: 1 });
    for (let seq = 1n; seq <= 30n; seq += 10n) {
      const headers = new Map([
        ["gateway", header.string("gw")],
        ["first_seq", header.uint64(seq)],
      ]);
      await client.send("s-tail", "t", [msg(`batch-${seq}`, { id: seq, headers })], {
        partitioning: { kind: "partition", id: 0 },
      });
    }
    const tail = await client.pollTail("s-tail", "t", 0, 2);
    assert.deepEqual(
      tail.map((m) => m.headers.get("first_seq")),
      [header.uint64(11n), header.uint64(21n)],
    );
    assert.deepEqual(
      await client.getConsumerOffset("s-tail", "t", { kind: "consumer", id: 0 }, 0),
      null,
      "tail stores nothing",
    );
  });

  test("consumer offsets: store, get, beyond the end, none stored", async () => {
    await client.ensureStream("s-off");
    await client.ensureTopic("s-off", "t", { partitions: 2 });
    const c = { kind: "consumer" as const, id: "line-3" };
    assert.equal(await client.getConsumerOffset("s-off", "t", c, 0), null);
    await assert.rejects(client.storeConsumerOffset("s-off", "t", c, 0, 0n), code(4100), "empty partition");
    await client.send("s-off", "t", [msg("x"), msg("y")], { partitioning: { kind: "partition", id: 0 } });
    await client.storeConsumerOffset("s-off", "t", c, 0, 1n);
    assert.deepEqual(await client.getConsumerOffset("s-off", "t", c, 0), {
      partitionId: 0,
      currentOffset: 1n,
      storedOffset: 1n,
    });
    await assert.rejects(client.storeConsumerOffset("s-off", "t", c, 0, 2n), code(4100));
    await assert.rejects(client.storeConsumerOffset("s-off", "t", c, 7, 0n), code(3007));
    await assert.rejects(client.storeConsumerOffset("nope", "t", c, 0, 0n), code(1009));
    assert.equal(await client.getConsumerOffset("s-off", "t", { kind: "consumer", id: "other" }, 0), null);
  });

  test("rejected sends carry the server's code; the client reconnects for the next request", async () => {
    await client.ensureStream("s-rej");
    await client.ensureTopic("s-rej", "t", { partitions: 1 });
    let drops = 0;
    const onDrop = () => drops++;
    client.on("disconnected", onDrop);
    const cases: [Promise<unknown>, number][] = [
      [client.send("no-stream", "t", [msg("x")], { partitioning: { kind: "balanced" } }), 1009],
      [client.send("s-rej", "no-topic", [msg("x")], { partitioning: { kind: "balanced" } }), 2010],
      [client.send("s-rej", "t", [msg("x")], { partitioning: { kind: "partition", id: 4 } }), 3007],
    ];
    for (const [p, c] of cases) {
      const out = (await p) as Awaited<ReturnType<IggyClient["send"]>>;
      assert.equal(out.status, "rejected");
      if (out.status === "rejected") assert.equal(out.error.code, c);
    }
    client.off("disconnected", onDrop);
    assert.equal(drops, 3, "0.8 may leave a failed SEND half-read, so each one ends its connection");
    await client.ping();
    await assert.rejects(
      client.poll("s-rej", "t", { partition: 9, strategy: { kind: "first" }, count: 1 }),
      code(3007),
    );
    await assert.rejects(
      client.poll("s-rej", "t", { consumer: { kind: "group", id: 1 }, strategy: { kind: "next" }, count: 1 }),
      code(5000),
    );
  });

  test("input the protocol cannot carry fails before anything is sent", async () => {
    await assert.rejects(
      client.send("s", "t", [], { partitioning: { kind: "balanced" } }),
      /at least one message/,
    );
    await assert.rejects(client.createStream("x".repeat(256)), /1\.\.255/);
    await assert.rejects(
      client.send("s", "t", [msg("x", { headers: new Map([["k", header.string("")]]) })], {
        partitioning: { kind: "balanced" },
      }),
      /1\.\.255/,
    );
    await client.ping();
  });

  test("concurrent calls on one client are answered each with its own reply", async () => {
    await client.ensureStream("s-conc");
    await client.ensureTopic("s-conc", "t", { partitions: 1 });
    const calls = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? client
            .send("s-conc", "t", [msg(`c${i}`)], { partitioning: { kind: "partition", id: 0 } })
            .then((o) => o.status)
        : client.getStream("s-conc").then((s) => s?.name),
    );
    const results = await Promise.all(calls);
    results.forEach((r, i) => assert.equal(r, i % 2 === 0 ? "confirmed" : "s-conc"));
    const all = await client.poll("s-conc", "t", { partition: 0, strategy: { kind: "first" }, count: 100 });
    assert.equal(all.messages.length, 20);
  });
});
