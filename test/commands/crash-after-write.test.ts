// At least once in, exactly once out: the gateway is killed (SIGKILL) after a command's write reached
// the device and before the command's offset was stored. It is held exactly there without a test hook:
// the results topic is missing (create_missing off), so the result cannot be published and the offset,
// stored only after the result, stays where it was. After the restart the command is read again and
// answered from the ledger with its earlier result; the device is not written again.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { commandMessage } from "../../gateway/commands/message.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { waitFor } from "../helpers/wait.js";
import { freePort } from "../mqtt/helpers.js";
import { GATEWAY, IGGY_KINDS, iggyClient, makeRig, readResults, startIggy, STREAM } from "./rig.js";

for (const kind of IGGY_KINDS) {
  test(
    `${kind}: a kill -9 between the device write and the offset store does not write twice`,
    { timeout: 300_000 },
    async (t) => {
      const iggy = await startIggy(t, kind);
      if (iggy === null) return;
      const client = iggyClient(t, iggy);
      await client.ensureStream(STREAM);
      await client.ensureTopic(STREAM, "telemetry", { partitions: 1 });
      await client.ensureTopic(STREAM, "commands", { partitions: 1 });
      const rig = await makeRig(t, {
        iggy,
        createMissing: false,
        devices: [
          `  - id: boiler`,
          `    protocol: modbus`,
          `    connection: { host: 127.0.0.1, port: ${await freePort()}, unit_id: 1 }`,
          `    poll_ms: 60000`,
          `    points: [ { name: count, address: "holding:20", type: uint16, write: true } ]`,
        ].join("\n"),
      });
      const partition = gatewayPartition(GATEWAY, 1);
      const consumer = { kind: "consumer" as const, id: GATEWAY };
      let gw = await rig.startGateway();
      const sent = await client.send(
        STREAM,
        "commands",
        [commandMessage({ id: "c1", device: "boiler", point: "count", value: 11 })],
        {
          partitioning: { kind: "partition", id: partition },
        },
      );
      assert.equal(sent.status, "confirmed");
      await waitFor("the write to reach the device", () => rig.modbus.writeCounts().boiler === 1);
      await waitFor("the gateway to try to publish the result", () =>
        gw.output().includes("cannot publish a command's result"),
      );
      const exited = once(gw.child, "exit");
      gw.child.kill("SIGKILL");
      await exited;
      assert.equal(
        await client.getConsumerOffset(STREAM, "commands", consumer, partition),
        null,
        "no offset was stored",
      );

      await client.createTopic(STREAM, "command-results", { partitions: 1 });
      gw = await rig.startGateway();
      await client.send(
        STREAM,
        "commands",
        [commandMessage({ id: "c2", device: "boiler", point: "count", value: 12 })],
        {
          partitioning: { kind: "partition", id: partition },
        },
      );
      let results = await readResults(client);
      await waitFor("both commands to be answered", async () => {
        results = await readResults(client);
        return results.some((r) => r.id === "c2");
      });
      assert.deepEqual(
        results.map((r) => [r.id, r.status]),
        [
          ["c1", "ok"],
          ["c2", "ok"],
        ],
      );
      assert.equal(rig.modbus.writeCounts().boiler, 2, "c1 was written once, c2 once");
      assert.match(gw.output(), /"command":"c1".*"repeat":true.*command seen before/);
      await waitFor("the offset of both commands to be stored", async () => {
        const o = await client.getConsumerOffset(STREAM, "commands", consumer, partition);
        return o?.storedOffset === 1n;
      });
    },
  );
}
