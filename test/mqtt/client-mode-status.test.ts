// The site connection as an operator sees it: the whole gateway runtime reading a real Mosquitto in
// client mode shows the connection, what it holds in flight and its acknowledgement delay on
// /api/status, on the status page and in /metrics.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import pino from "pino";
import { parseConfig } from "../../gateway/config.js";
import { GatewayRuntime } from "../../gateway/runtime.js";
import type { Status } from "../../gateway/status.js";
import { mosquittoPub, subscriptions } from "./client-mode-helpers.js";
import { freePort, hasMosquitto, hasMosquittoClients, startMosquitto, tempDir, waitFor } from "./helpers.js";

const MESSAGES = 3;

test(
  "/api/status, the page and /metrics show each site connection with its messages in flight and acknowledgement delay",
  { timeout: 120_000 },
  async (t) => {
    if (!hasMosquitto(t) || !hasMosquittoClients(t)) return;
    const m = await startMosquitto(t);
    const [httpPort, iggyPort] = [await freePort(), await freePort()];
    // Nothing listens at the Iggy address: the readings wait in the buffer, the gateway stays ready.
    const text = [
      `gateway: { id: gw-status, data_dir: ${JSON.stringify(join(tempDir(t), "data"))} }`,
      `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: iggy-pass }`,
      `http: { listen: 127.0.0.1:${httpPort} }`,
      "devices:",
      "  - id: hall-2",
      "    protocol: mqtt",
      `    connection: { url: "mqtt://127.0.0.1:${m.port}", client_id: edge-status }`,
      "    points:",
      "      - { name: co2, topic: site/hall-2/co2, qos: 1 }",
      "",
    ].join("\n");
    const runtime = new GatewayRuntime(parseConfig(text, "gw.yaml"), pino({ level: "silent" }));
    t.after(() => runtime.stop());
    await runtime.start();
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${httpPort}${path}`)).text();
    const status = async () => JSON.parse(await get("/api/status")) as Status;

    await waitFor("subscribed", () => subscriptions(m, "edge-status", "site/hall-2/co2") >= 1);
    for (let i = 0; i < MESSAGES; i++) {
      const r = await mosquittoPub(m, ["-q", "1", "-t", "site/hall-2/co2", "-m", String(400 + i)]);
      assert.equal(r.code, 0, r.stderr);
    }
    let connection: Status["connections"][number] | undefined;
    await waitFor(`${MESSAGES} acknowledged`, async () => {
      connection = (await status()).connections[0];
      return (connection?.acknowledged ?? 0) >= MESSAGES;
    });
    const name = `mqtt://127.0.0.1:${m.port}`;
    assert.equal(connection!.name, name);
    assert.equal(connection!.protocol, "mqtt");
    assert.equal(connection!.up, true);
    assert.equal(connection!.inflight, 0, "nothing held once everything is acknowledged");
    assert.equal(connection!.inflight_limit, 2000);
    assert.equal(typeof connection!.ack_delay_ms, "number");

    const html = await get("/");
    const section = html.slice(html.indexOf("<h2>Connections</h2>"), html.indexOf("<h2>Buffer</h2>"));
    assert.match(
      section,
      new RegExp(
        `<td>${name}</td><td>mqtt</td><td>up</td><td>0 of 2,000</td><td>${MESSAGES}</td><td>[0-9.]+ ms</td>`,
      ),
    );

    const metrics = await get("/metrics");
    const labels = `protocol="mqtt",connection="${name}"`;
    assert.match(metrics, new RegExp(`^iggy_edge_connection_up\\{${labels}\\} 1$`, "m"));
    assert.match(metrics, new RegExp(`^iggy_edge_connection_inflight_messages\\{${labels}\\} 0$`, "m"));
    assert.match(
      metrics,
      new RegExp(`^iggy_edge_connection_ack_delay_seconds_count\\{${labels}\\} ${MESSAGES}$`, "m"),
    );
  },
);
