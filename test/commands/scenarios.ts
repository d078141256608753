// The end-to-end scenarios of commands, run by one test file per Iggy server (dev-iggy speaking 0.8,
// dev-iggy speaking 0.10, Apache Iggy's own 0.8 server), so that each file stays within its time limit: `iggy-edge command
// --wait` reaches a Modbus device (the simulator, which counts writes) and an MQTT device (a real
// Mosquitto, with mosquitto_sub on the command topic); every refusal comes back with its reason;
// malformed commands are answered and do not stop the consumer; a repeated id is answered without a
// second write; a dead device does not hold another device's commands; `command log` prints the trail.
import assert from "node:assert/strict";
import { test } from "node:test";
import { commandMessage } from "../../gateway/commands/message.js";
import { gatewayPartition } from "../../gateway/envelope.js";
import { header } from "../../gateway/iggy/index.js";
import { waitFor } from "../helpers/wait.js";
import { freePort, hasMosquittoClients, hasMosquitto, startMosquitto, sub } from "../mqtt/helpers.js";
import {
  deadDevice,
  GATEWAY,
  hangingDevice,
  type IggyKind,
  iggyClient,
  makeRig,
  readResults,
  startIggy,
  STREAM,
} from "./rig.js";

const TIMEOUT = 300_000;

async function devices(modbusPort: number, deadPort: number, mqttPort: number): Promise<string> {
  return [
    `  - id: boiler`,
    `    protocol: modbus`,
    `    connection: { host: 127.0.0.1, port: ${modbusPort}, unit_id: 1 }`,
    `    poll_ms: 60000`,
    `    points:`,
    `      - { name: setpoint, address: "holding:10", type: float32, write: { min: 0, max: 90 } }`,
    `      - { name: count, address: "holding:20", type: uint16, write: true }`,
    `      - { name: burner, address: "coil:0", type: bool, write: true }`,
    `      - { name: pressure, address: "input:0", type: int16 }`,
    `  - id: off`,
    `    protocol: modbus`,
    `    enabled: false`,
    `    connection: { host: 127.0.0.1, port: ${modbusPort}, unit_id: 2 }`,
    `    points: [ { name: x, address: "holding:0", write: true } ]`,
    `  - id: dead`,
    `    protocol: modbus`,
    `    connection: { host: 127.0.0.1, port: ${deadPort}, unit_id: 1, timeout_ms: 5000, retries: 0 }`,
    `    poll_ms: 60000`,
    `    points: [ { name: x, address: "holding:0", write: true } ]`,
    `  - id: thermo`,
    `    protocol: mqtt`,
    `    connection: { url: "mqtt://127.0.0.1:${mqttPort}" }`,
    `    points:`,
    `      - { name: setpoint, topic: thermo/setpoint, decode: number, command_topic: thermo/setpoint/set, write: { min: 5, max: 30 } }`,
  ].join("\n");
}

