// dev-iggy's VSR generations (0.9 and 0.10 on one port) against Iggy's own Rust SDK, through
// `iggy-cli` of each line: login-register, create stream and topic (settings as options), send with
// user headers, poll; then our client reads what the CLI sent and the CLI reads what our client sent.
// Built by scripts/setup.sh --peers (scripts/peers/cargo.txt); IGGY_CLI_09 / IGGY_CLI_010 name
// other binaries.
//
// 0.9: iggy-cli 0.14.0 (Rust SDK 0.11.0, iggy_binary_protocol 0.11.0: binary protocol 0.11); its
// login picks dev-iggy's 0.9 side. 0.10: 0.15.x is the CLI released with server 0.10.0, but crates.io
// holds none yet (as of 2026-11-25); 0.14.1-edge.7 (Rust SDK 0.11.1-edge.9, binary protocol 0.12.2)
// is the newest and speaks the same wire. Our 0.10 batch carries an idempotent producer section;
// the Rust SDK polls it as it is.
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { header } from "../../gateway/iggy/index.js";
import { cargoPeer, requirePeer } from "../helpers/peers.js";
import { clientFor, PASSWORD, startDev } from "./helpers.js";

const run = promisify(execFile);

const generations = [
  {
    protocol: "0.9" as const,
    title: "iggy-cli 0.14.0 (Rust SDK 0.11.0, protocol 0.11) against dev-iggy's 0.9 side",
    cli: process.env.IGGY_CLI_09 ?? cargoPeer("iggy-cli", "0.14.0", "iggy") ?? "iggy",
    versionRe: /iggy-cli 0\.14\.0\b/,
    want: "iggy-cli 0.14.0",
    install: "scripts/setup.sh --peers (cargo install iggy-cli --version 0.14.0 --locked)",
  },
  {
    protocol: "0.10" as const,
    title: "iggy-cli of the 0.10 line (Rust SDK, protocol 0.12) against dev-iggy's 0.10 side",
    cli: process.env.IGGY_CLI_010 ?? cargoPeer("iggy-cli", "0.14.1-edge.7", "iggy") ?? "iggy",
    versionRe: /iggy-cli (0\.15\.|0\.14\.1-edge\.)/,
    want: "iggy-cli 0.14.1-edge.x or 0.15.x",
    install: "scripts/setup.sh --peers (cargo install iggy-cli --version 0.14.1-edge.7 --locked)",
  },
];

for (const g of generations) {
  test(g.title, async (t) => {
    const r = spawnSync(g.cli, ["--version"], { encoding: "utf8", timeout: 10_000 });
    const version = r.status === 0 && g.versionRe.test(r.stdout) ? r.stdout.trim() : null;
    if (!requirePeer(t, g.want, version !== null, g.install)) return;
    const server = await startDev();
    const client = clientFor(server.address.port, { protocol: g.protocol });
    const iggy = (...args: string[]) =>
      run(
        g.cli,
        ["--tcp-server-address", `127.0.0.1:${server.address.port}`, "-u", "iggy", "-p", PASSWORD, ...args],
        {
          timeout: 30_000,
          env: { ...process.env, RUST_BACKTRACE: "0", NO_COLOR: "1" },
        },
      );
    try {
      await iggy("stream", "create", "cli");
      await iggy("topic", "create", "cli", "tele", "2", "none", "1day");
      const topic = await client.getTopic("cli", "tele");
      assert.equal(topic?.partitionsCount, 2);
      assert.equal(topic?.messageExpiry, 86_400_000_000n, "the CLI's expiry arrived as an option");
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

      const sent = await client.send(
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
      assert.equal(sent.status, "confirmed");
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
      t.diagnostic(`peer: ${version}`);
    } finally {
      await client.close();
      await server.close();
    }
  });
}
