// An internal error of the router while it handles a command (not the device's failure) answers that
// command `failed` with the error, audits it, stores the offset past it and goes on with the next:
// the router in this process against dev-iggy, the Modbus adapter against the Modbus simulator.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { CommandLedger } from "../../gateway/commands/ledger.js";
import { commandMessage, decodeResult, type CommandResult } from "../../gateway/commands/message.js";
import { CommandRouter } from "../../gateway/commands/router.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { createLogger } from "../../gateway/log.js";
import { ModbusAdapter } from "../../protocols/modbus/adapter.js";
import { modbusDevice, type ModbusDeviceConfig } from "../../protocols/modbus/schema.js";
import { ModbusSimulator } from "../../protocols/modbus/simulator.js";
import { waitFor } from "../helpers/wait.js";
import { clientFor, startDev, tempDir } from "../iggy/helpers.js";

const GATEWAY = "defect-gw";
const STREAM = "iot";

function valve(port: number): ModbusDeviceConfig {
  const d = modbusDevice.parse({
    id: "valve",
    protocol: "modbus",
    poll_ms: 60_000,
    connection: { host: "127.0.0.1", port: 1, unit_id: 1, timeout_ms: 5000 },
    points: [{ name: "position", address: "holding:10", type: "uint16", write: true }],
  });
  if (d.protocol !== "modbus") throw new Error("unreachable");
  d.connection.port = port;
  return d;
}

test(
  "an internal error while handling a command is answered failed and audited, and the offset moves past it",
  { timeout: 120_000 },
  async (t) => {
    // Undone newest first, whatever the outcome: the router before the server it talks to.
    const undo: (() => unknown)[] = [];
    t.after(async () => {
      for (const u of undo.reverse()) await u();
    });
    const dir = tempDir("iggy-edge-router-defect-");
    undo.push(() => dir.remove());
    const server = await startDev();
    undo.push(() => server.close());
    const sim = new ModbusSimulator([valve(0)], { animateMs: 0 });
    await sim.start();
    undo.push(() => sim.stop());
    const simPort = (sim.address("valve") as { port: number }).port;
    const log = createLogger({ level: "silent" });
    const device = valve(simPort);
    const adapter = new ModbusAdapter([device], { log, reject: () => undefined });
    await adapter.start(async () => undefined);
    undo.push(() => adapter.stop());
    const ledger = new CommandLedger(join(dir.path, "commands.sqlite"));
    undo.push(() => ledger.close());

    let lookups = 0;
    const counted: string[] = [];
    const router = new CommandRouter({
      gatewayId: GATEWAY,
      client: clientFor(server.address.port),
      ledger,
      stream: STREAM,
      commandsTopic: "commands",
      resultsTopic: "command-results",
      createMissing: true,
      partitions: 1,
      pollMs: 10,
      pollCount: 100,
      timeoutMs: 10_000,
      idempotencyMs: 3_600_000,
      maxPending: 1000,
      devices: () => [device],
      adapterFor: (protocol) => {
        // The defect: the first lookup throws, as a bug in the router's own code would.
        if (lookups++ === 0) throw new TypeError("adapter table is broken");
        return protocol === "modbus" ? adapter : undefined;
      },
      count: (result) => counted.push(result),
      log,
    });
    router.start();
    undo.push(() => router.stop());

    const client = clientFor(server.address.port);
    undo.push(() => client.close());
    await waitFor(
      "the router to make its topics",
      async () =>
        (await client.getTopic(STREAM, "commands")) !== null &&
        (await client.getTopic(STREAM, "command-results")) !== null,
    );
    const partition = gatewayPartition(GATEWAY, 1);
    for (const [id, value] of [
      ["broken-1", 111],
      ["fine-2", 222],
    ] as const) {
      const sent = await client.send(
        STREAM,
        "commands",
        [commandMessage({ id, device: "valve", point: "position", value })],
        { partitioning: { kind: "partition", id: partition } },
      );
      assert.equal(sent.status, "confirmed");
    }

    const results: CommandResult[] = [];
    let from = 0n;
    await waitFor("a result for each of the two commands", async () => {
      const batch = await client.poll(STREAM, "command-results", {
        partition,
        strategy: { kind: "offset", value: from },
        count: 100,
      });
      for (const m of batch.messages) {
        if (m.offset < from) continue;
        from = m.offset + 1n;
        const r = decodeResult(m);
        if (r !== null) results.push(r);
      }
      return results.length >= 2;
    });
    const broken = results.find((r) => r.id === "broken-1");
    const fine = results.find((r) => r.id === "fine-2");
    assert.equal(broken?.status, "failed");
    assert.match(broken?.error ?? "", /internal error in the gateway: adapter table is broken/);
    assert.equal(fine?.status, "ok");
    assert.equal(sim.get("valve", "position"), 222);

    // The offset is stored past both commands (it was held at the broken one before).
    await waitFor("the offset to be stored past both commands", async () => {
      const stored = await client.getConsumerOffset(
        STREAM,
        "commands",
        { kind: "consumer", id: GATEWAY },
        partition,
      );
      return stored?.storedOffset === 1n;
    });

    // Audited, counted, and remembered: the same id again is answered with the same failure.
    const audit = ledger.recent(10);
    const row = audit.find((a) => a.id === "broken-1");
    assert.equal(row?.status, "failed");
    assert.match(row?.error ?? "", /adapter table is broken/);
    assert.equal(row?.device, "valve");
    assert.equal(row?.value, "111");
    assert.deepEqual(counted.sort(), ["failed", "ok"]);
    const again = await client.send(
      STREAM,
      "commands",
      [commandMessage({ id: "broken-1", device: "valve", point: "position", value: 111 })],
      { partitioning: { kind: "partition", id: partition } },
    );
    assert.equal(again.status, "confirmed");
    await waitFor("the repeated command's result", async () => {
      const batch = await client.poll(STREAM, "command-results", {
        partition,
        strategy: { kind: "offset", value: from },
        count: 100,
      });
      for (const m of batch.messages) {
        if (m.offset < from) continue;
        from = m.offset + 1n;
        const r = decodeResult(m);
        if (r !== null) results.push(r);
      }
      return results.length >= 3;
    });
    assert.deepEqual(
      { ...results[2], at: 0 },
      { id: "broken-1", status: "failed", error: broken!.error, at: 0 },
    );
    assert.equal(sim.get("valve", "position"), 222, "the repeated command is not written");
  },
);
