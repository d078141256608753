// The `dev-iggy` command line: options reach the server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { devIggyCommand } from "../../gateway/cli/dev-iggy-command.js";
import type { DevIggyServer } from "../../gateway/iggy/dev-server/server.js";
import { IggyClient } from "../../gateway/iggy/index.js";

async function withCommand(args: string[], body: (port: number) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let listening: (s: DevIggyServer) => void = () => undefined;
  const started = new Promise<DevIggyServer>((r) => (listening = r));
  const cmd = devIggyCommand({ onListening: listening, signal: stop.signal }).exitOverride();
  cmd.configureOutput({ writeOut: () => undefined });
  const done = cmd.parseAsync(args, { from: "user" });
  const server = await Promise.race([
    started,
    done.then(() => Promise.reject(new Error("command ended early"))),
  ]);
  try {
    await body(server.address.port);
  } finally {
    stop.abort();
    await done;
  }
}

const send = (c: IggyClient) =>
  c.send("s", "t", [{ id: 7n, payload: Buffer.from("x") }], { partitioning: { kind: "partition", id: 0 } });

for (const [flag, expected] of [
  ["--dedup", 1],
  ["--no-dedup", 2],
] as const) {
  test(`dev-iggy ${flag} --port 0 --username/--password`, async () => {
    await withCommand(["--port", "0", flag, "--username", "admin", "--password", "pw-123"], async (port) => {
      const c = new IggyClient({
        address: `127.0.0.1:${port}`,
        credentials: { username: "admin", password: "pw-123" },
      });
      await c.ensureStream("s");
      await c.ensureTopic("s", "t", { partitions: 1 });
      await send(c);
      await send(c);
      assert.equal((await c.pollTail("s", "t", 0, 10)).length, expected);
      await c.close();
    });
  });
}

test("dev-iggy rejects a bad port and a lone --tls-cert", async () => {
  await assert.rejects(
    devIggyCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined })
      .parseAsync(["--port", "70000"], { from: "user" }),
    /0\.\.65535/,
  );
  await assert.rejects(
    devIggyCommand().exitOverride().parseAsync(["--port", "0", "--tls-cert", "x.pem"], { from: "user" }),
    /go together/,
  );
});