export function commandScenarios(kind: IggyKind): void {
  test(
    `${kind}: commands reach Modbus and MQTT devices, refusals say why, a repeated id is not written twice`,
    { timeout: TIMEOUT },
    async (t) => {
      if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
      const iggy = await startIggy(t, kind);
      if (iggy === null) return;
      const mosquitto = await startMosquitto(t);
      const rig = await makeRig(t, {
        iggy,
        devices: await devices(await freePort(), await deadDevice(t), mosquitto.port),
      });
      const gw = await rig.startGateway();
      const onDevice = await sub(t, mosquitto.port, ["-t", "thermo/setpoint/set", "-q", "1"], {
        username: "",
        password: "",
      });

      // Through the CLI as a user sends them: one per protocol, and one in MessagePack.
      const modbusOk = await rig.command([
        "--device",
        "boiler",
        "--point",
        "setpoint",
        "--value",
        "42.5",
        "--wait",
      ]);
      assert.equal(modbusOk.code, 0, modbusOk.stderr + gw.output());
      assert.match(modbusOk.stdout, / ok$/m);
      assert.equal(rig.modbus.writeCounts().boiler, 1);
      const mqttOk = await rig.command([
        "--device",
        "thermo",
        "--point",
        "setpoint",
        "--value",
        "21",
        "--wait",
      ]);
      assert.equal(mqttOk.code, 0, mqttOk.stderr + gw.output());
      await waitFor("the MQTT device to receive the command", () => onDevice.lines.includes("21"));
      const packed = await rig.command([
        "--device",
        "boiler",
        "--point",
        "burner",
        "--value",
        "true",
        "--codec",
        "msgpack",
        "--wait",
      ]);
      assert.equal(packed.code, 0, packed.stderr);
      assert.equal(rig.modbus.writeCounts().boiler, 2);

      // Every refusal, each with its reason; none reaches a device.
      const refusals: [string[], RegExp, string][] = [
        [["--device", "nope", "--point", "x", "--value", "1"], /has no device named 'nope'/, "rejected"],
        [["--device", "off", "--point", "x", "--value", "1"], /device off is disabled/, "rejected"],
        [
          ["--device", "boiler", "--point", "nope", "--value", "1"],
          /has no point named 'nope' \(its points: setpoint, count, burner, pressure\)/,
          "rejected",
        ],
        [
          ["--device", "boiler", "--point", "pressure", "--value", "1"],
          /boiler\/pressure is read-only/,
          "rejected",
        ],
        [
          ["--device", "boiler", "--point", "burner", "--value", "5"],
          /takes true or false, not 5/,
          "rejected",
        ],
        [
          ["--device", "boiler", "--point", "count", "--value", "2.5"],
          /takes a whole number, not 2.5/,
          "rejected",
        ],
        [
          ["--device", "boiler", "--point", "setpoint", "--value", "hot"],
          /takes a number, not "hot"/,
          "rejected",
        ],
        [
          ["--device", "boiler", "--point", "setpoint", "--value", "95"],
          /95 is outside the write range of boiler\/setpoint \(0 to 90\)/,
          "rejected",
        ],
        [
          ["--device", "thermo", "--point", "setpoint", "--value", "4"],
          /outside the write range of thermo\/setpoint/,
          "rejected",
        ],
        [
          [
            "--device",
            "boiler",
            "--point",
            "setpoint",
            "--value",
            "20",
            "--expires-at",
            "2020-01-01T00:00:00Z",
          ],
          /expired at 2020-01-01T00:00:00.000Z/,
          "expired",
        ],
      ];
      const answers = await Promise.all(refusals.map(([args]) => rig.command([...args, "--wait", "--json"])));
      answers.forEach((a, i) => {
        const [, reason, status] = refusals[i]!;
        assert.equal(a.code, 1, a.stderr);
        const r = JSON.parse(a.stdout) as { status: string; error: string };
        assert.equal(r.status, status, a.stdout);
        assert.match(r.error, reason);
      });

      // Malformed messages are answered `rejected` and the consumer goes on.
      const client = iggyClient(t, iggy);
      const topic = await client.getTopic(STREAM, "commands");
      const partition = gatewayPartition(GATEWAY, topic!.partitionsCount);
      const json = (text: string, codec = "json") => ({
        payload: Buffer.from(text),
        headers: new Map([["codec", header.string(codec)]]),
      });
      const sent = await client.send(
        STREAM,
        "commands",
        [
          json("{oops"),
          json(JSON.stringify({ id: "bad-value", device: "boiler", point: "count", value: { n: 1 } })),
          json(JSON.stringify({ id: "no-device", point: "count", value: 1 })),
          json(JSON.stringify({ id: "cbor-1", device: "boiler", point: "count", value: 1 }), "cbor"),
          commandMessage({ id: "after-bad", device: "boiler", point: "count", value: 5 }),
        ],
        { partitioning: { kind: "partition", id: partition } },
      );
      assert.equal(sent.status, "confirmed");
      let results = await readResults(client);
      await waitFor("the command after the malformed ones to be answered", async () => {
        results = await readResults(client);
        return results.some((r) => r.id === "after-bad");
      });
      const byError = (re: RegExp) => results.find((r) => r.status === "rejected" && re.test(r.error ?? ""));
      assert.ok(
        byError(/the payload is not JSON/),
        results.map((r) => `${r.id} ${r.status} ${r.error}`).join("\n"),
      );
      assert.equal(byError(/value must be a number, true\/false or a text, got an object/)?.id, "bad-value");
      assert.equal(byError(/device must be a non-empty text/)?.id, "no-device");
      assert.ok(byError(/unknown codec 'cbor'/));
      assert.equal(results.find((r) => r.id === "after-bad")?.status, "ok");
      assert.equal(rig.modbus.writeCounts().boiler, 3);

      // The same id twice: answered twice with the one result, written once.
      const first = await rig.command([
        "--id",
        "dup-1",
        "--device",
        "boiler",
        "--point",
        "count",
        "--value",
        "7",
        "--wait",
        "--json",
      ]);
      const again = await rig.command([
        "--id",
        "dup-1",
        "--device",
        "boiler",
        "--point",
        "count",
        "--value",
        "7",
        "--wait",
        "--json",
      ]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(JSON.parse(again.stdout), JSON.parse(first.stdout));
      assert.equal(rig.modbus.writeCounts().boiler, 4);

      // The audit trail and the metric.
      const log = await rig.cli(["command", "log", "-c", rig.configFile, "--count", "100"]);
      assert.equal(log.code, 0, log.stderr);
      assert.match(log.stdout, /dup-1 {2}boiler\/count {2}7 {2}ok\n/);
      assert.match(log.stdout, /dup-1 {2}boiler\/count {2}7 {2}ok \(seen before\)/);
      assert.match(log.stdout, /nope\/x {2}1 {2}rejected: gateway cmd-gw has no device named 'nope'/);
      assert.match(log.stdout, /thermo\/setpoint {2}21 {2}ok/);
      assert.ok(!log.stdout.includes(iggy.password), "the audit trail holds no secret");
      const json10 = await rig.cli([
        "command",
        "log",
        "-c",
        rig.configFile,
        "--json",
        "--device",
        "boiler",
        "--count",
        "2",
      ]);
      const lines = json10.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { id: string; repeat: boolean });
      assert.deepEqual(
        lines.map((l) => [l.id, l.repeat]),
        [
          ["dup-1", false],
          ["dup-1", true],
        ],
      );
      const metrics = await (await fetch(`http://${rig.httpAddress}/metrics`)).text();
      assert.match(metrics, /iggy_edge_commands_total\{result="ok"\} 5\n/);
      assert.match(metrics, /iggy_edge_commands_total\{result="duplicate"\} 1\n/);
      assert.match(metrics, /iggy_edge_commands_total\{result="expired"\} 1\n/);
      assert.match(metrics, /iggy_edge_commands_total\{result="rejected"\} 13\n/);
    },
  );

  test(
    `${kind}: a dead device holds only its own commands; one device's commands run in order`,
    { timeout: TIMEOUT },
    async (t) => {
      const iggy = await startIggy(t, kind);
      if (iggy === null) return;
      const rig = await makeRig(t, {
        iggy,
        devices: (await devices(await freePort(), await deadDevice(t), 1)).split("\n  - id: thermo")[0]!,
      });
      const gw = await rig.startGateway();
      const client = iggyClient(t, iggy);
      const topic = await client.getTopic(STREAM, "commands");
      const partition = gatewayPartition(GATEWAY, topic!.partitionsCount);
      // One batch: the dead device's command first, then ten for the live device.
      const batch = [
        commandMessage({ id: "to-dead", device: "dead", point: "x", value: 1 }),
        ...Array.from({ length: 10 }, (_, i) =>
          commandMessage({ id: `live-${i}`, device: "boiler", point: "count", value: i }),
        ),
      ];
      const sent = await client.send(STREAM, "commands", batch, {
        partitioning: { kind: "partition", id: partition },
      });
      assert.equal(sent.status, "confirmed");
      let results = await readResults(client);
      await waitFor("every command to be answered", async () => {
        results = await readResults(client);
        return results.length === 11;
      });
      const live = results.filter((r) => r.id.startsWith("live-"));
      assert.deepEqual(
        live.map((r) => r.id),
        Array.from({ length: 10 }, (_, i) => `live-${i}`),
        "one device's commands are answered in order",
      );
      assert.ok(
        live.every((r) => r.status === "ok"),
        live.map((r) => `${r.id} ${r.status} ${r.error}`).join("\n"),
      );
      const dead = results.find((r) => r.id === "to-dead")!;
      assert.equal(dead.status, "failed", gw.output());
      assert.ok(
        live.every((r) => r.offset < dead.offset),
        `the live device's results came before the dead one's: ${JSON.stringify(results.map((r) => r.id))}`,
      );
      assert.equal(rig.modbus.writeCounts().boiler, 10);
    },
  );

  test(
    `${kind}: 10,000 commands queued for a stuck device do not hold a command for another device`,
    { timeout: TIMEOUT },
    async (t) => {
      const iggy = await startIggy(t, kind);
      if (iggy === null) return;
      const stuck = await hangingDevice(t);
      const rig = await makeRig(t, {
        iggy,
        devices: [
          `  - id: stuck`,
          `    protocol: modbus`,
          `    connection: { host: 127.0.0.1, port: ${stuck.port}, unit_id: 1, timeout_ms: 600000, retries: 0 }`,
          `    poll_ms: 600000`,
          `    points: [ { name: count, address: "holding:20", type: uint16, write: true } ]`,
          `  - id: boiler`,
          `    protocol: modbus`,
          `    connection: { host: 127.0.0.1, port: ${await freePort()}, unit_id: 1 }`,
          `    poll_ms: 60000`,
          `    points: [ { name: count, address: "holding:20", type: uint16, write: true } ]`,
        ].join("\n"),
      });
      await rig.startGateway();
      const client = iggyClient(t, iggy);
      const topic = await client.getTopic(STREAM, "commands");
      const partition = gatewayPartition(GATEWAY, topic!.partitionsCount);
      for (let from = 0; from < 10_000; from += 1000) {
        const sent = await client.send(
          STREAM,
          "commands",
          Array.from({ length: 1000 }, (_, i) =>
            commandMessage({
              id: `stuck-${from + i}`,
              device: "stuck",
              point: "count",
              value: (from + i) % 65536,
            }),
          ),
          { partitioning: { kind: "partition", id: partition } },
        );
        assert.equal(sent.status, "confirmed");
      }
      await waitFor("the first write to reach the stuck device", () => stuck.writes() === 1);
      const other = await rig.command(["--device", "boiler", "--point", "count", "--value", "1", "--wait"]);
      assert.equal(other.code, 0, other.stderr);
      assert.equal(rig.modbus.writeCounts().boiler, 1);
      const results = await readResults(client);
      assert.equal(
        results.filter((r) => r.id.startsWith("stuck-")).length,
        0,
        "the stuck device's commands all wait",
      );
      assert.equal(stuck.writes(), 1, "one write at a time per device");
    },
  );
}
