// `${env:NAME}`, `${env:NAME:-default}` and `${file:PATH}` in string values: resolved before
// validation, remembered so that the logger can scrub them from every line. `$${` stands for a literal `${`.
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";

const REF = /\$\$\{|\$\{([a-z]+):([^}]*)\}/g;

export class SecretError extends Error {}

export interface Substitution {
  value: string;
  /** The substituted values, to be redacted from logs. */
  secrets: string[];
}

/** Returns null when the text holds no reference; throws SecretError naming what could not be resolved. */
export function substitute(
  text: string,
  baseDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Substitution | null {
  if (!text.includes("${")) return null;
  const secrets: string[] = [];
  const value = text.replace(REF, (whole, kind: string | undefined, arg: string | undefined) => {
    if (whole === "$${") return "${";
    if (kind === "env") {
      // `${env:NAME:-default}`: the default, written in the file for all to see, is no secret.
      const m = /^([^:]*)(?::-(.*))?$/s.exec(arg!)!;
      const name = m[1]!;
      const v = env[name];
      if (v !== undefined && v !== "") {
        secrets.push(v);
        return v;
      }
      if (m[2] !== undefined) return m[2];
      if (v === undefined)
        throw new SecretError(`environment variable ${name} is not set (referenced as ${whole})`);
      return v;
    }
    if (kind === "file") {
      if (!arg) throw new SecretError(`${whole} names no file`);
      const path = isAbsolute(arg) ? arg : resolve(baseDir, arg);
      let v: string;
      try {
        v = readFileSync(path, "utf8").replace(/\r?\n$/, "");
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "error";
        throw new SecretError(`cannot read secret file ${path} (${code}, referenced as ${whole})`);
      }
      secrets.push(v);
      return v;
    }
    throw new SecretError(
      `unknown reference ${whole}: expected \${env:NAME}, \${env:NAME:-default} or \${file:PATH}`,
    );
  });
  return { value, secrets };
}
