// A buffer that cannot open at start (here: the data directory is a file, so nothing can be created
// in it) does not end the gateway, which the service manager would only restart into the same
// failure: it stays up, /healthz answers, /readyz says why it is not ready and counts the attempts,
// devices are not served; once the directory is usable the buffer opens and devices are served.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connectAsync, type MqttClient } from "mqtt";
import { freePort } from "../../scripts/bench-kit.js";
import { GatewayProcess } from "../../scripts/drill/gateway-process.js";
import { until } from "../../scripts/drill/kit.js";

test(
  "a buffer that cannot open at start: the gateway stays up, not ready, and starts once it can",
  { timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "iggy-edge-buffer-unavailable-"));
    const [httpPort, mqttPort, iggyPort] = [await freePort(), await freePort(), await freePort()];
    const dataDir = join(dir, "data");
    writeFileSync(dataDir, "not a directory\n");
    const file = join(dir, "gw.yaml");
    writeFileSync(
      file,
      [
        `gateway: { id: unavailable, data_dir: ${JSON.stringify(dataDir)} }`,
        `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: not-used-here }`,
        `http: { listen: 127.0.0.1:${httpPort} }`,
        `mqtt: { broker: { listen: 127.0.0.1:${mqttPort}, users: [ { username: u, password: p, publish: ["t/#"] } ] } }`,
        "devices:",
        "  - id: d1",
        "    protocol: mqtt",
        '    points: [ { name: v, topic: "t/v", decode: number } ]',
        "",
      ].join("\n"),
    );
    const gw = new GatewayProcess(file, httpPort);
    t.after(async () => {
      await gw.kill9();
      rmSync(dir, { recursive: true, force: true });
    });
    await gw.launch();
    await until("three attempts to open the buffer", async () => {
      if (!gw.running) throw new Error(`the gateway exited: ${gw.tail(10)}`);
      const r = await gw.get("/readyz");
      const m = /buffer cannot open \(attempt (\d+)\): storage error while creating .*data[/]buffer/.exec(
        r.body,
      );
      return r.status === 503 && m !== null && Number(m[1]) >= 3;
    });
    assert.equal((await gw.get("/healthz")).status, 200);
    assert.match(gw.output(), /the buffer cannot open .*check that .*data exists, is writable/);
    await assert.rejects(
      connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        username: "u",
        password: "p",
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      }),
      "devices are not served while there is nowhere to store their readings",
    );

    rmSync(dataDir);
    await until("the buffer to open", async () => !/buffer cannot open/.test((await gw.get("/readyz")).body));
    // The broker starts listening after the buffer opened, not with it: connect once it does.
    let client: MqttClient | undefined;
    t.after(() => client?.endAsync(true));
    await until("the broker to accept a device", async () => {
      client = await connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        username: "u",
        password: "p",
        reconnectPeriod: 0,
        connectTimeout: 5_000,
      }).catch(() => undefined);
      return client !== undefined;
    });
    await client!.publishAsync("t/v", "42", { qos: 1 });
    await gw.stop();
    assert.deepEqual(gw.crashes, []);
  },
);
