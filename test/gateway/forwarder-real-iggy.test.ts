// Exactly once against Apache Iggy's own 0.8 server (not only dev-iggy): an outage drill with the
// server stopped (SIGTERM, and once SIGKILL) and restarted on its data dir while readings keep
// arriving; a gateway process killed between Iggy's confirm and the buffer's release; a gateway
// process killed with SIGKILL at random operation counts during a drain. Each time the partition is
// read back and decoded: every reading once, in order.
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { once } from "node:events";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { openBuffer } from "../../buffer/index.js";
import { codecs } from "../../gateway/codecs/index.js";
import { Forwarder } from "../../gateway/forwarder.js";
import { batchMessageId, readBatchMessage, readEnvelope } from "../../gateway/envelope.js";
import { IggyClient, type SendOutcome } from "../../gateway/iggy/index.js";
import { createLogger } from "../../gateway/log.js";
import { startIggyServer, type RealIggyServer } from "../helpers/iggy-server.js";
import { kill, tempDir } from "../iggy/helpers.js";
import type { ForwarderChildConfig, ForwarderChildMessage } from "./fixtures/forwarder-child.js";
import { readings } from "./helpers.js";

const CHILD = join(import.meta.dirname, "fixtures", "forwarder-child.js");
const GATEWAY = "gw-real";
const STREAM = "iot";
const TOPIC = "telemetry";
const BATCH = 50;
/** Bound on any one wait below; the work is counted in operations, this only stops a hang. */
const WAIT_MS = 90_000;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function temp(t: TestContext, prefix: string): string {
  const d = tempDir(prefix);
  t.after(() => d.remove());
  return d.path;
}

/** Counts events; `reach(n)` resolves once the count is at least n. */
class Counter {
  count = 0;
  private readonly waiters = new Set<{ n: number; done: () => void }>();

  add(k = 1): void {
    this.count += k;
    for (const w of this.waiters) if (this.count >= w.n) w.done();
  }

  reach(n: number, what: string): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((ok, fail) => {
      const w = {
        n,
        done: () => {
          clearTimeout(timer);
          this.waiters.delete(w);
          ok();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        fail(new Error(`timed out waiting for ${what}: ${this.count} of ${n}`));
      }, WAIT_MS);
      this.waiters.add(w);
    });
  }
}

interface StoredMessage {
  offset: bigint;
  id: bigint;
  firstSeq: number | undefined;
  count: number | undefined;
  seqs: number[];
  values: number[];
}

/** Every message in the gateway's partition, decoded with its codec. */
async function readBack(server: RealIggyServer): Promise<StoredMessage[]> {
  const client = new IggyClient({
    address: server.address,
    credentials: server.credentials,
    requestTimeoutMs: 10_000,
  });
  const out: StoredMessage[] = [];
  try {
    for (let offset = 0n; ;) {
      const page = await client.poll(STREAM, TOPIC, {
        partition: 0,
        strategy: { kind: "offset", value: offset },
        count: 500,
      });
      if (page.messages.length === 0) return out;
      for (const m of page.messages) {
        offset = m.offset + 1n;
        const lines = readBatchMessage(m);
        const envelope = readEnvelope(m);
        out.push({
          offset: m.offset,
          id: m.id,
          firstSeq: envelope.firstSeq,
          count: envelope.count,
          seqs: lines.map((l) => l.seq),
          values: lines.map((l) => l.reading.value as number),
        });
      }
    }
  } finally {
    await client.close();
  }
}

/**
 * The partition holds readings 0..n-1 (all of them when `total` is given, else a prefix), each once
 * and in order, in messages whose first_seq/count headers and ids match what they carry. Sequence
 * numbers are consecutive except at the readings in `restartedEmpty`: the first appended after the
 * buffer was drained empty and reopened, which continues above its high-water mark.
 */
