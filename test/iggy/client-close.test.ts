// The client's own clean close is not a dropped connection: it logs at info, and only a real loss warns.
import assert from "node:assert/strict";
import { once } from "node:events";
import { Writable } from "node:stream";
import { test } from "node:test";
import { createLogger } from "../../gateway/log.js";
import { clientFor, startDev } from "./helpers.js";

function capture(): { log: ReturnType<typeof createLogger>; lines: () => { level: string; msg: string }[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    log: createLogger({ format: "json", destination: out, level: "debug" }),
    lines: () =>
      chunks
        .join("")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; msg: string }),
  };
}

for (const protocol of ["0.8", "0.10"] as const) {
  test(`Iggy ${protocol}: close() logs the connection closed, not dropped`, { timeout: 30_000 }, async () => {
    const server = await startDev();
    const { log, lines } = capture();
    const client = clientFor(server.address.port, { protocol, logger: log });
    try {
      await client.connect();
      const disconnected = once(client, "disconnected");
      await client.close();
      await disconnected;
      const closing = lines().filter((l) => /iggy connection/.test(l.msg));
      assert.deepEqual(closing, [closing[0]]);
      assert.equal(closing[0]!.msg, "iggy connection closed");
      assert.equal(closing[0]!.level, "info");
      assert.ok(!lines().some((l) => l.level === "warn"), JSON.stringify(lines()));
    } finally {
      await client.close();
      await server.close();
    }
  });
}

test("a connection the server ends is reported as dropped, with a warning", { timeout: 30_000 }, async () => {
  const server = await startDev();
  const { log, lines } = capture();
  const client = clientFor(server.address.port, { logger: log });
  try {
    await client.connect();
    const disconnected = once(client, "disconnected");
    await server.close();
    await disconnected;
    const dropped = lines().find((l) => l.msg === "iggy connection dropped");
    assert.equal(dropped?.level, "warn");
  } finally {
    await client.close();
    await server.close();
  }
});
