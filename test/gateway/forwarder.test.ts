// The forwarder against the dev server with the real buffer: order, exactly once through an outage,
// a crash between Iggy's confirm and the release, a lost reply, and a batch Iggy refuses.
import assert from "node:assert/strict";
import { cpSync, rmSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Socket } from "node:net";
import { after, test } from "node:test";
import { BufferClosedError, openBuffer, type ReadingBuffer } from "../../buffer/index.js";
import { codecs } from "../../gateway/codecs/index.js";
import { decodeMessage } from "../../gateway/cli/tail.js";
import { Forwarder, type ForwarderOptions } from "../../gateway/forwarder.js";
import { batchMessageId, readEnvelope } from "../../gateway/envelope.js";
import { header, IggyServerError, type IggyClient, type SendOutcome } from "../../gateway/iggy/index.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import type { Reading } from "../../protocols/adapter.js";
import { clientFor, startDev, tempDir } from "../iggy/helpers.js";
import { readings } from "./helpers.js";

const log = createLogger({ level: "silent" });
const dirs: { remove(): void }[] = [];
after(() => dirs.forEach((d) => d.remove()));

function temp(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
}

function options(metrics?: GatewayMetrics, codec: keyof typeof codecs = "flatbuffers"): ForwarderOptions {
  return {
    gatewayId: "gw-test",
    stream: "iot",
    topic: "telemetry",
    createMissing: true,
    partitions: 1,
    codec: codecs[codec],
    batch: { maxReadings: 100, maxBytes: 1 << 20, lingerMs: 5 },
    log,
    retry: { initialDelayMs: 10, maxDelayMs: 100 },
    ...(metrics ? { metrics } : {}),
  };
}

async function append(buffer: ReadingBuffer, forwarder: Forwarder | null, rs: Reading[]): Promise<void> {
  await buffer.append(rs);
  forwarder?.notify(rs.length);
}

