// Apache Iggy 0.8 restarted after a SIGKILL was seen refusing polls of a partition's last N messages
// (InvalidOffset) while polls by offset worked: pollTail then reads the same messages by offset and
// says so in the log.
import assert from "node:assert/strict";
import { test } from "node:test";
import { IggyServerError } from "../../gateway/iggy/index.js";
import { captureLog } from "../buffer/helpers.js";
import { clientFor, startDev } from "./helpers.js";

test(
  "a refused poll of the last messages: the same messages by offset, and a warning",
  { timeout: 30_000 },
  async () => {
    const server = await startDev();
    const { log, lines } = captureLog();
    const client = clientFor(server.address.port, { logger: log });
    try {
      await client.ensureStream("s");
      await client.ensureTopic("s", "t", { partitions: 1 });
      for (let i = 0; i < 12; i++)
        await client.send("s", "t", [{ id: BigInt(i + 1), payload: Buffer.from(`m${i}`) }], {
          partitioning: { kind: "partition", id: 0 },
        });
      const expected = (await client.pollTail("s", "t", 0, 8)).map((m) => m.payload.toString());
      assert.deepEqual(expected, ["m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11"]);
      const warningsSoFar = () => lines.filter((l) => l.level === 40);
      assert.equal(warningsSoFar().length, 0, "no warning while Iggy answers");

      const poll = client.poll.bind(client);
      let refused = 0;
      client.poll = (stream, topic, o) => {
        if (o.strategy.kind !== "last") return poll(stream, topic, o);
        refused++;
        return Promise.reject(new IggyServerError(4100, "Poll"));
      };
      const tail = (await client.pollTail("s", "t", 0, 8)).map((m) => m.payload.toString());
      assert.equal(refused, 1);
      assert.deepEqual(tail, expected);
      const warnings = warningsSoFar();
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(warnings[0]!.msg, /refused a poll of the partition's last messages \(InvalidOffset\)/);
    } finally {
      await client.close();
      await server.close();
    }
  },
);
