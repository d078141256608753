// The forwarder's supervision: what each kind of failure does to the loop (restart or give up),
// and that readiness, the metrics and the status say so. Failures are injected where they occur:
// a buffer whose lease or release (one exchange with the buffer) fails with an I/O error, a codec that throws a TypeError, and a
// buffer worker thread that dies.
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { Writable } from "node:stream";
import { test, type TestContext } from "node:test";
import type { Worker } from "node:worker_threads";
import { BufferStorageError, openBuffer, type ReadingBuffer } from "../../buffer/index.js";
import { parseConfig } from "../../gateway/config.js";
import { decodeMessage } from "../../gateway/cli/tail-command.js";
import { codecs, type Codec } from "../../gateway/codecs/index.js";
import {
  Forwarder,
  type ForwarderFailure,
  type ForwarderOptions,
  type ForwarderState,
} from "../../gateway/forwarder.js";
import { HttpEndpoint } from "../../gateway/http.js";
import { createLogger } from "../../gateway/log.js";
import { GatewayMetrics } from "../../gateway/metrics.js";
import { GatewayRuntime } from "../../gateway/runtime.js";
import { StatusBoard, type Status } from "../../gateway/status.js";
import type { Reading } from "../../protocols/adapter.js";
import { clientFor, freePort, PASSWORD, startDev, tempDir } from "../iggy/helpers.js";

const log = createLogger({ level: "silent" });
const HOUR = 3_600_000;

