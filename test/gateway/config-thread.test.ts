// `iggy-edge run` loads its config in a passing thread (gateway/config-thread.ts): what comes back
// is what loading it here gives, the validated config and its secrets, or the same ConfigError.
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { loadConfigInThread } from "../../gateway/config-thread.js";
import { ConfigError, loadConfig } from "../../gateway/config.js";
import { repoRoot } from "../helpers/peers.js";
import { tempDir } from "../iggy/helpers.js";

const dir = tempDir("iggy-edge-config-thread-");
after(() => dir.remove());

const valid = [
  ...readdirSync(join(repoRoot, "protocols"), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(repoRoot, "protocols", e.name, "example.yaml")),
  join(repoRoot, "config/examples/demo.yaml"),
];

test("a valid config comes back from the thread as loading it here gives it", async () => {
  assert.ok(valid.length >= 5);
  for (const file of valid) assert.deepStrictEqual(await loadConfigInThread(file), loadConfig(file), file);
});

test("secrets come back, resolved from this process's environment as it is when loading", async () => {
  const file = join(dir.path, "secret.yaml");
  writeFileSync(
    file,
    'gateway: { id: gw }\niggy: { username: iggy, password: "${env:IGGY_EDGE_TEST_THREAD_SECRET}" }\n',
  );
  process.env.IGGY_EDGE_TEST_THREAD_SECRET = "s3cret-pass";
  try {
    const loaded = await loadConfigInThread(file);
    assert.equal(loaded.config.iggy.password, "s3cret-pass");
    assert.deepEqual(loaded.secrets, ["s3cret-pass"]);
  } finally {
    delete process.env.IGGY_EDGE_TEST_THREAD_SECRET;
  }
});

/** What loading `file` here throws. */
function thrownHere(file: string): ConfigError {
  try {
    loadConfig(file);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e;
  }
  assert.fail(`${file} loaded`);
}

test("a broken config, or none, is the same ConfigError: its issues and message", async () => {
  const broken = join(repoRoot, "config/broken");
  const files = [
    ...readdirSync(broken)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(broken, f)),
    join(dir.path, "missing.yaml"),
  ];
  assert.ok(files.length > 10);
  for (const file of files) {
    const here = thrownHere(file);
    await assert.rejects(loadConfigInThread(file), (e) => {
      assert.ok(e instanceof ConfigError, file);
      assert.deepEqual(e.issues, here.issues, file);
      assert.equal(e.message, here.message, file);
      return true;
    });
  }
});
