// A kill -9 while a command's write is under way (the device takes the request and never answers):
// after the restart the ledger knows the write began and not how it ended, so the command is answered
// `failed` (outcome unknown) and the device is not written again.
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { commandMessage } from "../../gateway/commands/message.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { waitFor } from "../helpers/wait.js";
import {
  GATEWAY,
  hangingDevice,
  IGGY_KINDS,
  iggyClient,
  makeRig,
  readResults,
  startIggy,
  STREAM,
} from "./rig.js";

for (const kind of IGGY_KINDS) {
  test(
    `${kind}: a kill -9 while a write is under way: answered failed (outcome unknown), not written again`,
    { timeout: 300_000 },
    async (t) => {
      const iggy = await startIggy(t, kind);
      if (iggy === null) return;
      const device = await hangingDevice(t);
      const rig = await makeRig(t, {
        iggy,
        devices: [
          `  - id: stuck`,
          `    protocol: modbus`,
          `    connection: { host: 127.0.0.1, port: ${device.port}, unit_id: 1, timeout_ms: 600000, retries: 0 }`,
          `    poll_ms: 600000`,
          `    points: [ { name: count, address: "holding:20", type: uint16, write: true } ]`,
        ].join("\n"),
      });
      const client = iggyClient(t, iggy);
      let gw = await rig.startGateway();
      const partition = gatewayPartition(GATEWAY, 1);
      await client.send(
        STREAM,
        "commands",
        [commandMessage({ id: "d1", device: "stuck", point: "count", value: 3 })],
        {
          partitioning: { kind: "partition", id: partition },
        },
      );
      await waitFor("the write request to reach the device", () => device.writes() === 1);
      const exited = once(gw.child, "exit");
      gw.child.kill("SIGKILL");
      await exited;
      gw = await rig.startGateway();
      let results = await readResults(client);
      await waitFor("the command to be answered", async () => {
        results = await readResults(client);
        return results.some((r) => r.id === "d1");
      });
      const d1 = results.find((r) => r.id === "d1")!;
      assert.equal(d1.status, "failed");
      assert.match(
        d1.error ?? "",
        /the gateway stopped while this command's write was under way .* not written again/,
      );
      // The answer comes from the ledger, never after a write: the device saw the one write only.
      assert.equal(device.writes(), 1);
    },
  );
}
