// Client mode: the gateway observes and polls resources of real CoAP servers (libcoap's
// coap-server-notls: /time is observable with Max-Age 1; -d makes resources that PUT creates), writes
// to them, registers again after the device restarts, and marks it down and up once per transition.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { test, type TestContext } from "node:test";
import { CoapSimulator } from "../../protocols/coap/simulator.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { waitFor } from "../helpers/wait.js";
import { coapClient, coapDevice, freeUdpPort, recorder, section } from "./helpers.js";
import { CoapAdapter } from "../../protocols/coap/adapter.js";
import type { CoapDeviceConfig } from "../../protocols/coap/schema.js";

const opts = { timeout: 180_000 };

function libcoapServer(t: TestContext, port: number): ChildProcess {
  const child = spawn("coap-server-notls", ["-A", "127.0.0.1", "-p", String(port), "-d", "10"], {
    stdio: "ignore",
  });
  return killAtEnd(t, child);
}

/** Until coap-server answers (and the resource exists, PUT creates it). */
async function seedResource(port: number, path: string, value: string): Promise<void> {
  await waitFor(`coap-server on ${port} to take a PUT to ${path}`, async () => {
    const r = await coapClient(["-B", "2", "-m", "put", "-e", value, `coap://127.0.0.1:${port}${path}`]);
    return !/ICMP|cannot send|4\.|5\./.test(r.out);
  });
}

function adapterFor(t: TestContext, devices: CoapDeviceConfig[]) {
  const rec = recorder();
  const adapter = new CoapAdapter(devices, { gatewayId: "t", dataDir: "/tmp", section: section() }, rec.deps);
  t.after(() => adapter.stop());
  return { adapter, rec };
}

test("observes coap-server's resources, writes to one and sees the write notified", opts, async (t) => {
  if (
    !requirePeer(
      t,
      "libcoap's coap-server-notls",
      hasCommand("coap-server-notls", ["-h"]),
      "apt-get install libcoap3-bin",
    )
  )
    return;
  const port = await freeUdpPort();
  libcoapServer(t, port);
  await seedResource(port, "/dyn/v", "1");
  const device = coapDevice({
    id: "valve-5",
    connection: { mode: "observe", url: `coap://127.0.0.1:${port}`, timeout_ms: 2000 },
    points: [
      { name: "clock", path: "/time", decode: "string", write: true, method: "POST" },
      { name: "v", path: "/dyn/v", write: { min: 0, max: 100 } },
    ],
  });
  const { adapter, rec } = adapterFor(t, [device]);
  await adapter.start(rec.emit);

  await waitFor(
    "three notifications of /time",
    () => rec.readings.filter((r) => r.point === "clock").length >= 3,
  );
  assert.match(String(rec.readings.find((r) => r.point === "clock")!.value), /\d\d:\d\d:\d\d/);
  await waitFor("the value of /dyn/v", () => rec.readings.some((r) => r.point === "v" && r.value === 1));
  assert.equal(adapter.health().devices[0]!.up, true);

  await adapter.write({ device: "valve-5", point: "v" }, 42);
  await waitFor("the write notified back", () => rec.readings.some((r) => r.point === "v" && r.value === 42));
  const r = await coapClient(["-B", "2", `coap://127.0.0.1:${port}/dyn/v`]);
  assert.equal(r.out.trim(), "42");

  await assert.rejects(
    adapter.write({ device: "valve-5", point: "v" }, 101),
    /outside the write range.*0 to 100/,
  );
  await assert.rejects(
    adapter.write({ device: "valve-5", point: "clock" }, "x"),
    /answered the write to \/time with 4\.05 Method Not Allowed/,
  );
  assert.deepEqual(adapter.stats().writes, { ok: 1, failed: 1 });
});

