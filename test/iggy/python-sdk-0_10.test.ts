// dev-iggy's 0.10 side against Iggy's official Python SDK of the 0.10 line (`apache-iggy` 0.10.x,
// in .venv-iggy010 made by scripts/setup.sh --peers): login, create stream and topic, send (with
// headers when the SDK's SendMessage takes them), poll; then it polls what our client sent.
//
// As of 2026-11-25 PyPI has no apache-iggy 0.10.x (the newest is 0.9.0), so this test skips with
// a line saying so; iggy-cli-vsr.test.ts (the Rust SDK of the same line) is the conformance
// check that runs here. The script follows the 0.8 SDK's API; check it once the wheel exists.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { header } from "../../gateway/iggy/index.js";
import { peerPython010 } from "../helpers/peers.js";
import { clientFor, PASSWORD, startDev, tempDir } from "./helpers.js";

const run = promisify(execFile);

const SCRIPT = `
import asyncio, json, sys
from apache_iggy import IggyClient, SendMessage, PollingStrategy

async def main(port, password):
    out = {}
    c = IggyClient(f"127.0.0.1:{port}")
    await c.connect()
    await c.login_user("iggy", password)
    await c.create_stream("py")
    await c.create_topic("py", "events", 2)
    t = await c.get_topic("py", "events")
    out["topic"] = [t.name, t.partitions_count]
    try:
        m = SendMessage("alpha", headers={"gateway": "py"})
        out["headers_sent"] = True
    except TypeError:
        m = SendMessage("alpha")
        out["headers_sent"] = False
    await c.send_messages("py", "events", 1, [m, SendMessage("beta")])
    polled = await c.poll_messages("py", "events", 1, PollingStrategy.First(), 10, False)
    out["polled"] = [[m.offset(), m.payload().hex()] for m in polled]
    ours = await c.poll_messages("gw", "telemetry", 0, PollingStrategy.Offset(0), 10, False)
    out["ours"] = [[m.offset(), m.payload().hex(), str(m.id())] for m in ours]
    print(json.dumps(out))

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
`;

function sdkVersion(python: string): string | null {
  const r = spawnSync(python, ["-c", "import importlib.metadata as m; print(m.version('apache-iggy'))"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const v = r.status === 0 ? r.stdout.trim() : "";
  return v.startsWith("0.10.") ? v : null;
}

test("Iggy's Python SDK 0.10 against dev-iggy's 0.10 side", async (t) => {
  const python = peerPython010();
  const version = python ? sdkVersion(python) : null;
  if (!python || !version) {
    t.skip(
      "peer missing: apache-iggy 0.10.x in .venv-iggy010 (scripts/setup.sh --peers; not on PyPI as of " +
        "2026-11-25, newest 0.9.0). iggy-cli-vsr.test.ts checks the same wire with the Rust SDK",
    );
    return;
  }
  const server = await startDev();
  const client = clientFor(server.address.port, { protocol: "0.10" });
  const dir = tempDir("iggy-py010-");
  try {
    await client.ensureStream("gw");
    await client.ensureTopic("gw", "telemetry", { partitions: 1 });
    await client.send(
      "gw",
      "telemetry",
      [{ id: 42n, payload: Buffer.from("ours"), headers: new Map([["codec", header.string("msgpack")]]) }],
      { partitioning: { kind: "partition", id: 0 } },
    );
    const script = join(dir.path, "peer.py");
    writeFileSync(script, SCRIPT);
    const { stdout } = await run(python, [script, String(server.address.port), PASSWORD], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as {
      topic: [string, number];
      headers_sent: boolean;
      polled: [number, string][];
      ours: [number, string, string][];
    };
    assert.deepEqual(out.topic, ["events", 2]);
    assert.deepEqual(out.polled, [
      [0, Buffer.from("alpha").toString("hex")],
      [1, Buffer.from("beta").toString("hex")],
    ]);
    assert.deepEqual(out.ours, [[0, Buffer.from("ours").toString("hex"), "42"]]);
    const mine = await client.pollTail("py", "events", 1, 2);
    assert.deepEqual(
      mine.map((m) => m.payload.toString()),
      ["alpha", "beta"],
    );
    if (out.headers_sent) assert.deepEqual(mine[0]!.headers.get("gateway"), header.string("py"));
    t.diagnostic(`peer: apache-iggy ${version}`);
  } finally {
    dir.remove();
    await client.close();
    await server.close();
  }
});
