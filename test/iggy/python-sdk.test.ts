// dev-iggy against a client that is not ours: Iggy's official Python SDK of the 0.8 line
// (`apache-iggy` 0.8.x, the Rust SDK underneath). That SDK's API cannot set or read user headers,
// so headers are checked through our client and the frames' checksums, which the SDK exposes.
// The same script passes against a real Iggy 0.8.0 server.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { header } from "../../gateway/iggy/index.js";
import { hasPythonModule, peerPython, requirePeer } from "../helpers/peers.js";
import { clientFor, PASSWORD, startDev, tempDir } from "./helpers.js";

const run = promisify(execFile);

const SCRIPT = `
import asyncio, json, os, sys
from apache_iggy import IggyClient, SendMessage, PollingStrategy

async def main(port, password):
    out = {}
    c = IggyClient(f"127.0.0.1:{port}")
    await c.connect()
    await c.ping()
    try:
        await c.login_user("iggy", "not-the-password")
        out["bad_login"] = "accepted"
    except Exception as e:
        out["bad_login"] = str(e)
    await c.login_user("iggy", password)
    await c.create_stream("py")
    s = await c.get_stream("py")
    out["stream"] = [s.id, s.name]
    await c.create_topic("py", "events", 2)
    t = await c.get_topic("py", "events")
    out["topic"] = [t.id, t.name, t.partitions_count]
    out["missing_stream"] = await c.get_stream("nope") is None
    await c.send_messages("py", "events", 1, [SendMessage("alpha"), SendMessage(b"\\x00\\x01beta")])
    await c.send_messages("py", "events", 1, [SendMessage("gamma")])
    polled = await c.poll_messages("py", "events", 1, PollingStrategy.First(), 10, False)
    out["polled"] = [[m.offset(), m.payload().hex(), m.partition_id(), str(m.id())] for m in polled]
    nxt = await c.poll_messages("py", "events", 1, PollingStrategy.Next(), 2, True)
    nxt2 = await c.poll_messages("py", "events", 1, PollingStrategy.Next(), 2, True)
    out["next"] = [[m.offset() for m in nxt], [m.offset() for m in nxt2]]
    last = await c.poll_messages("py", "events", 1, PollingStrategy.Last(), 1, False)
    out["last"] = [m.payload().hex() for m in last]
    try:
        await c.send_messages("py", "events", 9, [SendMessage("x")])
        out["bad_partition"] = "accepted"
    except Exception as e:
        out["bad_partition"] = str(e)
    ours = await c.poll_messages("gw", "telemetry", 0, PollingStrategy.Offset(0), 10, False)
    out["ours"] = [[m.offset(), m.payload().hex(), str(m.id()), str(m.checksum()), str(m.timestamp())] for m in ours]
    print(json.dumps(out))

asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
sys.stdout.flush()
# apache-iggy 0.8.0 aborts now and then while the interpreter tears down (against a real server
# too); leave without teardown once the answer is out.
os._exit(0)
`;

test("the official Python SDK 0.8 talks to dev-iggy, and reads what our client sent", async (t) => {
  if (
    !requirePeer(
      t,
      "Python package apache-iggy 0.8.x",
      hasPythonModule("apache_iggy"),
      "pip install 'apache-iggy==0.8.*'",
    )
  )
    return;
  const dir = tempDir("iggy-py-");
  const server = await startDev();
  const client = clientFor(server.address.port);
  try {
    await client.ensureStream("gw");
    await client.ensureTopic("gw", "telemetry", { partitions: 1 });
    const headers = new Map([
      ["codec", header.string("msgpack")],
      ["gateway", header.string("line-3")],
      ["first_seq", header.uint64(1000n)],
    ]);
    const sent = await client.send(
      "gw",
      "telemetry",
      [
        { id: (0xabcdefn << 64n) | 1000n, payload: Buffer.from("batch-1"), headers },
        { id: 42n, payload: Buffer.from([0, 255, 1]) },
      ],
      { partitioning: { kind: "partition", id: 0 } },
    );
    assert.equal(sent.status, "confirmed");

    const script = join(dir.path, "peer.py");
    writeFileSync(script, SCRIPT);
    const { stdout } = await run(peerPython(), [script, String(server.address.port), PASSWORD], {
      timeout: 60_000,
    }).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`Python peer failed: ${e.stderr ?? e.message}`);
    });
    const out = JSON.parse(stdout) as Record<string, unknown>;

    assert.match(String(out.bad_login), /InvalidCredentials/);
    assert.deepEqual(out.stream, [1, "py"], "ids are 0-based: our client's stream got 0");
    assert.deepEqual(out.topic, [0, "events", 2]);
    assert.equal(out.missing_stream, true);
    const polled = out.polled as [number, string, number, string][];
    assert.deepEqual(
      polled.map(([o, p, part]) => [o, Buffer.from(p, "hex").toString("latin1"), part]),
      [
        [0, "alpha", 1],
        [1, "\x00\x01beta", 1],
        [2, "gamma", 1],
      ],
    );
    assert.deepEqual(out.next, [[0, 1], [2]]);
    assert.deepEqual(out.last, [Buffer.from("gamma").toString("hex")]);
    assert.match(String(out.bad_partition), /PartitionNotFound/);

    // What the SDK sent, read by our client: ids it assigned, headers none.
    const fromPy = await client.poll("py", "events", {
      partition: 1,
      strategy: { kind: "first" },
      count: 10,
    });
    assert.deepEqual(
      fromPy.messages.map((m) => m.payload.toString("latin1")),
      ["alpha", "\x00\x01beta", "gamma"],
    );
    assert.deepEqual(
      fromPy.messages.map((m) => String(m.id)),
      polled.map((p) => p[3]),
    );
    assert.ok(fromPy.messages.every((m) => m.headers.size === 0));

    // What our client sent, read by the SDK: same ids, payloads, timestamps and checksums; the
    // checksum covers the user headers, so equal checksums mean the SDK read the same header bytes.
    const ours = await client.poll("gw", "telemetry", {
      partition: 0,
      strategy: { kind: "first" },
      count: 10,
    });
    assert.deepEqual(
      out.ours,
      ours.messages.map((m) => [
        Number(m.offset),
        m.payload.toString("hex"),
        String(m.id),
        String(m.checksum),
        String(m.timestamp),
      ]),
    );
    assert.deepEqual(ours.messages[0]!.headers, headers);
  } finally {
    await client.close();
    await server.close();
    dir.remove();
  }
});
