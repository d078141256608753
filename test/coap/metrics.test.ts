// The gateway's /metrics counts the retransmissions the CoAP server answered with the first copy's
// outcome instead of storing them again: connection_retransmissions_total{protocol,connection}.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import pino from "pino";
import type { ReadingBuffer } from "../../buffer/index.js";
import { parseConfig } from "../../gateway/config.js";
import { GatewayRuntime } from "../../gateway/runtime.js";
import type { Status } from "../../gateway/status.js";
import { waitFor } from "../helpers/wait.js";
import { freePort, tempDir } from "../iggy/helpers.js";
import { freeUdpPort, rawClient } from "./helpers.js";

test(
  "a retransmission answered with its first copy's outcome raises connection_retransmissions_total on /metrics",
  { timeout: 120_000 },
  async (t) => {
    const dir = tempDir("coap-metrics-");
    const [httpPort, iggyPort, coapPort] = [await freePort(), await freePort(), await freeUdpPort()];
    // Nothing listens at the Iggy address: the reading waits in the buffer.
    const text = [
      `gateway: { id: gw-coap-metrics, data_dir: ${JSON.stringify(join(dir.path, "data"))} }`,
      `iggy: { address: 127.0.0.1:${iggyPort}, username: iggy, password: iggy-pass }`,
      `http: { listen: 127.0.0.1:${httpPort} }`,
      `coap: { listen: 127.0.0.1:${coapPort} }`,
      "devices:",
      "  - id: m",
      "    protocol: coap",
      "    connection: { mode: server }",
      "    points:",
      "      - { name: v, path: /v, decode: number }",
      "",
    ].join("\n");
    const runtime = new GatewayRuntime(parseConfig(text, "gw.yaml"), pino({ level: "silent" }));
    t.after(async () => {
      await runtime.stop();
      dir.remove();
    });
    await runtime.start();
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${httpPort}${path}`)).text();

    // The first copy's commit waits until the test lets it go, so the copy comes while it is pending.
    const buffer = (runtime as unknown as { buffer: ReadingBuffer }).buffer;
    const append = buffer.append.bind(buffer);
    const held: (() => void)[] = [];
    buffer.append = (...args) =>
      new Promise((resolve, reject) => held.push(() => void append(...args).then(resolve, reject)));

    const name = (JSON.parse(await get("/api/status")) as Status).connections[0]!.name;
    assert.equal(name, `coap server 127.0.0.1:${coapPort}`);
    const counted = new RegExp(
      `^iggy_edge_connection_retransmissions_total\\{protocol="coap",connection="${name}"\\} (\\d+)$`,
      "m",
    );
    const { answers, post } = await rawClient(t, coapPort);

    await post(5, 50);
    await waitFor("the first copy waiting for its commit", () => held.length === 1);
    assert.doesNotMatch(await get("/metrics"), counted, "nothing retransmitted yet");
    await post(5, 50); // the device did not see an answer and sends the same message again
    await waitFor(
      "the copy counted on /metrics",
      async () => counted.exec(await get("/metrics"))?.[1] === "1",
    );
    held[0]!();
    // A copy whose answer outlasted the package's piggyback wait (50 ms) got an empty ACK first.
    await waitFor("both copies answered", () => answers.filter((a) => a.code === "2.01").length === 2);

    const metrics = await get("/metrics");
    assert.equal(counted.exec(metrics)?.[1], "1");
    assert.match(metrics, /^iggy_edge_readings_received_total\{protocol="coap",device="m"\} 1$/m);
    assert.equal(held.length, 1, "the copy was not stored");
  },
);