/** Every reading of the gateway in the partition, decoded, with the message ids seen. */
async function stored(port: number): Promise<{ values: number[]; ids: bigint[]; firstSeqs: number[] }> {
  const client = clientFor(port);
  const values: number[] = [];
  const ids: bigint[] = [];
  const firstSeqs: number[] = [];
  try {
    let offset = 0n;
    for (;;) {
      const page = await client.poll("iot", "telemetry", {
        partition: 0,
        strategy: { kind: "offset", value: offset },
        count: 500,
      });
      if (page.messages.length === 0) break;
      for (const m of page.messages) {
        offset = m.offset + 1n;
        if (readEnvelope(m).gateway !== options().gatewayId) continue;
        ids.push(m.id);
        const lines = decodeMessage(m);
        firstSeqs.push(lines[0]!.seq);
        for (const l of lines) values.push(l.reading.value as number);
      }
    }
  } catch (e) {
    // The forwarder creates the stream and topic with its first send; until then nothing is stored.
    if (!(e instanceof IggyServerError && (e.code === 1009 || e.code === 2010))) throw e;
  } finally {
    await client.close();
  }
  return { values, ids, firstSeqs };
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

const generations = ["0.8", "0.9", "0.10"] as const;

/**
 * `buffer` as a first run sees it until it "dies" at the round trip to the buffer that would
 * release its second batch (a buffer gone under the forwarder ends it for good, as a crash would;
 * any other exception restarts the loop, which would go on and release the batch). `after` sees
 * each exchange that went through.
 */
function dyingAtSecondRelease(
  buffer: ReadingBuffer,
  after: (result: Awaited<ReturnType<ReadingBuffer["exchange"]>>) => void = () => {},
): { buffer: ReadingBuffer; died: () => boolean } {
  let releases = 0;
  const dying: ReadingBuffer = Object.create(buffer) as ReadingBuffer;
  dying.exchange = async (request) => {
    releases += request.release?.length ?? 0;
    if (releases >= 2) throw new BufferClosedError("simulated crash before the release");
    const r = await buffer.exchange(request);
    after(r);
    return r;
  };
  return { buffer: dying, died: () => releases >= 2 };
}

/**
 * A first run on a new buffer in `dir` holding 250 readings, until the buffer "dies" at its second
 * release (see dyingAtSecondRelease, whose `after` it passes on); what Iggy then holds.
 */
async function firstRunDying(
  port: number,
  dir: string,
  protocol: (typeof generations)[number] | undefined,
  after?: Parameters<typeof dyingAtSecondRelease>[1],
): Promise<Awaited<ReturnType<typeof stored>>> {
  const first = await openBuffer({ dir });
  await append(first, null, readings(0, 250));
  const dying = dyingAtSecondRelease(first, after);
  const client = clientFor(port, protocol ? { protocol } : {});
  const forwarder = new Forwarder(dying.buffer, client, options());
  forwarder.start();
  await until("the crash", dying.died);
  await forwarder.stop();
  await client.close();
  await first.close();
  return stored(port);
}

/**
 * A second run on the buffer in `dir` after the first one died: it sends the rest, and Iggy then
 * holds the 250 readings once each, `duplicates` batches having been found there and not resent.
 * Closes the server at the end.
 */
async function resumeAndCheck(
  server: Awaited<ReturnType<typeof startDev>>,
  dir: string,
  duplicates: number,
  why: string,
  protocol: (typeof generations)[number] = "0.8",
  before?: (buffer: ReadingBuffer) => Promise<void>,
  patch?: (client: IggyClient) => void,
): Promise<void> {
  const port = server.address.port;
  const buffer = await openBuffer({ dir });
  const client = clientFor(port, { protocol });
  patch?.(client);
  const metrics = new GatewayMetrics({ processMetrics: false });
  const forwarder = new Forwarder(buffer, client, options(metrics));
  try {
    await before?.(buffer);
    forwarder.start();
    await until("the rest sent", async () => (await buffer.stats()).readings === 0);
    const s = await stored(port);
    assert.deepEqual(s.values, range(250), "each reading once");
    assert.equal(new Set(s.ids).size, s.ids.length, "no message id twice");
    const results = (await metrics.forwardBatches.get()).values;
    assert.equal(results.find((v) => v.labels.result === "duplicate")?.value, duplicates, why);
  } finally {
    await forwarder.stop();
    await client.close();
    await buffer.close();
    await server.close();
  }
}

for (const [codec, protocol] of [
  ["flatbuffers", "0.8"],
  ["msgpack", "0.8"],
  ["json", "0.8"],
  ["flatbuffers", "0.10"],
  ["json", "0.10"],
] as const) {
  test(`${codec} over Iggy ${protocol}: readings arrive in order, once, with the contract's headers and ids`, async () => {
    const server = await startDev();
    const buffer = await openBuffer({ dir: temp("fwd-order-") });
    const client = clientFor(server.address.port, { protocol });
    const forwarder = new Forwarder(buffer, client, options(undefined, codec));
    try {
      forwarder.start();
      for (let i = 0; i < 250; i += 50) await append(buffer, forwarder, readings(i, 50));
      await until(
        "250 readings in Iggy",
        async () => (await stored(server.address.port)).values.length === 250,
      );
      const s = await stored(server.address.port);
      assert.deepEqual(s.values, range(250));
      const probe = clientFor(server.address.port, { protocol });
      const page = await probe.poll("iot", "telemetry", {
        partition: 0,
        strategy: { kind: "first" },
        count: 1,
      });
      await probe.close();
      const m = page.messages[0]!;
      const firstSeq = Number((m.headers.get("first_seq") as { value: bigint }).value);
      assert.equal(m.id, batchMessageId("gw-test", BigInt(firstSeq)));
      assert.deepEqual(m.headers.get("codec"), { kind: "string", value: codec });
      assert.deepEqual(m.headers.get("gateway"), { kind: "string", value: "gw-test" });
      assert.deepEqual(m.headers.get("schema"), { kind: "uint32", value: 1 });
      assert.equal(m.headers.get("count")?.kind, "uint32");
      assert.equal((await buffer.stats()).readings, 0, "released after the confirm");
    } finally {
      await forwarder.stop();
      await client.close();
      await buffer.close();
      await server.close();
    }
  });
}

test("outage drill: readings keep being accepted while Iggy is down and all arrive once, in order", async () => {
  const dataDir = temp("fwd-outage-iggy-");
  let server = await startDev({ dataDir });
  const port = server.address.port;
  const buffer = await openBuffer({ dir: temp("fwd-outage-buf-") });
  const client = clientFor(port);
  const metrics = new GatewayMetrics({ processMetrics: false });
  const forwarder = new Forwarder(buffer, client, options(metrics));
  try {
    forwarder.start();
    await append(buffer, forwarder, readings(0, 300));
    await until("first readings in Iggy", async () => (await stored(port)).values.length === 300);
    await server.close();
    for (let i = 300; i < 1500; i += 100) await append(buffer, forwarder, readings(i, 100));
    await until("the forwarder to notice the outage", async () =>
      (await metrics.forwardBatches.get()).values.some((v) => v.labels.result === "retry"),
    );
    assert.ok((await buffer.stats()).readings >= 1100, "the backlog is in the buffer");
    server = await startDev({ dataDir, port });
    await until("the backlog drained", async () => (await buffer.stats()).readings === 0);
    const s = await stored(port);
    assert.deepEqual(s.values, range(1500));
  } finally {
    await forwarder.stop();
    await client.close();
    await buffer.close();
    await server.close();
  }
});

for (const protocol of generations) {
  test(`Iggy ${protocol}: a crash between Iggy's confirm and the release does not store the batch twice (dedup off)`, async () => {
    const server = await startDev({ dedup: { enabled: false } });
    const port = server.address.port;
    const dir = temp("fwd-crash-");
    let released = 0;
    // Iggy has the second batch (and perhaps the next, sent while the release was on its way), the
    // buffer still has them leased.
    const before = await firstRunDying(
      port,
      dir,
      protocol,
      (r) => (released += r.released.filter((ok) => ok).length),
    );
    assert.equal(released, 1, "the first batch was released");
    assert.ok(before.firstSeqs.length >= 2, "the second batch is in Iggy, unreleased");
    assert.deepEqual(before.values, range(before.values.length), "a prefix, in order");

    await resumeAndCheck(
      server,
      dir,
      before.firstSeqs.length - 1,
      "each batch Iggy had and the buffer had not released was found there, not resent",
      protocol,
    );
  });
}

/** resumeAndCheck on Iggy 0.8 with each poll of the second run going through `through`. */
function resumeThroughPolls(
  server: Awaited<ReturnType<typeof startDev>>,
  dir: string,
  duplicates: number,
  why: string,
  through: (
    options: Parameters<IggyClient["poll"]>[2],
    poll: () => ReturnType<IggyClient["poll"]>,
  ) => ReturnType<IggyClient["poll"]>,
): Promise<void> {
  return resumeAndCheck(server, dir, duplicates, why, "0.8", undefined, (client) => {
    const poll = client.poll.bind(client);
    client.poll = (stream, topic, o) => through(o, () => poll(stream, topic, o));
  });
}

// Apache Iggy 0.8, restarted after a SIGKILL (the Iggy-away drill), refused every poll of the last N
// messages (N above 5) with InvalidOffset while polls by offset worked: the forwarder retried that
// read of the tail for ever and sent nothing more.
test("Iggy refusing a poll of the last messages with InvalidOffset: the tail is read by offset, nothing resent", async () => {
  const server = await startDev({ dedup: { enabled: false } });
  const dir = temp("fwd-last-refused-");
  const before = await firstRunDying(server.address.port, dir, undefined);
  let refused = 0;
  await resumeThroughPolls(
    server,
    dir,
    before.firstSeqs.length - 1,
    "each batch Iggy had was found by offset, not resent",
    (o, poll) => {
      if (o.strategy.kind !== "last" || o.count <= 5) return poll();
      refused++;
      return Promise.reject(new IggyServerError(4100, "Poll"));
    },
  );
  assert.ok(refused > 0, "the forwarder asked for the last messages first");
});

// The tail check holds a page of messages in memory at once, and a binary message is a whole batch
// (up to batch.max_bytes): it read 1,001 at a time, up to 1 GiB, and a gateway restarted on a fresh
// buffer against a partition of large batches held 90-180 MiB of them (the opcua benchmark's
// repeated runs). It pages back a few at a time, past another gateway's batches, to its own.
test("the tail check reads a few batch messages at a time, back past another gateway's, and finds the batch", async () => {
  const server = await startDev({ dedup: { enabled: false } });
  const dir = temp("fwd-tail-pages-");
  const before = await firstRunDying(server.address.port, dir, undefined);
  const other = clientFor(server.address.port);
  try {
    for (let i = 0; i < 40; i++) {
      const payload = Buffer.alloc(1024, i);
      const headers = new Map([
        ["gateway", header.string("gw-other")],
        ["first_seq", header.uint64(BigInt(i * 10))],
        ["count", header.uint32(10)],
      ]);
      await other.send("iot", "telemetry", [{ payload, headers }], {
        partitioning: { kind: "partition", id: 0 },
      });
    }
  } finally {
    await other.close();
  }
  const counts: number[] = [];
  await resumeThroughPolls(
    server,
    dir,
    before.firstSeqs.length - 1,
    "the batch Iggy had was found behind the other gateway's, not resent",
    (o, poll) => {
      counts.push(o.count);
      return poll();
    },
  );
  assert.ok(counts.length >= 3, `paged back past 40 messages (${counts.length} polls)`);
  assert.ok(Math.max(...counts) <= 16, `at most 16 messages a page (${counts.join(", ")})`);
});

// What ext4 can do when it fails under the buffer (errors=remount-ro): report the commit that
// recorded a lease durable, let the batch go to Iggy, and lose the commit (and every commit after
// it). After the restart the buffer holds those readings unleased and hands them out as a new batch.
for (const [lost, leasesKept] of [
  ["every lease", 0],
  ["the second lease", 1],
] as const) {
  test(`the disk lost ${lost} after the batches were sent: they are found in Iggy, not sent twice`, async () => {
    const server = await startDev({ dedup: { enabled: false } });
    const port = server.address.port;
    const dir = temp("fwd-lost-lease-");
    const kept = temp("fwd-lost-lease-kept-");
    const first = await openBuffer({ dir });
    await append(first, null, readings(0, 250));
    await first.close();
    if (leasesKept === 0) cpSync(dir, kept, { recursive: true });

    // One batch per lease; the buffer's files are kept as they were after `leasesKept` exchanges,
    // and the run "dies" at the exchange that would release the second batch.
    const buffer1 = await openBuffer({ dir });
    let exchanges = 0;
    const dying = dyingAtSecondRelease(buffer1, () => {
      if (++exchanges === leasesKept) cpSync(dir, kept, { recursive: true });
    });
    const client1 = clientFor(port);
    const f1 = new Forwarder(dying.buffer, client1, { ...options(), pipeline: 1 });
    f1.start();
    await until("the crash", dying.died);
    await f1.stop();
    await client1.close();
    await buffer1.close();
    const sent = await stored(port);
    assert.equal(sent.firstSeqs.length, 2, "two batches in Iggy");

    rmSync(dir, { recursive: true, force: true });
    cpSync(kept, dir, { recursive: true });
    await resumeAndCheck(
      server,
      dir,
      2,
      "both batches Iggy had were found there, not resent",
      "0.8",
      async (b) => assert.equal((await b.stats()).leasedBatches, leasesKept, "the leases the disk kept"),
    );
  });
}

for (const protocol of generations) {
  test(`Iggy ${protocol}: a reply lost after Iggy stored the batch: the tail is read and the batch is not resent`, async () => {
    const server = await startDev({ dedup: { enabled: false } });
    // A proxy that, once armed, swallows the next reply and cuts the connection.
    let armed = false;
    let dropped = 0;
    const proxy = createServer((down: Socket) => {
      const up = connect(server.address.port, "127.0.0.1");
      const end = () => {
        down.destroy();
        up.destroy();
      };
      for (const s of [down, up]) s.on("error", end).on("close", end);
      down.on("data", (c: Buffer) => up.write(c));
      up.on("data", (c: Buffer) => {
        if (armed) {
          armed = false;
          dropped++;
          end();
        } else {
          down.write(c);
        }
      });
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const buffer = await openBuffer({ dir: temp("fwd-lost-reply-") });
    const client = clientFor(proxyPort, { protocol });
    const forwarder = new Forwarder(buffer, client, options());
    try {
      forwarder.start();
      await append(buffer, forwarder, readings(0, 100));
      await until("first batch", async () => (await buffer.stats()).readings === 0);
      armed = true;
      await append(buffer, forwarder, readings(100, 100));
      await until(
        "the lost reply and the recovery",
        async () => dropped === 1 && (await buffer.stats()).readings === 0,
      );
      const s = await stored(server.address.port);
      assert.deepEqual(s.values, range(200));
    } finally {
      await forwarder.stop();
      await client.close();
      await buffer.close();
      proxy.close();
      await server.close();
    }
  });
}

test("a batch Iggy refuses as invalid goes to the dead letters and the stream goes on", async () => {
  const server = await startDev();
  const buffer = await openBuffer({ dir: temp("fwd-dead-") });
  const real = clientFor(server.address.port);
  let refused = 0;
  const client = Object.create(real) as IggyClient;
  client.send = async (...args: Parameters<IggyClient["send"]>): Promise<SendOutcome> => {
    if (refused++ === 0) return { status: "rejected", error: new IggyServerError(4025, "SendMessages") };
    return real.send(...args);
  };
  const forwarder = new Forwarder(buffer, client, options());
  try {
    await append(buffer, null, readings(0, 150));
    forwarder.start();
    await until("the stream to go on", async () => (await buffer.stats()).readings === 0);
    const dead = await buffer.listDeadLetters();
    assert.equal(dead.length, 1);
    assert.match(dead[0]!.reason, /4025/);
    assert.deepEqual((await stored(server.address.port)).values, range(150).slice(100));
  } finally {
    await forwarder.stop();
    await real.close();
    await buffer.close();
    await server.close();
  }
});
