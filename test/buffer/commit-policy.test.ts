// When commits start: an append a device waits for (awaited) commits after ackCommitGapMs, one
// nobody waits for after commitIntervalMs or together with the next awaited one, and commitMaxRows
// waiting readings commit at once. The intervals here are an hour, so what the test sees is the
// rule at work and never the clock: a stats round trip through the worker, queued behind an append's
// frame, shows that the worker holds it uncommitted.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AppendResult } from "../../buffer/index.js";
import { resolveOptions } from "../../buffer/options.js";
import { parseConfig } from "../../gateway/config.js";
import { bufferOptions } from "../../gateway/runtime.js";
import { WAIT_LIMIT_MS } from "../helpers/wait.js";
import { drain, open, reading, readings, scratch } from "./helpers.js";

const HOUR = 3_600_000;

/** One turn of the event loop: the buffer has posted the appends made so far to its worker. */
const turn = () => new Promise<void>((r) => setImmediate(r));

interface Tracked {
  promise: Promise<AppendResult>;
  settled: boolean;
}

function track(promise: Promise<AppendResult>): Tracked {
  const t: Tracked = { promise, settled: false };
  promise.then(
    () => (t.settled = true),
    () => (t.settled = true),
  );
  return t;
}

/** `promise`, or a failure naming `what` if it does not settle within the wait limit. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_LIMIT_MS);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

test("an awaited append commits without waiting for the interval; one nobody waits for waits, or shares that commit", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: 0 });
  await b.append([reading(0)]); // an idle buffer commits at once
  const polled = track(b.append([reading(1)]));
  await turn();
  let s = await b.stats();
  assert.equal(s.commits, 1, "the worker took in the polled reading and did not commit it");
  assert.equal(s.pendingReadings, 1);
  assert.equal(polled.settled, false);

  const acked = await within(b.append([reading(2)], { awaited: true }), "the awaited append's commit");
  assert.equal(polled.settled, true, "the polled reading, accepted first, shared the awaited commit");
  assert.ok(
    (await polled.promise).firstSeq < acked.firstSeq,
    "readings keep the order they were accepted in",
  );
  s = await b.stats();
  assert.equal(s.commits, 2);
  assert.equal(s.pendingReadings, 0);

  // After that commit, a polled reading waits again while an awaited one goes through.
  const polledAgain = track(b.append([reading(3)]));
  await turn();
  s = await b.stats();
  assert.equal(s.commits, 2);
  assert.equal(polledAgain.settled, false);
  await within(b.append([reading(4)], { awaited: true }), "the second awaited append's commit");
  assert.equal(polledAgain.settled, true);
  assert.equal((await b.stats()).commits, 3);
  assert.deepStrictEqual(await drain(b), readings(0, 5));
});

test("appends nobody waits for share commits: 500 appends in 500 event-loop turns make 5 commits of 100", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, commitMaxRows: 100 });
  await b.append([reading(0)]);
  const s0 = await b.stats();
  const appends: Promise<AppendResult>[] = [];
  for (let i = 1; i <= 500; i++) {
    appends.push(b.append([reading(i)]));
    await turn(); // each append its own frame, as readings polled one at a time arrive
  }
  await within(Promise.all(appends), "the commits of 500 readings");
  const s1 = await b.stats();
  assert.equal(s1.committedReadings - s0.committedReadings, 500);
  assert.equal(s1.commits - s0.commits, 5);
});

test("the gap spaces commits under a stream of awaited appends (ackCommitEarly off): only commitMaxRows starts one sooner", async (t) => {
  const b = await open(t, scratch(t), {
    commitIntervalMs: HOUR,
    ackCommitGapMs: HOUR,
    ackCommitEarly: false,
    commitMaxRows: 100,
  });
  await b.append([reading(0)], { awaited: true }); // an idle buffer commits at once
  const s0 = await b.stats();
  const stream: Tracked[] = [];
  for (let i = 1; i <= 250; i++) {
    stream.push(track(b.append([reading(i)], { awaited: true })));
    await turn();
  }
  await within(Promise.all(stream.slice(0, 200).map((a) => a.promise)), "the first 200 commits");
  const s1 = await b.stats();
  assert.equal(s1.commits - s0.commits, 2, "250 awaited appends within the gap: two commits of 100");
  assert.equal(s1.pendingReadings, 50);
  assert.equal(stream.filter((a) => a.settled).length, 200);
  await b.close(); // commits what waits
  const rest = await within(Promise.all(stream.slice(200).map((a) => a.promise)), "the commit at close");
  assert.equal(rest.length, 50);
});

test("with the gap capped by the interval, awaited appends never wait longer than polled ones", async (t) => {
  // commitIntervalMs 0 commits everything at once, whatever ackCommitGapMs says.
  const b = await open(t, scratch(t), { commitIntervalMs: 0, ackCommitGapMs: HOUR });
  await b.append([reading(0)], { awaited: true });
  await within(b.append([reading(1)], { awaited: true }), "an awaited commit with the interval at 0");
  assert.equal((await b.stats()).commits, 2);
});

test("buffer.commit_interval_ms, ack_commit_gap_ms and ack_commit_early reach the buffer: defaults 50, 5 and true, the gap capped by the interval", () => {
  const resolved = (yaml: string) =>
    resolveOptions({ ...bufferOptions(parseConfig(yaml, "/tmp/gw.yaml", {}).config), dir: "/tmp/b" });
  let o = resolved("gateway: { id: gw }");
  assert.deepEqual([o.commitIntervalMs, o.ackCommitGapMs, o.ackCommitEarly], [50, 5, true]);
  o = resolved(
    "gateway: { id: gw }\nbuffer: { commit_interval_ms: 200, ack_commit_gap_ms: 20, ack_commit_early: false }",
  );
  assert.deepEqual([o.commitIntervalMs, o.ackCommitGapMs, o.ackCommitEarly], [200, 20, false]);
  assert.throws(() =>
    parseConfig("gateway: { id: gw }\nbuffer: { ack_commit_early: 1 }", "/tmp/gw.yaml", {}),
  );
  o = resolved("gateway: { id: gw }\nbuffer: { commit_interval_ms: 2, ack_commit_gap_ms: 20 }");
  assert.deepEqual([o.commitIntervalMs, o.ackCommitGapMs], [2, 2]);
  assert.throws(() =>
    parseConfig("gateway: { id: gw }\nbuffer: { ack_commit_gap_ms: -1 }", "/tmp/gw.yaml", {}),
  );
  assert.throws(() => resolveOptions({ dir: "/tmp/b", ackCommitGapMs: -1 }), /ackCommitGapMs/);
});

/** Awaited appends, one per event-loop turn (each its own frame, as requests from separate devices). */
async function awaitedOneByOne(
  b: Awaited<ReturnType<typeof open>>,
  from: number,
  n: number,
): Promise<Tracked[]> {
  const out: Tracked[] = [];
  for (let i = from; i < from + n; i++) {
    out.push(track(b.append([reading(i)], { awaited: true })));
    await turn();
  }
  return out;
}

