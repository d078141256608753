// `iggy-edge simulate` runs CoAP devices from the device map: a server-mode device pushes its points
// to `coap.listen` (here a CoAP adapter of the test) with faults from IGGY_EDGE_COAP_FAULTS.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { killAtEnd } from "../helpers/cleanup.js";
import { cliPath } from "../helpers/cli.js";
import { waitFor } from "../helpers/wait.js";
import { coapDevice, section, startAdapter } from "./helpers.js";

test(
  "iggy-edge simulate pushes a server-mode CoAP device's points to coap.listen",
  { timeout: 120_000 },
  async (t) => {
    const device = coapDevice({
      id: "meter-2",
      points: [
        { name: "power", path: "/d/meter-2/power", unit: "W" },
        { name: "status", path: "/d/meter-2/status", decode: { json: "state" } },
      ],
    });
    const { port, rec } = await startAdapter(t, [device], section());
    const dir = mkdtempSync(join(tmpdir(), "coap-sim-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "sim.yaml");
    writeFileSync(
      file,
      [
        "gateway: { id: gw }",
        `coap: { listen: 127.0.0.1:${port} }`,
        "devices:",
        "  - id: meter-2",
        "    protocol: coap",
        "    points:",
        "      - { name: power, path: /d/meter-2/power, unit: W }",
        "      - { name: status, path: /d/meter-2/status, decode: { json: state } }",
      ].join("\n"),
    );
    const child = killAtEnd(
      t,
      spawn(process.execPath, [cliPath, "simulate", "-c", file], {
        env: { ...process.env, IGGY_EDGE_COAP_PUSH_MS: "100", IGGY_EDGE_COAP_FAULTS: "" },
        stdio: "ignore",
      }),
    );
    await waitFor("pushes of both points", () =>
      ["power", "status"].every((p) => rec.readings.filter((r) => r.point === p).length >= 2),
    );
    assert.equal(typeof rec.readings.find((r) => r.point === "power")!.value, "number");
    assert.equal(typeof rec.readings.find((r) => r.point === "status")!.value, "number");
    assert.equal(rec.rejects.length, 0);
    child.kill("SIGTERM");
  },
);