function assertOnceInOrder(
  stored: StoredMessage[],
  total?: number,
  restartedEmpty: ReadonlySet<number> = new Set(),
): number {
  const values = stored.flatMap((m) => m.values);
  assert.deepEqual(values, range(total ?? values.length), "every reading once, in order");
  const seqs = stored.flatMap((m) => m.seqs);
  seqs.forEach((s, i) => {
    if (i === 0) return;
    if (restartedEmpty.has(i)) assert.ok(s > seqs[i - 1]!, `sequence numbers increase at ${i}`);
    else assert.equal(s, seqs[i - 1]! + 1, `sequence numbers consecutive at ${i}`);
  });
  for (const m of stored) {
    assert.equal(m.firstSeq, m.seqs[0], `first_seq header of the message at offset ${m.offset}`);
    assert.equal(m.count, m.seqs.length, `count header of the message at offset ${m.offset}`);
    assert.equal(
      m.id,
      batchMessageId(GATEWAY, BigInt(m.firstSeq!)),
      `id of the message at offset ${m.offset}`,
    );
  }
  assert.equal(new Set(stored.map((m) => m.id)).size, stored.length, "no message id twice");
  return values.length;
}

/** Appends readings from..from+n-1; whether the buffer held none before. */
async function appendOffline(dir: string, from: number, n: number): Promise<boolean> {
  const buffer = await openBuffer({ dir });
  try {
    const empty = (await buffer.stats()).readings === 0;
    await buffer.append(readings(from, n));
    return empty;
  } finally {
    await buffer.close();
  }
}

/**
 * A loopback proxy to the server. Armed, it lets the next SEND through to the server, swallows the
 * server's reply to it, cuts the connection and resolves: the batch is stored, the gateway cannot know.
 */
