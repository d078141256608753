// A rollback runs an older gateway on the data directory a newer one wrote. A buffer in a format
// newer than the gateway understands must stop it with a message that says so, and leave the file
// exactly as it was (not quarantined, not rewritten), so the newer version finds its readings again.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import Database from "better-sqlite3";
import { bufferDir, openBuffer } from "../../buffer/index.js";
import { FORMAT_VERSION } from "../../buffer/store-schema.js";
import { readings } from "../buffer/helpers.js";
import { EXIT_BUFFER_FORMAT } from "../../gateway/cli/run-command.js";
import { runCli } from "../helpers/cli.js";
import { freePort, tempDir } from "../iggy/helpers.js";

test("an older gateway refuses a buffer a newer one wrote, says so, and changes no byte of it", async (t) => {
  const dir = tempDir("iggy-edge-rollback-");
  t.after(() => dir.remove());
  const data = join(dir.path, "data");
  const b = await openBuffer({ dir: bufferDir(data) });
  await b.append(readings(0, 3));
  await b.close();
  // What a newer gateway with a changed format would leave: a higher user_version.
  const file = join(bufferDir(data), "buffer.db");
  const db = new Database(file);
  db.pragma(`user_version = ${FORMAT_VERSION + 1}`);
  db.close();
  const before = readFileSync(file);
  const listing = readdirSync(data);
  const inBuffer = readdirSync(bufferDir(data));

  const config = join(dir.path, "gw.yaml");
  writeFileSync(
    config,
    [
      `gateway: { id: rollback, data_dir: ${JSON.stringify(data)} }`,
      "iggy: { address: 127.0.0.1:9 }",
      `http: { listen: 127.0.0.1:${await freePort()} }`,
      "devices: []",
      "",
    ].join("\n"),
  );
  const r = runCli(["run", "-c", config], { IGGY_EDGE_LOG_FORMAT: "json" });
  // Not stopped by runCli's timeout: the gateway exits by itself, with the status its unit does not restart on.
  assert.equal(r.code, EXIT_BUFFER_FORMAT, `the gateway does not start (exit status ${r.code})\n${r.stderr}`);
  assert.match(
    r.stdout + r.stderr,
    new RegExp(
      `buffer format ${FORMAT_VERSION + 1}, newer than this gateway understands \\(${FORMAT_VERSION}\\)`,
    ),
  );
  assert.deepEqual(readFileSync(file), before, "the buffer file is unchanged");
  assert.deepEqual(readdirSync(data), listing, "nothing moved aside");
  assert.deepEqual(readdirSync(bufferDir(data)), inBuffer, "no journal left beside it");
});
