// zod for the config's schemas, loaded without its 64 translations of error messages. Every entry
// point of zod 4 imports all of them (`export * as locales`), which costs an idle gateway about
// 4 MiB; the gateway speaks English. This module is CommonJS so that zod is loaded through
// require, after its locales module is put in require's cache (documented as writable) as an
// object that loads each locale only when it is asked for. Everything in this project that builds or
// runs a schema imports `z` from here: one zod instance, never this one and zod's ES module beside it.
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";

const load = createRequire(__filename);

/** The names zod's locales module exports (`pt-BR.cjs` is `ptBR`), each loaded on first use. */
function lazyLocales(dir: string): Record<string, unknown> {
  const locales: Record<string, unknown> = Object.defineProperty({}, "__esModule", { value: true });
  for (const file of readdirSync(dir)) {
    const m = /^([a-z]+)(?:-([A-Z]+))?\.cjs$/.exec(file);
    if (m === null || m[1] === "index") continue;
    Object.defineProperty(locales, m[1]! + (m[2] ?? ""), {
      enumerable: true,
      // A locale's file sets module.exports to its function.
      get: () => load(`${dir}/${file}`) as unknown,
    });
  }
  return locales;
}

const localesFile = require.resolve("zod/v4/locales");
require.cache[localesFile] ??= Object.assign(Object.create(null) as NodeJS.Module, {
  id: localesFile,
  filename: localesFile,
  loaded: true,
  exports: lazyLocales(dirname(localesFile)),
  children: [],
  paths: [],
});

export { z } from "zod";
