// Reads one YAML config file: parse, substitute secrets, validate against the schema it is given,
// cross-check. Every problem becomes an issue with the file, line and column it is about. Nothing here
// knows a protocol: the schema and the checks come from the caller (protocols/registry.ts).
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { ConfigError, type ConfigIssue } from "./error.js";
import { dataAt, issueMessage, unknownKeyMessage } from "./messages.js";
import type { RuleIssue } from "./schema.js";
import { SecretError, substitute } from "./secrets.js";

export { ConfigError, formatIssue, type ConfigIssue } from "./error.js";

/** What a file is checked against: its schema, and the checks across keys once the schema passed. */
export interface ConfigSpec<T> {
  schema: z.ZodType<T>;
  checks(config: T): RuleIssue[];
}

export interface LoadedConfig<T> {
  file: string;
  config: T;
  /** Values that came from `${env:...}`/`${file:...}`: never to be logged. */
  secrets: string[];
}

type Path = (string | number)[];

/** The node at `path`, or the deepest node on the way there; with the key node of the last pair found. */
function locate(doc: Document, path: Path): { node: Node | null; key: Node | null } {
  let node = doc.contents as Node | null;
  let key: Node | null = null;
  for (const k of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(k));
      if (!pair) break;
      key = pair.key as Node;
      node = (pair.value as Node | null) ?? key;
    } else if (isSeq(node) && typeof k === "number" && node.items[k]) {
      node = node.items[k] as Node;
      key = null;
    } else {
      break;
    }
  }
  return { node, key };
}

export function loadConfig<T>(
  file: string,
  spec: ConfigSpec<T>,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig<T> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new ConfigError([{ file, line: 1, col: 1, message: `cannot read the config file (${code})` }]);
  }
  return parseConfig(text, file, spec, env);
}

export function parseConfig<T>(
  text: string,
  file: string,
  spec: ConfigSpec<T>,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number | undefined, message: string): ConfigIssue => {
    const pos = lineCounter.linePos(offset ?? 0);
    return { file, line: pos.line, col: pos.col, message };
  };
  const issues: ConfigIssue[] = [];

  for (const e of doc.errors) {
    const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    issues.push(at(e.pos[0], `YAML: ${message}`));
  }
  if (issues.length) throw new ConfigError(issues);
  if (doc.contents === null)
    throw new ConfigError([at(0, "the file is empty: expected a mapping with gateway, iggy, devices, ...")]);

  const secrets: string[] = [];
  const baseDir = dirname(resolve(file));
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value !== "string") return;
      try {
        const sub = substitute(node.value, baseDir, env);
        if (!sub) return;
        secrets.push(...sub.secrets.filter((s) => s.length > 0));
        // A plain (unquoted) scalar that was a single reference takes the type its text has: `port: ${env:P}` is a number.
        const whole = node.type === "PLAIN" && /^\$\{[^}]*\}$/.test(node.value);
        node.value = whole ? (plainValue(sub.value) ?? sub.value) : sub.value;
      } catch (e) {
        if (!(e instanceof SecretError)) throw e;
        issues.push(at(node.range?.[0], e.message));
      }
    },
  });

  // Unresolved references leave values that would only confuse the schema's messages.
  if (issues.length) throw new ConfigError(issues);

  // Aliases resolve only here: one to an anchor never set, or too many of them (an alias bomb).
  let data: unknown;
  try {
    data = doc.toJS();
  } catch (e) {
    throw new ConfigError([at(aliasOffset(doc), `YAML: ${(e as Error).message}`)]);
  }
  const result = spec.schema.safeParse(data);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path as Path;
      if (issue.code === "unrecognized_keys") {
        for (const key of issue.keys) {
          const { key: keyNode, node } = locate(doc, [...path, key]);
          issues.push(at((keyNode ?? node)?.range?.[0], unknownKeyMessage(spec.schema, path, key, data)));
        }
        continue;
      }
      const { node, key } = locate(doc, path);
      const missing = issue.code === "invalid_type" && dataAt(data, path) === undefined;
      issues.push(at((missing ? node : (node ?? key))?.range?.[0], issueMessage(issue, data)));
    }
  } else {
    for (const rule of spec.checks(result.data)) {
      issues.push(at(locate(doc, rule.path).node?.range?.[0], rule.message));
    }
  }
  if (issues.length) {
    issues.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new ConfigError(issues);
  }
  return { file, config: result.data!, secrets: [...new Set(secrets)] };
}

/** The value a substituted text has as a plain YAML scalar (`8080` a number); undefined when it has none. */
function plainValue(text: string): unknown {
  try {
    return parseDocument(text).toJS() as unknown;
  } catch {
    return undefined;
  }
}

/** Where the first alias that does not resolve is, else the first alias (for an alias-count error). */
function aliasOffset(doc: Document): number | undefined {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      first ??= node.range?.[0];
      if (node.resolve(doc) === undefined) {
        unresolved = node.range?.[0];
        return visit.BREAK;
      }
    },
  });
  return unresolved ?? first;
}
