// An idle command router polls the same empty offset every 50 ms: each generation's client sends
// such a poll from the bytes it encoded for the first one (0.10 rewrites only the request number),
// as one write, and under one request timer; what the polls return does not change.
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import type { ChildProcess } from "node:child_process";
import type { IggyClient, PollOptions } from "../../gateway/iggy/index.js";
import { countTimers } from "../helpers/timers.js";
import { clientFor, kill, spawnDev } from "./helpers.js";

/**
 * Buffers handed to the write of a socket to `port` while `body` runs, the 0.10 request number
 * each held when written (at 168 of its header), and the timers made meanwhile.
 */
async function watched(
  port: number,
  body: () => Promise<void>,
): Promise<{ writes: Buffer[]; numbers: number[]; timers: number }> {
  const writes: Buffer[] = [];
  const numbers: number[] = [];
  const write = Socket.prototype.write;
  Socket.prototype.write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.remotePort === port && Buffer.isBuffer(chunk)) {
      writes.push(chunk);
      numbers.push(chunk.length >= 176 ? chunk.readUInt32LE(168) : -1);
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  const timers = countTimers();
  try {
    await body();
  } finally {
    Socket.prototype.write = write;
    timers.restore();
  }
  return { writes, numbers, timers: timers.made };
}

for (const protocol of ["0.8", "0.10"] as const) {
  describe(`idle polls, protocol ${protocol}`, () => {
    // In a child: only this client's writes are watched.
    let server: ChildProcess;
    let port: number;
    let client: IggyClient;
    const partition = 0;
    const at = (offset: bigint): PollOptions => ({
      consumer: { kind: "consumer", id: "gw" },
      partition,
      strategy: { kind: "offset", value: offset },
      count: 100,
    });

    before(async () => {
      const dev = await spawnDev([]);
      server = dev.child;
      port = dev.port;
      client = clientFor(dev.port, { protocol });
      await client.ensureStream("idle");
      await client.ensureTopic("idle", "commands", { partitions: 1 });
      const sent = await client.send("idle", "commands", [{ payload: Buffer.from("one") }], {
        partitioning: { kind: "partition", id: partition },
      });
      assert.equal(sent.status, "confirmed");
      await client.poll("idle", "commands", at(1n)); // the route and the connection's timer
    });
    after(async () => {
      await client.close();
      await kill(server);
    });

    test("an identical poll is sent from the same bytes, in one write, with no new timer", async () => {
      const batches: number[] = [];
      const { writes, timers } = await watched(port, async () => {
        for (let i = 0; i < 5; i++) {
          // A new options object each time, as a caller may make: equal values are what count.
          batches.push((await client.poll("idle", "commands", at(1n))).messages.length);
        }
      });
      assert.deepEqual(batches, [0, 0, 0, 0, 0]);
      assert.equal(writes.length, 5);
      for (const w of writes) assert.equal(w, writes[0], "the same buffer every time");
      assert.equal(timers, 0);
    });

    test("a changed poll is encoded anew and read right; 0.10 numbers every request", async () => {
      const payloads: string[][] = [];
      const { writes, numbers } = await watched(port, async () => {
        for (const offset of [1n, 1n, 0n, 1n]) {
          const batch = await client.poll("idle", "commands", at(offset));
          payloads.push(batch.messages.map((m) => m.payload.toString()));
        }
      });
      assert.deepEqual(payloads, [[], [], ["one"], []]);
      assert.equal(writes.length, 4);
      assert.equal(writes[1], writes[0]);
      assert.notEqual(writes[2], writes[1], "another offset: other bytes");
      assert.notEqual(writes[3], writes[2], "back to offset 1: encoded again");
      if (protocol === "0.10") {
        const first = numbers[0]!;
        assert.deepEqual(numbers, [first, first + 1, first + 2, first + 3]);
      }
    });
  });
}