function readings(from: number, n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    device: "dev-1",
    point: "counter",
    ts: 1_764_000_000_000 + from + i,
    value: from + i,
    quality: "good" as const,
  }));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function stateReached(f: Forwarder, state: ForwarderState): Promise<void> {
  if (f.state === state) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (s: ForwarderState): void => {
      if (s !== state) return;
      f.off("state", on);
      resolve();
    };
    f.on("state", on);
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** A buffer in front of `real` whose calls the test can replace; the rest run on `real` itself. */
function wrap(real: ReadingBuffer, patch: Partial<ReadingBuffer>): ReadingBuffer {
  return new Proxy(real, {
    get(target, key) {
      if (key in patch) return patch[key as keyof ReadingBuffer];
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/** A forwarder on a real buffer and the dev server, wired to readiness and metrics as the runtime does. */
async function setup(
  t: TestContext,
  make: {
    buffer?: (real: ReadingBuffer) => ReadingBuffer;
    codec?: Codec;
    retryMs?: number;
    maxDefects?: number;
  } = {},
) {
  const server = await startDev();
  const dir = tempDir("supervision-");
  const real = await openBuffer({ dir: dir.path, log });
  const buffer = make.buffer ? make.buffer(real) : real;
  const client = clientFor(server.address.port);
  const metrics = new GatewayMetrics({ processMetrics: false });
  const fatal: ForwarderFailure[] = [];
  const retryMs = make.retryMs ?? 10;
  const options: ForwarderOptions = {
    gatewayId: "gw-test",
    stream: "iot",
    topic: "telemetry",
    createMissing: true,
    partitions: 1,
    codec: make.codec ?? codecs.flatbuffers,
    batch: { maxReadings: 50, maxBytes: 1 << 20, lingerMs: 0 },
    log,
    metrics,
    retry: { initialDelayMs: retryMs, maxDelayMs: retryMs },
    ...(make.maxDefects ? { maxDefects: make.maxDefects } : {}),
    onFatal: (f) => fatal.push(f),
  };
  const forwarder = new Forwarder(buffer, client, options);
  const board = new StatusBoard("gw-test", "0.0.0", []);
  board.ready = true;
  board.addReadinessCheck(() => forwarder.notReady());
  board.iggyStatus = () => ({ ...forwarder.status() });
  const http = new HttpEndpoint("127.0.0.1:0", board, metrics, log);
  const address = await http.start();
  t.after(async () => {
    await forwarder.stop();
    await client.close();
    await real.close();
    await http.stop();
    await server.close();
    dir.remove();
  });
  const base = `http://127.0.0.1:${address.port}`;
  return {
    server,
    real,
    forwarder,
    fatal,
    get: async (path: string) => {
      const r = await fetch(base + path);
      return { status: r.status, text: await r.text() };
    },
    append: async (rs: Reading[]) => {
      await real.append(rs);
      forwarder.notify(rs.length);
    },
  };
}

/** Every reading value in the dev server's partition, in order. */
async function stored(port: number): Promise<number[]> {
  const client = clientFor(port);
  try {
    const page = await client.poll("iot", "telemetry", {
      partition: 0,
      strategy: { kind: "offset", value: 0n },
      count: 1000,
    });
    return page.messages.flatMap((m) => decodeMessage(m).map((l) => l.reading.value as number));
  } finally {
    await client.close();
  }
}

const ioError = () =>
  new BufferStorageError("BUFFER_IO", "disk I/O error while leasing a batch", "SQLITE_IOERR");

test(
  "a buffer I/O error restarts the loop: not ready meanwhile, counted, and no exit asked for",
  { timeout: 60_000 },
  async (t) => {
    let leases = 0;
    const s = await setup(t, {
      retryMs: HOUR, // the loop stays in its restart backoff while the test looks
      buffer: (real) =>
        wrap(real, {
          exchange: (request) => {
            if (request.lease) leases++;
            return Promise.reject(ioError());
          },
        }),
    });
    s.forwarder.start();
    await stateReached(s.forwarder, "restarting");
    assert.equal(leases, 1);

    const ready = await s.get("/readyz");
    assert.equal(ready.status, 503);
    assert.match(
      ready.text,
      /^not ready: forwarder restarting \(buffer: disk I\/O error while leasing a batch\)/,
    );
    const metrics = (await s.get("/metrics")).text;
    assert.match(metrics, /^iggy_edge_forwarder_up 0$/m);
    assert.match(metrics, /^iggy_edge_forwarder_restarts_total\{reason="buffer"\} 1$/m);
    const status = JSON.parse((await s.get("/api/status")).text) as Status;
    assert.equal(status.ready, false);
    assert.equal(status.iggy?.state, "restarting");
    assert.deepEqual(
      status.iggy?.last_failure && (status.iggy.last_failure as { kind: string }).kind,
      "buffer",
    );
    assert.deepEqual(s.fatal, [], "a buffer I/O error is not a reason to exit");
  },
);

test(
  "an I/O error after Iggy confirmed a batch: the restart finds it in Iggy and releases it, once",
  { timeout: 60_000 },
  async (t) => {
    const released = deferred();
    let releasedReadings = 0;
    let failNext = true;
    const s = await setup(t, {
      buffer: (real) =>
        wrap(real, {
          exchange: async (request) => {
            // The first release fails (in the round trip that would lease the next batch too).
            if (failNext && (request.release ?? []).length > 0) {
              failNext = false;
              throw new BufferStorageError(
                "BUFFER_IO",
                "disk I/O error while releasing a batch",
                "SQLITE_IOERR",
              );
            }
            const r = await real.exchange(request);
            releasedReadings += 50 * r.released.filter((ok) => ok).length;
            if (releasedReadings === 100) released.resolve();
            return r;
          },
        }),
    });
    const states: ForwarderState[] = [];
    s.forwarder.on("state", (st) => states.push(st));
    s.forwarder.start();
    await s.append(readings(0, 50));
    await s.append(readings(50, 50));
    await released.promise;

    assert.deepEqual(await stored(s.server.address.port), range(100), "each reading once, in order");
    assert.deepEqual(states, ["running", "restarting", "running"]);
    assert.equal((await s.real.stats()).readings, 0);
    assert.deepEqual(await s.real.listDeadLetters(), []);
    const metrics = (await s.get("/metrics")).text;
    assert.match(metrics, /^iggy_edge_forwarder_up 1$/m);
    assert.match(metrics, /^iggy_edge_forwarder_restarts_total\{reason="buffer"\} 1$/m);
    assert.match(metrics, /^iggy_edge_forward_batches_total\{result="duplicate"\} 1$/m);
    assert.equal((await s.get("/readyz")).status, 200);
    assert.deepEqual(s.fatal, []);
  },
);

test(
  "a codec that throws a TypeError once is a defect: the loop restarts and sends the batch, nothing is dead-lettered",
  { timeout: 60_000 },
  async (t) => {
    let throws = 1;
    const codec: Codec = {
      ...codecs.msgpack,
      encode: (b) => {
        if (throws-- > 0) throw new TypeError("Cannot read properties of undefined (reading 'value')");
        return codecs.msgpack.encode(b);
      },
    };
    const released = deferred();
    const s = await setup(t, {
      codec,
      buffer: (real) =>
        wrap(real, {
          exchange: async (request) => {
            const r = await real.exchange(request);
            if (r.released.includes(true)) released.resolve();
            return r;
          },
        }),
    });
    s.forwarder.start();
    await s.append(readings(0, 50));
    await released.promise;

    assert.deepEqual(await stored(s.server.address.port), range(50));
    assert.deepEqual(await s.real.listDeadLetters(), [], "a defect is not the batch's fault");
    const metrics = (await s.get("/metrics")).text;
    assert.match(metrics, /^iggy_edge_forwarder_restarts_total\{reason="defect"\} 1$/m);
    assert.match(metrics, /^iggy_edge_forwarder_up 1$/m);
    assert.equal(s.forwarder.state, "running");
    assert.deepEqual(s.fatal, []);
  },
);

test(
  "a defect that keeps coming: after maxDefects in a row the forwarder gives up and asks to exit",
  { timeout: 60_000 },
  async (t) => {
    let encodes = 0;
    const codec: Codec = {
      ...codecs.flatbuffers,
      encode: () => {
        encodes++;
        throw new TypeError("x is not a function");
      },
    };
    const s = await setup(t, { codec, maxDefects: 3 });
    s.forwarder.start();
    await s.append(readings(0, 50));
    await stateReached(s.forwarder, "failed");

    assert.equal(encodes, 3);
    assert.equal(s.fatal.length, 1);
    assert.equal(s.fatal[0]!.kind, "defect");
    assert.ok(s.fatal[0]!.error instanceof TypeError);
    const ready = await s.get("/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.text, /forwarder stopped for good \(defect: x is not a function\)/);
    const metrics = (await s.get("/metrics")).text;
    assert.match(metrics, /^iggy_edge_forwarder_up 0$/m);
    assert.match(metrics, /^iggy_edge_forwarder_restarts_total\{reason="defect"\} 2$/m);
    assert.deepEqual(await s.real.listDeadLetters(), []);
    assert.equal((await s.real.stats()).readings, 50, "the readings stay in the buffer for the next run");
  },
);

test(
  "the buffer's worker dies: not ready, buffer_up 0, the forwarder gives up and the runtime asks to exit",
  { timeout: 60_000 },
  async (t) => {
    const server = await startDev();
    const dir = tempDir("supervision-runtime-");
    const httpPort = await freePort();
    const text = [
      `gateway: { id: gw-worker, data_dir: ${JSON.stringify(join(dir.path, "data"))} }`,
      `iggy: { address: 127.0.0.1:${server.address.port}, username: iggy, password: ${PASSWORD}, protocol: "0.8" }`,
      `http: { listen: 127.0.0.1:${httpPort} }`,
      "",
    ].join("\n");
    const fatal = deferred<string>();
    const runtime = new GatewayRuntime(parseConfig(text, "gw.yaml"), log, {
      onFatal: (r) => fatal.resolve(r),
    });
    t.after(async () => {
      await runtime.stop();
      await server.close();
      dir.remove();
    });
    await runtime.start();
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${httpPort}${path}`);
      return { status: r.status, text: await r.text() };
    };
    assert.equal((await get("/readyz")).status, 200);
    assert.match((await get("/metrics")).text, /^iggy_edge_buffer_up 1$/m);

    // Reaching into the runtime for its parts: the worker thread is what dies here.
    const parts = runtime as unknown as { buffer: { worker: Worker }; forwarder: Forwarder };
    const forwarder = parts.forwarder;
    const gaveUp = stateReached(forwarder, "failed");
    await parts.buffer.worker.terminate();

    assert.match(await fatal.promise, /the buffer's worker died: buffer worker exited unexpectedly/);
    const ready = await get("/readyz");
    assert.equal(ready.status, 503);
    assert.match(ready.text, /buffer failed: buffer worker exited unexpectedly/);
    assert.match((await get("/metrics")).text, /^iggy_edge_buffer_up 0$/m);
    const status = JSON.parse((await get("/api/status")).text) as Status;
    assert.equal(status.buffer?.state, "failed");

    await gaveUp;
    assert.equal(forwarder.status().last_failure?.kind, "buffer_gone");
    assert.match((await get("/metrics")).text, /^iggy_edge_forwarder_up 0$/m);
  },
);

test(
  "a dead worker is seen by the buffer itself: failure set, listeners told once, calls refused",
  { timeout: 30_000 },
  async (t) => {
    const dir = tempDir("supervision-buffer-");
    const buffer = await openBuffer({ dir: dir.path, log });
    t.after(async () => {
      await buffer.close();
      dir.remove();
    });
    const told: Error[] = [];
    buffer.onFailure((e) => told.push(e));
    assert.equal(buffer.failure, null);
    const worker = (buffer as unknown as { worker: Worker }).worker;
    const exited = once(worker, "exit");
    await worker.terminate();
    await exited;
    assert.equal(told.length, 1);
    assert.equal(buffer.failure, told[0]);
    await assert.rejects(buffer.lease({ maxReadings: 1 }), (e: unknown) => e === told[0]);
    await assert.rejects(buffer.append(readings(0, 1)), (e: unknown) => e === told[0]);
  },
);

test(
  "the runtime stops at once while Iggy is unreachable, not after a request's time limit",
  { timeout: 60_000 },
  async (t) => {
    const dir = tempDir("supervision-stop-");
    t.after(() => dir.remove());
    const httpPort = await freePort();
    const unreachable = await freePort();
    // A request time limit far beyond the test's own: a stop that waits for it fails the test.
    const text = [
      `gateway: { id: gw-stop, data_dir: ${JSON.stringify(join(dir.path, "data"))} }`,
      `iggy: { address: 127.0.0.1:${unreachable}, username: iggy, password: x, request_timeout_ms: 600000 }`,
      `http: { listen: 127.0.0.1:${httpPort} }`,
      "",
    ].join("\n");
    let seen: () => void = () => {};
    const refused = new Promise<void>((resolve) => (seen = resolve));
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (chunk.toString().includes("iggy connect failed")) seen();
        done();
      },
    });
    const runtime = new GatewayRuntime(
      parseConfig(text, "gw.yaml"),
      createLogger({ format: "json", destination: sink, level: "info" }),
    );
    await runtime.start();
    // The forwarder now waits inside the client for a connection that cannot be made.
    await refused;
    await runtime.stop();
  },
);