async function replySwallowingProxy(
  t: TestContext,
  upstreamPort: number,
): Promise<{ port: number; swallowNextSendReply(): Promise<void> }> {
  let armed: (() => void) | null = null;
  let sendWritten = false;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = connect(upstreamPort, "127.0.0.1");
    const end = (): void => {
      down.destroy();
      up.destroy();
    };
    for (const s of [down, up]) {
      sockets.add(s);
      s.on("error", end).on("close", () => (sockets.delete(s), end()));
    }
    down.on("data", (chunk: Buffer) => {
      // 0.8 framing: [length u32][command u32]...; 101 is SEND_MESSAGES.
      if (armed && chunk.length >= 8 && chunk.readUInt32LE(4) === 101) sendWritten = true;
      up.write(chunk);
    });
    up.on("data", (chunk: Buffer) => {
      if (armed && sendWritten) {
        const done = armed;
        armed = null;
        end();
        done();
      } else {
        down.write(chunk);
      }
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return {
    port: (server.address() as AddressInfo).port,
    swallowNextSendReply: () =>
      new Promise<void>((ok, fail) => {
        sendWritten = false;
        const timer = setTimeout(() => fail(new Error("no SEND went through the proxy")), WAIT_MS);
        armed = () => {
          clearTimeout(timer);
          ok();
        };
      }),
  };
}

test(
  "real Iggy 0.8: outage drill, server stopped (SIGTERM, SIGKILL) and restarted during the drain: every reading once, in order",
  { timeout: 300_000 },
  async (t) => {
    // Confirmed sends must survive the SIGKILL round: see saveEverySend.
    const server = await startIggyServer(t, { saveEverySend: true });
    if (!server) return;
    const proxy = await replySwallowingProxy(t, server.port);
    const buffer = await openBuffer({ dir: temp(t, "fwd-real-outage-") });
    const client = new IggyClient({
      address: `127.0.0.1:${proxy.port}`,
      credentials: server.credentials,
      // A request to a server that is down fails after this; each failure is one operation below.
      requestTimeoutMs: 1_500,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    const confirmed = new Counter();
    const failed = new Counter();
    const released = new Counter();
    const sends = new Map<number, number>();
    const unanswered: number[] = [];
    const send = client.send.bind(client);
    client.send = async (...args): Promise<SendOutcome> => {
      const firstSeq = Number(args[2][0]?.headers?.get("first_seq")?.value);
      sends.set(firstSeq, (sends.get(firstSeq) ?? 0) + 1);
      const out = await send(...args);
      if (out.status === "confirmed") confirmed.add();
      else failed.add();
      if (out.status === "unknown") unanswered.push(firstSeq);
      return out;
    };
    const poll = client.poll.bind(client);
    client.poll = async (...args) => {
      try {
        return await poll(...args);
      } catch (e) {
        failed.add();
        throw e;
      }
    };
    const leased = new Map<number, number>();
    const exchange = buffer.exchange.bind(buffer);
    buffer.exchange = async (request) => {
      const r = await exchange(request);
      (request.release ?? []).forEach((id, i) => r.released[i] && released.add(leased.get(id)!));
      for (const b of r.batches) leased.set(b.id, b.readings.length);
      return r;
    };
    const forwarder = new Forwarder(buffer, client, {
      gatewayId: GATEWAY,
      stream: STREAM,
      topic: TOPIC,
      createMissing: true,
      partitions: 1,
      codec: codecs.flatbuffers,
      batch: { maxReadings: BATCH, maxBytes: 1 << 20, lingerMs: 5 },
      log: createLogger({ level: "silent" }),
      retry: { initialDelayMs: 10, maxDelayMs: 100 },
    });
    let total = 0;
    const append = async (n: number): Promise<void> => {
      await buffer.append(readings(total, n));
      total += n;
      forwarder.notify(n);
    };
    try {
      await append(2_000);
      forwarder.start();
      for (const signal of ["SIGTERM", "SIGKILL", "SIGTERM"] as const) {
        await confirmed.reach(confirmed.count + 4, "four more batches confirmed");
        // Killed right after it stored a batch whose reply the gateway never got.
        if (signal === "SIGKILL") await proxy.swallowNextSendReply();
        await server.stop(signal);
        // Down: readings keep being accepted, and the forwarder keeps failing.
        for (let i = 0; i < 2; i++) {
          await append(40);
          await failed.reach(failed.count + 1, `a failed attempt while the server is down (${signal})`);
        }
        await append(40);
        assert.ok((await buffer.stats()).readings > 0, "the backlog waits in the buffer");
        await server.restart();
      }
      await append(120);
      await released.reach(total, "every reading released");
      await forwarder.stop();
      const stored = await readBack(server);
      assertOnceInOrder(stored, total);
      assert.ok(
        unanswered.some((seq) => sends.get(seq) === 1),
        `a batch whose reply was lost (${unanswered.join(", ")}) was found in Iggy by the tail check, not resent`,
      );
      assert.equal((await buffer.stats()).readings, 0);
      assert.deepEqual(await buffer.listDeadLetters(), []);
      t.diagnostic(
        `${failed.count} failed attempts, ${confirmed.count} batches confirmed, ` +
          `replies lost for first_seq ${unanswered.join(", ")}, sent again: ` +
          unanswered.filter((seq) => sends.get(seq)! > 1).join(", "),
      );
    } finally {
      await forwarder.stop();
      await client.close();
      await buffer.close();
    }
  },
);

type ChildEnd =
  | { kind: "killed"; ops: number }
  | { kind: "confirmed-unreleased"; firstSeq: number; ops: number }
  | { kind: "drained"; ops: number; sent: number[]; foundInIggy: number[] };

/**
 * Runs the gateway child until it drains the buffer, stops between confirm and release
 * (`stopAtRelease`), or reaches operation `killAtOp`; those two end in a SIGKILL.
 */
async function runGateway(
  t: TestContext,
  server: RealIggyServer,
  bufferDir: string,
  codec: string,
  options: { killAtOp?: number; stopAtRelease?: number } = {},
): Promise<ChildEnd> {
  const config: ForwarderChildConfig = {
    bufferDir,
    address: server.address,
    ...server.credentials,
    gatewayId: GATEWAY,
    stream: STREAM,
    topic: TOPIC,
    codec,
    maxReadings: BATCH,
    ...(options.stopAtRelease !== undefined ? { stopAtRelease: options.stopAtRelease } : {}),
  };
  const child = fork(CHILD, [JSON.stringify(config)], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  t.after(() => kill(child));
  let ops = 0;
  let end: ChildEnd | undefined;
  child.on("message", (m: ForwarderChildMessage) => {
    if (end) return;
    if (m.type === "op") {
      ops = m.n;
      if (m.n === options.killAtOp) {
        end = { kind: "killed", ops };
        child.kill("SIGKILL");
      }
    } else if (m.type === "confirmed-unreleased") {
      end = { kind: "confirmed-unreleased", firstSeq: m.firstSeq, ops };
      child.kill("SIGKILL");
    } else {
      end = { kind: "drained", ops, sent: m.sent, foundInIggy: m.foundInIggy };
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((ok, fail) => {
    timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`the gateway child did not finish within ${WAIT_MS} ms (${ops} operations)`));
    }, WAIT_MS);
    child.once("exit", (c, s) => ok([c, s]));
    child.once("error", fail);
  }).finally(() => clearTimeout(timer));
  if (!end) throw new Error(`the gateway child exited (${signal ?? `code ${code}`}) after ${ops} operations`);
  if (end.kind === "drained") assert.equal(code, 0, "a drained gateway child exits 0");
  else assert.equal(signal, "SIGKILL");
  return end;
}

test(
  "real Iggy 0.8: a gateway killed between Iggy's confirm and the release does not send the batch twice",
  { timeout: 240_000 },
  async (t) => {
    const server = await startIggyServer(t);
    if (!server) return;
    const dir = temp(t, "fwd-real-crash-");
    await appendOffline(dir, 0, 250);

    const first = await runGateway(t, server, dir, "msgpack", { stopAtRelease: 3 });
    assert.equal(first.kind, "confirmed-unreleased");
    const firstSeq = (first as { firstSeq: number }).firstSeq;
    const before = await readBack(server);
    // The third batch, and any sent while its release was on its way (the pipeline holds several).
    const inIggy = assertOnceInOrder(before);
    assert.ok(inIggy >= 150, `Iggy holds at least three batches (${inIggy} readings)`);
    const unreleased = before.map((m) => m.firstSeq!).filter((seq) => seq >= firstSeq);
    assert.equal(unreleased[0], firstSeq, "Iggy holds the batches the gateway had not released");
    const buffer = await openBuffer({ dir });
    const left = (await buffer.stats()).readings;
    await buffer.close();
    assert.ok(left >= 150, `the buffer still holds it and what follows (${left} readings left)`);

    const second = await runGateway(t, server, dir, "msgpack");
    assert.equal(second.kind, "drained");
    const { sent, foundInIggy } = second as { sent: number[]; foundInIggy: number[] };
    assert.deepEqual(foundInIggy, unreleased, "the tail check found every confirmed, unreleased batch");
    assert.ok(!sent.some((seq) => unreleased.includes(seq)), "and none was sent again");
    assertOnceInOrder(await readBack(server), 250);
  },
);

test(
  "real Iggy 0.8: a gateway killed with SIGKILL at random operation counts during a drain: no loss, no duplicate",
  { timeout: 300_000 },
  async (t) => {
    const server = await startIggyServer(t);
    if (!server) return;
    const dir = temp(t, "fwd-real-kill-");
    const seed = Number(process.env.IGGY_EDGE_TEST_SEED ?? Date.now()) >>> 0 || 1;
    let state = seed;
    const rand = (n: number): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    let total = 2_500;
    await appendOffline(dir, 0, total);
    const rounds: string[] = [];
    // A round may drain the buffer empty before its kill: the next readings appended continue above
    // the buffer's high-water mark.
    const restartedEmpty = new Set<number>();
    for (let round = 0; round < 5; round++) {
      if (await appendOffline(dir, total, 100)) restartedEmpty.add(total);
      total += 100;
      const killAtOp = 1 + rand(45);
      const end = await runGateway(t, server, dir, "msgpack", { killAtOp });
      rounds.push(`${end.kind} at op ${end.ops}`);
      const inIggy = assertOnceInOrder(await readBack(server), undefined, restartedEmpty);
      assert.ok(inIggy <= total);
    }
    const last = await runGateway(t, server, dir, "msgpack");
    assert.equal(last.kind, "drained");
    t.diagnostic(`seed ${seed} (IGGY_EDGE_TEST_SEED): ${rounds.join(", ")}`);
    assertOnceInOrder(await readBack(server), total, restartedEmpty);
  },
);
