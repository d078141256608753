// config/zod.cjs: zod without its locales loaded up front, and each locale still there when asked for.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";
import { z } from "../../config/zod.cjs";

const require = createRequire(import.meta.url);

test("zod is loaded without its locales, which load one by one when asked for", () => {
  const localesFile = require.resolve("zod/v4/locales");
  const dir = localesFile.slice(0, localesFile.lastIndexOf("/"));
  const loaded = () => Object.keys(require.cache).filter((f) => f.startsWith(dir + "/") && f !== localesFile);
  assert.deepEqual(loaded().sort(), [`${dir}/en.cjs`]);
  assert.equal(typeof z.locales.de, "function");
  assert.equal(typeof z.locales.ptBR, "function");
  assert.deepEqual(loaded().sort(), [`${dir}/de.cjs`, `${dir}/en.cjs`, `${dir}/pt-BR.cjs`]);
  // Every name zod's own locales module exports (read from its text: loading it would replace ours).
  const names = [...readFileSync(localesFile, "utf8").matchAll(/defineProperty\(exports, "(\w+)"/g)]
    .map((m) => m[1])
    .filter((n) => n !== "__esModule");
  assert.ok(names.length > 60);
  assert.deepEqual(Object.keys(z.locales).sort(), names.sort());
  for (const name of names)
    assert.equal(typeof (z.locales as Record<string, unknown>)[name!], "function", name);
});

test("a schema's error is in English and names what was wrong", () => {
  const r = z.strictObject({ port: z.number() }).safeParse({ port: "x", extra: 1 });
  assert.equal(r.success, false);
  const messages = r.error!.issues.map((i) => i.message);
  assert.deepEqual(messages, [
    "Invalid input: expected number, received string",
    'Unrecognized key: "extra"',
  ]);
});
