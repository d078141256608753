// The pipelined drain: the forwarder holds a bounded window of batches (one in flight to Iggy, the
// next ones leased and encoded), releases confirmed batches in the round trip that leases the next,
// sends strictly in order, and after a failure mid-window goes on from the oldest batch Iggy has
// not confirmed: every reading once, in order.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import {
  BufferStorageError,
  openBuffer,
  type ExchangeRequest,
  type ReadingBuffer,
} from "../../buffer/index.js";
import { decodeMessage } from "../../gateway/cli/tail.js";
import { codecs, type Codec } from "../../gateway/codecs/index.js";
import { Forwarder, type ForwarderOptions } from "../../gateway/forwarder.js";
import { IggyConnectionError, type IggyClient, type SendOutcome } from "../../gateway/iggy/index.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import { waitFor } from "../helpers/wait.js";
import { clientFor, startDev, tempDir } from "../iggy/helpers.js";
import { readings } from "./helpers.js";

const log = createLogger({ level: "silent" });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const BATCH = 50;

/** Every reading value in the partition and every message's first_seq, in order. */
async function stored(port: number): Promise<{ values: number[]; firstSeqs: number[]; ids: bigint[] }> {
  const client = clientFor(port);
  const values: number[] = [];
  const firstSeqs: number[] = [];
  const ids: bigint[] = [];
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
        ids.push(m.id);
        const lines = decodeMessage(m);
        firstSeqs.push(lines[0]!.seq);
        for (const l of lines) values.push(l.reading.value as number);
      }
    }
  } finally {
    await client.close();
  }
  return { values, firstSeqs, ids };
}

interface Observed {
  /** first_seq of each send, in the order they started. */
  sends: number[];
  /** The most sends in flight at once. */
  maxSending: number;
  /** The most batches held (leased, not released) at the start of an exchange plus those it asks for. */
  maxWindow: number;
  exchanges: number;
  /** Exchanges that released and leased in the same round trip. */
  combined: number;
  /** How many batches each exchange that leased asked for. */
  leases: number[];
}

/**
 * A forwarder on a real buffer holding `total` readings and the dev server, with the buffer's
 * exchanges and the client's sends observed; `patch` may change a send or an exchange.
 */
async function setup(
  t: TestContext,
  total: number,
  pipeline: number,
  patch: {
    send?: (firstSeq: number, send: () => Promise<SendOutcome>) => Promise<SendOutcome>;
    exchange?: (request: ExchangeRequest, n: number) => void;
    codec?: Codec;
  } = {},
) {
  const server = await startDev({ dedup: { enabled: false } });
  const dir = tempDir("pipeline-");
  const buffer = await openBuffer({ dir: dir.path, log });
  const client = clientFor(server.address.port);
  const metrics = new GatewayMetrics({ processMetrics: false });
  t.after(async () => {
    await forwarder.stop();
    await client.close();
    await buffer.close();
    await server.close();
    dir.remove();
  });
  for (let i = 0; i < total; i += 500) await buffer.append(readings(i, Math.min(500, total - i)));

  const seen: Observed = { sends: [], maxSending: 0, maxWindow: 0, exchanges: 0, combined: 0, leases: [] };
  const held = new Set<number>();
  let sending = 0;
  const send = client.send.bind(client);
  client.send = async (...args: Parameters<IggyClient["send"]>): Promise<SendOutcome> => {
    const firstSeq = Number(args[2][0]?.headers?.get("first_seq")?.value);
    seen.sends.push(firstSeq);
    seen.maxSending = Math.max(seen.maxSending, ++sending);
    try {
      return await (patch.send ? patch.send(firstSeq, () => send(...args)) : send(...args));
    } finally {
      sending--;
    }
  };
  const observed: ReadingBuffer = Object.create(buffer) as ReadingBuffer;
  observed.exchange = async (request) => {
    const n = ++seen.exchanges;
    const releasing = request.release ?? [];
    if (releasing.length > 0 && request.lease) seen.combined++;
    if (request.lease) seen.leases.push(request.lease.batches ?? 1);
    if (request.resume) held.clear();
    for (const id of releasing) held.delete(id);
    seen.maxWindow = Math.max(seen.maxWindow, held.size + (request.lease?.batches ?? 0));
    patch.exchange?.(request, n);
    const r = await buffer.exchange(request);
    for (const b of r.batches) held.add(b.id);
    return r;
  };
  const options: ForwarderOptions = {
    gatewayId: "gw-pipe",
    stream: "iot",
    topic: "telemetry",
    createMissing: true,
    partitions: 1,
    codec: patch.codec ?? codecs.flatbuffers,
    batch: { maxReadings: BATCH, maxBytes: 1 << 20, lingerMs: 0 },
    log,
    metrics,
    retry: { initialDelayMs: 5, maxDelayMs: 20 },
    pipeline,
  };
  const forwarder = new Forwarder(observed, client, options);
  return { server, buffer, forwarder, seen, metrics };
}

