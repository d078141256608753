// Reading the user headers the gateway puts on its messages (codec, schema, gateway, first_seq, count).
import type { PolledMessage } from "./iggy/index.js";

/** A header as text: a string header's value, a raw header's bytes as UTF-8, a number in decimal. */
export function headerText(m: PolledMessage, key: string): string | undefined {
  const h = m.headers.get(key);
  if (!h) return undefined;
  return h.kind === "raw" ? Buffer.from(h.value).toString() : String(h.value);
}

/** A numeric header as a number (64-bit ones included). */
export function headerNumber(m: PolledMessage, key: string): number | undefined {
  const h = m.headers.get(key);
  if (!h) return undefined;
  if (typeof h.value === "bigint") return Number(h.value);
  return typeof h.value === "number" ? h.value : undefined;
}