test("ackCommitEarly: once as many awaited appends wait as the previous commit held, the commit starts without waiting out the gap", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: HOUR });
  // Three devices in one turn: an idle buffer commits them at once, a commit of three awaited calls.
  await within(
    Promise.all([0, 1, 2].map((i) => b.append([reading(i)], { awaited: true }))),
    "the first commit",
  );
  assert.equal((await b.stats()).commits, 1);
  // Two of the three are back: the gap (an hour) holds them.
  const back = await awaitedOneByOne(b, 3, 2);
  let s = await b.stats();
  assert.equal(s.commits, 1);
  assert.equal(s.pendingReadings, 2);
  assert.equal(back.filter((a) => a.settled).length, 0);
  // A reading nobody waits for does not count towards the three.
  const polled = track(b.append([reading(5)]));
  await turn();
  s = await b.stats();
  assert.equal(s.commits, 1, "a polled reading is not a device coming back");
  assert.equal(polled.settled, false);
  // The third is back: the commit starts, and takes the polled reading with it.
  back.push(...(await awaitedOneByOne(b, 6, 1)));
  await within(Promise.all(back.map((a) => a.promise)), "the early commit");
  assert.equal(polled.settled, true);
  s = await b.stats();
  assert.equal(s.commits, 2);
  assert.equal(s.pendingReadings, 0);

  // That commit held three awaited calls again: the next three commit together, and so on.
  for (let round = 0; round < 3; round++) {
    const next = await awaitedOneByOne(b, 7 + round * 3, 3);
    await within(Promise.all(next.map((a) => a.promise)), `round ${round}`);
    assert.equal((await b.stats()).commits, 3 + round);
  }
  assert.deepStrictEqual(await drain(b), readings(0, 16));
});