/** Iggy holds readings 0..total-1 once each, in order, one message per batch, no id twice. */
async function assertOnceInOrder(port: number, total: number): Promise<number[]> {
  const s = await stored(port);
  assert.deepEqual(s.values, range(total), "every reading once, in order");
  assert.equal(new Set(s.ids).size, s.ids.length, "no message id twice");
  for (let i = 1; i < s.firstSeqs.length; i++) assert.ok(s.firstSeqs[i]! > s.firstSeqs[i - 1]!);
  return s.firstSeqs;
}

test(
  "the forwarder holds up to `pipeline` batches, one send at a time, and releases in the round trip that leases",
  { timeout: 120_000 },
  async (t) => {
    const total = 1000;
    // The first send waits until the test has seen the window fill behind it.
    let openGate!: () => void;
    const gate = new Promise<void>((r) => (openGate = r));
    const s = await setup(t, total, 3, {
      send: async (firstSeq, send) => {
        if (s.seen.sends.length === 1) await gate;
        return send();
      },
    });
    s.forwarder.start();
    await waitFor(
      "three batches held while the first is in flight",
      async () => s.seen.sends.length >= 1 && (await s.buffer.stats()).leasedBatches === 3,
    );
    assert.equal(s.seen.sends.length, 1, "the next batch waits for Iggy's confirmation of the first");
    openGate();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);

    const firstSeqs = await assertOnceInOrder(s.server.address.port, total);
    assert.equal(firstSeqs.length, total / BATCH);
    assert.deepEqual(s.seen.sends, firstSeqs, "each batch sent once, in order");
    assert.equal(s.seen.maxSending, 1, "one send in flight at a time");
    assert.equal(s.seen.maxWindow, 3, "never more than `pipeline` batches held");
    assert.ok(s.seen.combined >= 1, "releases ride on the round trips that lease");
    assert.ok(
      s.seen.exchanges < 2 * firstSeqs.length,
      `fewer round trips to the buffer (${s.seen.exchanges}) than a lease and a release per batch`,
    );
  },
);

test(
  "with a backlog each lease takes at least half the window: one transaction and fsync for several batches",
  { timeout: 120_000 },
  async (t) => {
    const total = 2000;
    const s = await setup(t, total, 8);
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);
    await assertOnceInOrder(s.server.address.port, total);
    assert.ok(s.seen.leases.length > 1, `leased in several exchanges (${s.seen.leases.join(", ")})`);
    for (const n of s.seen.leases) assert.ok(n >= 4, `a lease of ${n} batches (${s.seen.leases.join(", ")})`);
    assert.ok(
      s.seen.leases.length <= Math.ceil(total / BATCH / 4) + 1,
      `${s.seen.leases.length} leases for ${total / BATCH} batches`,
    );
    assert.equal(s.seen.maxWindow, 8, "never more than `pipeline` batches held");
  },
);

test(
  "pipeline 1: one batch held at a time, still every reading once and in order",
  { timeout: 120_000 },
  async (t) => {
    const s = await setup(t, 300, 1);
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);
    await assertOnceInOrder(s.server.address.port, 300);
    assert.equal(s.seen.maxWindow, 1);
  },
);

