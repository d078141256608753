// The response cache: a retransmitted confirmable request (same message id) is answered from it
// without storing its readings twice, and the cache holds at most dedup_cache_bytes / 4 responses
// (each response datagram is at least 4 bytes), however many requests came. A retransmission that
// comes while the first copy still waits for its commit is not stored either: both copies get the
// first copy's outcome.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Reading } from "../../protocols/adapter.js";
import { waitFor } from "../helpers/wait.js";
import { coapDevice, rawClient, section, startAdapter } from "./helpers.js";

/** A buffer whose commit finishes only when the test says so: commits[i]() ends the i-th. */
function heldCommits(): {
  stored: Reading[][];
  commits: (() => void)[];
  emit: (r: Reading[]) => Promise<void>;
} {
  const stored: Reading[][] = [];
  const commits: (() => void)[] = [];
  const emit = (readings: Reading[]): Promise<void> =>
    new Promise((resolve) => {
      stored.push(readings);
      commits.push(resolve);
    });
  return { stored, commits, emit };
}

test(
  "a retransmission is answered from the cache; the cache stays within its bytes",
  { timeout: 120_000 },
  async (t) => {
    const device = coapDevice({ id: "m", points: [{ name: "v", path: "/v" }] });
    const { adapter, port, rec } = await startAdapter(t, [device], section({ dedup_cache_bytes: 400 }));
    const { answers, post } = await rawClient(t, port);
    await post(1, 10);
    await waitFor("the first answer", () => answers.length === 1);
    await post(1, 10); // the device did not see the answer and sends the same message again
    await waitFor("the second answer", () => answers.length === 2);
    assert.deepEqual(answers, [
      { messageId: 1, code: "2.01" },
      { messageId: 1, code: "2.01" },
    ]);
    assert.equal(rec.readings.length, 1, "the retransmission was not stored again");
    assert.equal(adapter.stats().server!.requests, 1, "the retransmission never reached the handler");

    // 300 more requests, one after the other: the cache keeps at most 400 / 4 = 100 of them.
    for (let i = 2; i < 302; i++) {
      await post(i, i);
      await waitFor(`answer ${i}`, () => answers.length === i + 1);
    }
    const lru = (
      adapter as unknown as { ingest: { server: { _lru: { size: number; calculatedSize: number } } } }
    ).ingest.server._lru;
    assert.ok(lru.size <= 100, `${lru.size} responses cached`);
    assert.ok(lru.calculatedSize <= 400, `${lru.calculatedSize} bytes cached`);
    assert.equal(rec.readings.length, 301);
  },
);

test(
  "a retransmission while the first copy waits for its commit is answered with its outcome, stored once",
  { timeout: 120_000 },
  async (t) => {
    const device = coapDevice({ id: "m", points: [{ name: "v", path: "/v" }] });
    const { stored, commits, emit } = heldCommits();
    const { adapter, port } = await startAdapter(t, [device], section(), emit);
    const { answers, post } = await rawClient(t, port);

    await post(7, 70);
    await waitFor("the first copy waiting for its commit", () => stored.length === 1);
    await post(7, 70);
    await post(7, 70);
    await waitFor("both retransmissions seen", () => adapter.stats().server!.retransmitted === 2);
    commits[0]!();
    // A copy whose answer outlasted the package's piggyback wait (50 ms) got an empty ACK first.
    const codes = (): string[] => answers.filter((a) => a.code !== "0.00").map((a) => a.code);
    await waitFor("three answers", () => codes().length === 3);
    assert.deepEqual(codes(), ["2.01", "2.01", "2.01"]);
    assert.equal(stored.length, 1, "the retransmissions were not stored");
    assert.equal(adapter.stats().server!.requests, 1);

    // The next message is a new request again.
    await post(8, 80);
    await waitFor("the next request stored", () => stored.length === 2);
    commits[1]!();
    await waitFor("its answer", () => codes().length === 4);
    assert.equal(codes()[3], "2.01");
  },
);

test(
  "a retransmission after a separate response (the commit outlasted the piggyback wait) is answered again, stored once",
  { timeout: 120_000 },
  async (t) => {
    const device = coapDevice({ id: "m", points: [{ name: "v", path: "/v" }] });
    const { stored, commits, emit } = heldCommits();
    const { adapter, port } = await startAdapter(t, [device], section(), emit);
    const { datagrams, post, ack } = await rawClient(t, port);

    await post(9, 90);
    await waitFor("the first copy waiting for its commit", () => stored.length === 1);
    // The commit outlasts the package's piggyback wait: it acknowledges the request with an empty ACK
    // and sends the answer later as a confirmable response of its own, under a new message id.
    await waitFor("the empty ACK", () => datagrams.length === 1);
    assert.deepEqual(datagrams[0], { messageId: 9, code: "0.00", type: "ACK" });
    commits[0]!();
    await waitFor("the separate response", () => datagrams.length === 2);
    const separate = datagrams[1]!;
    assert.equal(separate.type, "CON");
    assert.equal(separate.code, "2.01");
    assert.notEqual(separate.messageId, 9);

    // The device's retransmission crossed the answer (it had not seen the empty ACK in time).
    await post(9, 90);
    await waitFor("an answer to the retransmission", () => datagrams.length === 3);
    assert.equal(stored.length, 1, "the retransmission after the answer was not stored again");
    assert.deepEqual(datagrams[2], { messageId: 9, code: "2.01", type: "ACK" });

    // The device acknowledges the separate response (the package forgets it); a late copy still is
    // answered, not stored: from the package's cache now, which holds the piggybacked answer above.
    await ack(separate.messageId);
    await post(9, 90);
    await waitFor("an answer to the late copy", () => datagrams.length === 4);
    assert.equal(stored.length, 1, "the late copy was not stored again");
    assert.deepEqual(datagrams[3], { messageId: 9, code: "2.01", type: "ACK" });
    assert.equal(adapter.stats().server!.requests, 1);
    assert.equal(adapter.stats().server!.retransmitted, 1);
  },
);
