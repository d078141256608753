// What every protocol's payload decoder shares: the words read as booleans, a short quoted preview
// of bad input for error messages, and which parsed values a reading can carry as they are.
import type { ReadingValue } from "./adapter.js";

export const TRUE_WORDS: ReadonlySet<string> = new Set(["true", "1", "on", "yes"]);
export const FALSE_WORDS: ReadonlySet<string> = new Set(["false", "0", "off", "no"]);

export function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/** A parsed JSON/CBOR/MessagePack value as a reading value (bytes copied); undefined for an array or object. */
export function scalarValue(v: unknown): ReadingValue | undefined {
  switch (typeof v) {
    case "number":
    case "boolean":
    case "string":
    case "bigint":
      return v;
  }
  if (v === null) return null;
  if (v instanceof Uint8Array) return new Uint8Array(v);
  return undefined;
}

/** How a decoder says that a value is an array or object where a reading value was expected. */
export function notAScalar(v: unknown, what: string): string {
  return `${what} is ${Array.isArray(v) ? "an array" : "an object"}, not a value`;
}
