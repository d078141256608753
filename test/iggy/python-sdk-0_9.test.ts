// dev-iggy's 0.9 side against Iggy's official Python SDK of the released 0.9.0 line
// (`apache-iggy==0.9.0`, binary protocol 0.11, in .venv-iggy09 made by scripts/setup.sh --peers from
// scripts/peers/requirements-iggy09.txt): login, create stream and topic, send with user headers,
// poll; then it polls what our client (protocol 0.9) sent, headers included.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { promisify } from "node:util";
import { header } from "../../gateway/iggy/index.js";
import { peerPython09, requirePeer } from "../helpers/peers.js";
import { clientFor, PASSWORD, startDev, tempDir } from "./helpers.js";

const run = promisify(execFile);

const SCRIPT = `
import asyncio, json, os, sys
from apache_iggy import IggyClient, SendMessage, PollingStrategy, Consumer

def headers(m):
    h = m.user_headers()
    return {str(k): str(v) for k, v in h.to_scalar_dict().items()} if h else {}

async def main(port, password):
    out = {}
    c = IggyClient(f"127.0.0.1:{port}")
    await c.connect()
    await c.login_user("iggy", password)
    await c.create_stream("py")
    await c.create_topic("py", "events", 2)
    t = await c.get_topic("py", "events")
    out["topic"] = [t.name, t.partitions_count]
    await c.send_messages("py", "events", 1, [
        SendMessage("alpha", user_headers={"gateway": "py"}, id=7),
        SendMessage("beta"),
    ])
    polled = await c.poll_messages("py", "events", consumer=Consumer.Single(1),
        polling_strategy=PollingStrategy.First(), count=10, auto_commit=False, partition_id=1)
    out["polled"] = [[m.offset(), m.payload().hex(), str(m.id()), headers(m)] for m in polled]
    ours = await c.poll_messages("gw", "telemetry", consumer=Consumer.Single(1),
        polling_strategy=PollingStrategy.Offset(0), count=10, auto_commit=False, partition_id=0)
    out["ours"] = [[m.offset(), m.payload().hex(), str(m.id()), headers(m)] for m in ours]
    print(json.dumps(out))

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
# The SDK 0.9.0 aborts (SIGABRT, nothing on stderr) in about one exit in six, after its work is done
# and its output printed: the result is flushed and the interpreter left without its teardown.
sys.stdout.flush()
os._exit(0)
`;

function sdkVersion(python: string): string | null {
  const r = spawnSync(python, ["-c", "import importlib.metadata as m; print(m.version('apache-iggy'))"], {
    encoding: "utf8",
    timeout: 30_000,
  });
  const v = r.status === 0 ? r.stdout.trim() : "";
  return v.startsWith("0.9.") ? v : null;
}

test("Iggy's Python SDK 0.9.0 against dev-iggy's 0.9 side", async (t) => {
  const python = peerPython09();
  const version = python ? sdkVersion(python) : null;
  if (
    !requirePeer(
      t,
      "apache-iggy 0.9.x in .venv-iggy09",
      python !== null && version !== null,
      "scripts/setup.sh --peers (scripts/peers/requirements-iggy09.txt)",
    )
  )
    return;
  await againstSdk(t, python!, version!);
});

async function againstSdk(t: TestContext, python: string, version: string): Promise<void> {
  // All generations on one port: the SDK's 0.11 login picks the 0.9 side.
  const server = await startDev();
  const client = clientFor(server.address.port, { protocol: "0.9" });
  const dir = tempDir("iggy-py09-");
  try {
    await client.ensureStream("gw");
    await client.ensureTopic("gw", "telemetry", { partitions: 1 });
    const sent = await client.send(
      "gw",
      "telemetry",
      [{ id: 42n, payload: Buffer.from("ours"), headers: new Map([["codec", header.string("msgpack")]]) }],
      { partitioning: { kind: "partition", id: 0 } },
    );
    assert.equal(sent.status, "confirmed");
    const script = join(dir.path, "peer.py");
    writeFileSync(script, SCRIPT);
    const { stdout } = await run(python, [script, String(server.address.port), PASSWORD], {
      timeout: 60_000,
    });
    const out = JSON.parse(stdout.trim().split("\n").pop()!) as {
      topic: [string, number];
      polled: [number, string, string, Record<string, string>][];
      ours: [number, string, string, Record<string, string>][];
    };
    assert.deepEqual(out.topic, ["events", 2]);
    assert.deepEqual(
      out.polled.map(([o, p, id, h]) => [o, Buffer.from(p, "hex").toString(), id, h]),
      [
        [0, "alpha", "7", { gateway: "py" }],
        [1, "beta", out.polled[1]![2], {}],
      ],
    );
    assert.deepEqual(out.ours, [[0, Buffer.from("ours").toString("hex"), "42", { codec: "msgpack" }]]);
    const mine = await client.pollTail("py", "events", 1, 2);
    assert.deepEqual(
      mine.map((m) => m.payload.toString()),
      ["alpha", "beta"],
    );
    assert.deepEqual(mine[0]!.id, 7n);
    assert.deepEqual(mine[0]!.headers.get("gateway"), header.string("py"));
    t.diagnostic(`peer: apache-iggy ${version}`);
  } finally {
    dir.remove();
    await client.close();
    await server.close();
  }
}