test(
  "a restarted coap-server is observed again after the lapse; down and up logged once each",
  opts,
  async (t) => {
    if (
      !requirePeer(
        t,
        "libcoap's coap-server-notls",
        hasCommand("coap-server-notls", ["-h"]),
        "apt-get install libcoap3-bin",
      )
    )
      return;
    const port = await freeUdpPort();
    const first = libcoapServer(t, port);
    const device = coapDevice({
      id: "clock-1",
      // Not shorter: on a loaded machine an answer can take over a second, and a request without
      // one marks the device down (once more than this test counts).
      connection: { mode: "observe", url: `coap://127.0.0.1:${port}`, timeout_ms: 4000 },
      points: [{ name: "clock", path: "/time", decode: "string" }],
    });
    const { adapter, rec } = adapterFor(t, [device]);
    await adapter.start(rec.emit);
    const clocks = () => rec.readings.filter((r) => r.point === "clock").length;
    await waitFor("notifications of /time", () => clocks() >= 2);

    first.kill("SIGKILL");
    await waitFor("clock-1 down", () => !adapter.health().devices[0]!.up);
    const registrations = adapter.stats().fetch["clock-1"]!.registrations;
    await waitFor(
      "registrations tried while it is away",
      () => adapter.stats().fetch["clock-1"]!.registrations >= registrations + 2,
    );
    assert.equal(adapter.health().devices[0]!.up, false);

    libcoapServer(t, port);
    const before = clocks();
    await waitFor("notifications from the restarted server", () => clocks() >= before + 2);
    assert.equal(adapter.health().devices[0]!.up, true);
    assert.equal(rec.messages("coap device down", "clock-1").length, 1);
    assert.equal(
      rec.messages("coap device up", "clock-1").length,
      2,
      "up at the start and after the restart",
    );
  },
);

test(
  "polls the simulator; error codes are counted with the device up; a silent device is down",
  opts,
  async (t) => {
    const configs = [
      coapDevice({
        id: "sim-1",
        poll_ms: 50,
        connection: { mode: "poll", url: "coap://127.0.0.1:0", timeout_ms: 500 },
        points: [{ name: "level", path: "/level" }],
      }),
    ];
    const sim = new CoapSimulator(configs, { animateMs: 0 });
    await sim.start();
    t.after(() => sim.stop());
    const at = sim.address("sim-1");
    const { adapter, rec } = adapterFor(t, [
      { ...configs[0]!, connection: { ...configs[0]!.connection, url: `coap://127.0.0.1:${at.port}` } },
    ]);
    await adapter.start(rec.emit);
    sim.set("sim-1", "level", 7);
    await waitFor("a polled 7", () => rec.readings.some((r) => r.value === 7));

    sim.fault("sim-1", { kind: "error", code: 503 });
    await waitFor(
      "5.03 answers counted",
      () => rec.rejects.filter((r) => r.reason === "coap_5.03").length >= 2,
    );
    assert.equal(adapter.health().devices[0]!.up, true);

    sim.fault("sim-1", { kind: "drop" });
    await waitFor("sim-1 down", () => !adapter.health().devices[0]!.up);
    assert.match(adapter.health().devices[0]!.error!, /no answer from 127\.0\.0\.1:\d+ in 500 ms/);
    sim.fault("sim-1", null);
    sim.set("sim-1", "level", 8);
    await waitFor("a polled 8", () => rec.readings.some((r) => r.value === 8));
    assert.equal(rec.messages("coap device down", "sim-1").length, 1);
    assert.equal(rec.messages("coap device up", "sim-1").length, 2);
  },
);

test("observes the simulator; a restarted simulated device is registered again", opts, async (t) => {
  const configs = [
    coapDevice({
      id: "sim-2",
      connection: { mode: "observe", url: "coap://127.0.0.1:0", timeout_ms: 1000 },
      points: [{ name: "level", path: "/level" }],
    }),
  ];
  const sim = new CoapSimulator(configs, { animateMs: 0, maxAgeS: 1 });
  await sim.start();
  t.after(() => sim.stop());
  const at = sim.address("sim-2");
  const { adapter, rec } = adapterFor(t, [
    { ...configs[0]!, connection: { ...configs[0]!.connection, url: `coap://127.0.0.1:${at.port}` } },
  ]);
  await adapter.start(rec.emit);
  await waitFor("an observer", () => sim.counts()["sim-2"]!.observers === 1);
  sim.set("sim-2", "level", 3);
  await waitFor("a notified 3", () => rec.readings.some((r) => r.value === 3));
  await sim.restart("sim-2");
  assert.equal(sim.counts()["sim-2"]!.observers, 0);
  await waitFor("registered again after the lapse", () => sim.counts()["sim-2"]!.observers === 1);
  sim.set("sim-2", "level", 4);
  await waitFor("a notified 4", () => rec.readings.some((r) => r.value === 4));
});
