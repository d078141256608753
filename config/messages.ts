// Turns schema issues into sentences a plant engineer can act on: what is wrong, what was expected.
import type { z } from "zod";

type Path = (string | number)[];
type Issue = z.core.$ZodIssue;
// zod's definition objects, read only to list the keys an object accepts.
type Def = { type: string; [k: string]: unknown };

export function pathText(path: Path): string {
  let out = "";
  for (const k of path) out += typeof k === "number" ? `[${k}]` : out ? `.${k}` : k;
  return out || "the top level";
}

export function dataAt(data: unknown, path: Path): unknown {
  let cur = data;
  for (const k of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[k];
  }
  return cur;
}

function typeName(expected: string): string {
  return expected === "object" ? "a mapping" : expected === "array" ? "a list" : expected;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  if (typeof v === "string") return `"${v.length > 40 ? v.slice(0, 40) + "..." : v}"`;
  return String(v);
}

function def(schema: unknown): Def {
  return (schema as { _zod: { def: Def } })._zod.def;
}

/** The object schema at `path`, following the data through unions, to list its keys. */
function objectSchemaAt(root: z.ZodType, path: Path, data: unknown): Def | undefined {
  let d: Def | undefined = def(root);
  let cur: unknown = data;
  const unwrap = () => {
    while (d) {
      if (["optional", "nullable", "default", "prefault", "readonly", "catch"].includes(d.type)) {
        d = def(d.innerType);
      } else if (d.type === "pipe") {
        const inner = def(d.in);
        d = inner.type === "transform" ? def(d.out) : inner;
      } else if (d.type === "union") {
        const options = d.options as unknown[];
        const disc = d.discriminator as string | undefined;
        const objects = options.map(def).filter((o) => o.type === "object");
        const chosen = disc
          ? objects.find((o) => {
              const lit = (o.shape as Record<string, unknown>)[disc];
              const values = lit ? (def(lit).values as unknown[] | undefined) : undefined;
              return values?.includes((cur as Record<string, unknown> | undefined)?.[disc]);
            })
          : objects[0];
        d = chosen;
        return;
      } else {
        return;
      }
    }
  };
  unwrap();
  for (const k of path) {
    if (!d) return undefined;
    if (d.type === "object")
      d = def((d.shape as Record<string, unknown>)[k as string] ?? { _zod: { def: { type: "never" } } });
    else if (d.type === "array") d = def(d.element);
    else if (d.type === "record") d = def(d.valueType);
    else return undefined;
    cur = (cur as Record<string | number, unknown> | undefined)?.[k];
    unwrap();
  }
  return d?.type === "object" ? d : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}

export function unknownKeyMessage(root: z.ZodType, objectPath: Path, key: string, data: unknown): string {
  const where = objectPath.length ? ` in ${pathText(objectPath)}` : "";
  const obj = objectSchemaAt(root, objectPath, data);
  if (!obj) return `unknown key '${key}'${where}`;
  const allowed = Object.keys(obj.shape as object);
  const near = allowed
    .map((k) => ({ k, d: editDistance(key.toLowerCase(), k.toLowerCase()) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(key.length / 3)))
    .sort((x, y) => x.d - y.d)[0];
  const hint = near ? `; did you mean '${near.k}'?` : "";
  return `unknown key '${key}'${where} (expected one of: ${allowed.join(", ")})${hint}`;
}

/** One sentence for one issue; `data` is the document as plain values, to quote what was found. */
export function issueMessage(issue: Issue, data: unknown): string {
  const at = pathText(issue.path as Path);
  const found = dataAt(data, issue.path as Path);
  switch (issue.code) {
    case "invalid_type": {
      if (found === undefined) {
        const key = issue.path[issue.path.length - 1];
        return `missing key '${String(key)}' in ${pathText(issue.path.slice(0, -1) as Path)} (expected ${typeName(issue.expected)})`;
      }
      return `${at}: expected ${typeName(issue.expected)}, found ${describe(found)}`;
    }
    case "too_big":
      return `${at}: ${describe(found)} is too ${issue.origin === "number" ? "large" : "long"}: at most ${String(issue.maximum)}${issue.inclusive ? "" : " (exclusive)"}`;
    case "too_small":
      if (issue.origin === "array") return `${at}: ${issue.message}`;
      return `${at}: ${describe(found)} is too ${issue.origin === "number" ? "small" : "short"}: at least ${String(issue.minimum)}${issue.inclusive ? "" : " (exclusive)"}`;
    case "invalid_value":
      return `${at}: expected ${issue.values.map((v) => String(v)).join(" or ")}, found ${describe(found)}`;
    case "invalid_union": {
      if ("discriminator" in issue && issue.discriminator) {
        if (found === undefined)
          return `missing key '${issue.discriminator}' in ${pathText(issue.path.slice(0, -1) as Path)}`;
        return `${at}: expected ${((issue as { options?: unknown[] }).options ?? []).map(String).join(", ")}, found ${describe(found)}`;
      }
      return `${at}: ${unionExpectation(issue.errors, found)}`;
    }
    case "invalid_format":
    case "custom":
      return `${at}: ${issue.message}`;
    default:
      return `${at}: ${issue.message}`;
  }
}

function unionExpectation(branches: Issue[][], found: unknown): string {
  const expected = new Set<string>();
  for (const branch of branches) {
    for (const i of branch) {
      if (i.code === "invalid_type" && i.path.length === 0) expected.add(typeName(i.expected));
      else if (i.code === "invalid_value" && i.path.length === 0)
        i.values.forEach((v) => expected.add(JSON.stringify(v)));
      // The value had this branch's type and failed inside it: that is the most specific complaint.
      else return i.path.length ? `${pathText(i.path as Path)}: ${i.message}` : i.message;
    }
  }
  return `expected ${[...expected].join(" or ")}, found ${describe(found)}`;
}