test("ackCommitEarly follows the last commits: after commits of one awaited call, each awaited call commits at once", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: HOUR });
  await b.append([reading(0)], { awaited: true });
  for (let i = 1; i <= 5; i++) await within(b.append([reading(i)], { awaited: true }), `awaited append ${i}`);
  assert.equal((await b.stats()).commits, 6);
  const polled = track(b.append([reading(6)]));
  await turn();
  assert.equal((await b.stats()).commits, 6, "a polled reading waits for the interval");
  await within(b.append([reading(7)], { awaited: true }), "the awaited append after a polled one");
  assert.equal(polled.settled, true);
  assert.equal((await b.stats()).commits, 7);
});

test("ackCommitEarly: a commit that held no awaited call does not start the next one early", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: HOUR });
  await b.append([reading(0)]); // an idle buffer commits a polled reading at once
  const waiting = await awaitedOneByOne(b, 1, 2);
  const s = await b.stats();
  assert.equal(s.commits, 1);
  assert.equal(s.pendingReadings, 2);
  assert.equal(waiting.filter((a) => a.settled).length, 0);
  await b.close();
  await within(Promise.all(waiting.map((a) => a.promise)), "the commit at close");
});

test("ackCommitEarly expects the most of the last commits: one commit cut short does not lower the count", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: HOUR, commitMaxRows: 50 });
  await within(
    Promise.all([0, 1, 2].map((i) => b.append([reading(i)], { awaited: true }))),
    "a commit of three awaited calls",
  );
  // One device is back when 50 polled readings force a commit (commitMaxRows): it holds one awaited call.
  const one = await awaitedOneByOne(b, 3, 1);
  await within(Promise.all([one[0]!.promise, b.append(readings(4, 50))]), "the commit of 50 rows");
  assert.equal((await b.stats()).commits, 2);
  // Expected now: the most of the last commits, 3. Two back wait; the third starts the commit.
  const back = await awaitedOneByOne(b, 54, 2);
  let s = await b.stats();
  assert.equal(s.commits, 2, "two awaited calls back, three expected");
  assert.equal(back.filter((a) => a.settled).length, 0);
  back.push(...(await awaitedOneByOne(b, 56, 1)));
  await within(Promise.all(back.map((a) => a.promise)), "the early commit of three");
  s = await b.stats();
  assert.equal(s.commits, 3);
  assert.deepStrictEqual(await drain(b), readings(0, 57));
});

test("ackCommitEarly forgets a count after four commits: a device gone for good costs the others four gaps", async (t) => {
  const b = await open(t, scratch(t), { commitIntervalMs: HOUR, ackCommitGapMs: HOUR, commitMaxRows: 50 });
  await within(
    Promise.all([0, 1, 2].map((i) => b.append([reading(i)], { awaited: true }))),
    "a commit of three awaited calls",
  );
  // Four commits of one awaited call each, forced by 50 polled readings (the gap, an hour, stands for them).
  let next = 3;
  for (let k = 0; k < 4; k++) {
    const one = await awaitedOneByOne(b, next++, 1);
    assert.equal(one[0]!.settled, false, `commit ${k}: one awaited call back of three expected`);
    await within(Promise.all([one[0]!.promise, b.append(readings(next, 50))]), `forced commit ${k}`);
    next += 50;
  }
  assert.equal((await b.stats()).commits, 5);
  // The three is out of the last four commits: one awaited call is what is expected now.
  await within(b.append([reading(next++)], { awaited: true }), "an awaited call committed at once");
  assert.equal((await b.stats()).commits, 6);
  assert.deepStrictEqual(await drain(b), readings(0, next));
});

test("ackCommitEarly false: awaited appends wait out the gap however many are back", async (t) => {
  const b = await open(t, scratch(t), {
    commitIntervalMs: HOUR,
    ackCommitGapMs: HOUR,
    ackCommitEarly: false,
  });
  await b.append([reading(0)], { awaited: true });
  const waiting = await awaitedOneByOne(b, 1, 3);
  const s = await b.stats();
  assert.equal(s.commits, 1);
  assert.equal(s.pendingReadings, 3);
  assert.equal(waiting.filter((a) => a.settled).length, 0);
  await b.close(); // commits what waits
  await within(Promise.all(waiting.map((a) => a.promise)), "the commit at close");
});
