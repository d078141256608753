// dev-iggy against Iggy's Rust client, through `iggy-cli` 0.13.0 (Rust SDK speaking 0.8): the
// one official client here that sets and shows user headers. Built by scripts/setup.sh --peers;
// IGGY_CLI names another binary (cargo install iggy-cli --version 0.13.0 --locked).
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { header } from "../../gateway/iggy/index.js";
import { cargoPeer, requirePeer } from "../helpers/peers.js";
import { clientFor, PASSWORD, startDev } from "./helpers.js";

const run = promisify(execFile);
const cli = process.env.IGGY_CLI ?? cargoPeer("iggy-cli", "0.13.0", "iggy") ?? "iggy";

function cliVersion(): string | null {
  const r = spawnSync(cli, ["--version"], { encoding: "utf8", timeout: 10_000 });
  return r.status === 0 && /iggy-cli 0\.13\./.test(r.stdout) ? r.stdout.trim() : null;
}

test("iggy-cli 0.13 (Rust SDK) sends and reads user headers through dev-iggy", async (t) => {
  if (
    !requirePeer(
      t,
      "iggy-cli 0.13.x",
      cliVersion() !== null,
      "scripts/setup.sh --peers (cargo install iggy-cli --version 0.13.0 --locked)",
    )
  )
    return;
  const server = await startDev();
  const client = clientFor(server.address.port);
  const iggy = (...args: string[]) =>
    run(
      cli,
      ["--tcp-server-address", `127.0.0.1:${server.address.port}`, "-u", "iggy", "-p", PASSWORD, ...args],
      {
        timeout: 30_000,
        env: { ...process.env, RUST_BACKTRACE: "0" },
      },
    );
  try {
    await iggy("stream", "create", "cli");
    await iggy("topic", "create", "cli", "tele", "2", "none");
    await iggy(
      "message",
      "send",
      "-p",
      "1",
      "-H",
      "gateway:string:line-3,first_seq:uint64:77,ok:bool:true",
      "cli",
      "tele",
      "from-cli",
    );
    const got = await client.pollTail("cli", "tele", 1, 5);
    assert.deepEqual(
      got.map((m) => m.payload.toString()),
      ["from-cli"],
    );
    assert.deepEqual(
      got[0]!.headers,
      new Map([
        ["gateway", header.string("line-3")],
        ["first_seq", header.uint64(77n)],
        ["ok", header.bool(true)],
      ]),
    );

    await client.send(
      "cli",
      "tele",
      [
        {
          id: 99n,
          payload: Buffer.from("from-ts"),
          headers: new Map([
            ["codec", header.string("msgpack")],
            ["count", header.uint32(1000)],
          ]),
        },
      ],
      { partitioning: { kind: "partition", id: 0 } },
    );
    const { stdout } = await iggy(
      "message",
      "poll",
      "--first",
      "-m",
      "10",
      "--show-headers",
      "cli",
      "tele",
      "0",
    );
    const row = stdout.split("\n").find((l) => l.includes("from-ts"));
    assert.ok(row, `the CLI shows our message:\n${stdout}`);
    const cells = row.split("|").map((c) => c.trim());
    assert.ok(cells.includes("99"), "id");
    assert.ok(cells.includes("msgpack") && cells.includes("1000"), `headers in ${row}`);
  } finally {
    await client.close();
    await server.close();
  }
});