test(
  "a send that fails mid-window is retried first: later batches wait, nothing lost or doubled",
  { timeout: 120_000 },
  async (t) => {
    const total = 1000;
    let failed: number | null = null;
    const s = await setup(t, total, 4, {
      send: async (firstSeq, send) => {
        // The fifth batch fails twice without reaching Iggy, with four batches held.
        if (s.seen.sends.filter((x) => x === firstSeq).length <= 2 && s.seen.sends.indexOf(firstSeq) === 4) {
          failed = firstSeq;
          return { status: "not_sent", error: new IggyConnectionError("simulated: connection refused") };
        }
        return send();
      },
    });
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);

    const firstSeqs = await assertOnceInOrder(s.server.address.port, total);
    assert.notEqual(failed, null);
    const at = s.seen.sends.indexOf(failed!);
    assert.deepEqual(
      s.seen.sends.slice(at, at + 3),
      [failed, failed, failed],
      "the failed batch goes again, before any later one",
    );
    assert.deepEqual([...new Set(s.seen.sends)], firstSeqs);
    const retries = (await s.metrics.forwardBatches.get()).values.find((v) => v.labels.result === "retry");
    assert.equal(retries?.value, 2);
  },
);

test(
  "a reply lost mid-window: the tail shows the batch arrived, it is not resent, the rest follow in order",
  { timeout: 120_000 },
  async (t) => {
    const total = 1000;
    let lost: number | null = null;
    const s = await setup(t, total, 4, {
      send: async (firstSeq, send) => {
        const outcome = await send();
        if (lost === null && s.seen.sends.length === 6) {
          lost = firstSeq;
          return {
            status: "unknown",
            error: new IggyConnectionError("simulated: connection lost before the reply"),
          };
        }
        return outcome;
      },
    });
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);

    const firstSeqs = await assertOnceInOrder(s.server.address.port, total);
    assert.deepEqual(s.seen.sends, firstSeqs, "no batch sent twice: the lost one was found in Iggy");
    const dup = (await s.metrics.forwardBatches.get()).values.find((v) => v.labels.result === "duplicate");
    assert.equal(dup?.value, 1);
  },
);

test(
  "the buffer fails mid-window: the restart takes back every held batch, confirmed ones are found in Iggy, the rest sent once",
  { timeout: 120_000 },
  async (t) => {
    const total = 1000;
    let failures = 0;
    const s = await setup(t, total, 4, {
      exchange: (request, n) => {
        // A round trip that releases and leases, well into the drain, fails as a disk error would.
        if (failures === 0 && n >= 4 && (request.release ?? []).length > 0 && request.lease) {
          failures++;
          throw new BufferStorageError("BUFFER_IO", "disk I/O error while leasing a batch", "SQLITE_IOERR");
        }
      },
    });
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);

    assert.equal(failures, 1);
    const firstSeqs = await assertOnceInOrder(s.server.address.port, total);
    assert.deepEqual([...new Set(s.seen.sends)], firstSeqs, "in order");
    assert.equal(s.seen.sends.length, firstSeqs.length, "no batch sent twice");
    const restarts = (await s.metrics.forwarderRestarts.get()).values.find(
      (v) => v.labels.reason === "buffer",
    );
    assert.equal(restarts?.value, 1);
    const dup = (await s.metrics.forwardBatches.get()).values.find((v) => v.labels.result === "duplicate");
    assert.ok((dup?.value ?? 0) >= 1, "the confirmed batches whose release failed were found in Iggy");
  },
);

test(
  "a defect mid-window restarts the loop: nothing the ended run leased jumps ahead of the batches it held",
  { timeout: 120_000 },
  async (t) => {
    const total = 1000;
    let encodes = 0;
    // The fourth batch fails to encode once: the loop restarts while the buffer is leasing more.
    const codec: Codec = {
      ...codecs.flatbuffers,
      encode: (b) => {
        if (++encodes === 4) throw new TypeError("simulated defect");
        return codecs.flatbuffers.encode(b);
      },
    };
    const s = await setup(t, total, 4, { codec });
    s.forwarder.start();
    await waitFor("the backlog drained", async () => (await s.buffer.stats()).readings === 0);

    const firstSeqs = await assertOnceInOrder(s.server.address.port, total);
    assert.deepEqual(s.seen.sends, firstSeqs, "each batch sent once, in order");
    const restarts = (await s.metrics.forwarderRestarts.get()).values.find(
      (v) => v.labels.reason === "defect",
    );
    assert.equal(restarts?.value, 1);
  },
);
