// The simulators' faults on demand, written the same way for every protocol:
// `DEVICE:KIND[=N],DEVICE:KIND[=N],...` (for instance `boiler-1:exception=4,pump-3:silent`).
// Each protocol declares its kinds and which of them take a number; this module reads the text and
// says exactly what is wrong with it.

export interface FaultKind {
  /** What the number means, as the usage shows it (`MS`, `CODE`); absent: the kind takes no number. */
  number?: string;
  /** Bounds of the number (inclusive); by default at least 0, no maximum. */
  min?: number;
  max?: number;
}

export interface FaultEntry<K extends string> {
  device: string;
  kind: K;
  /** Present exactly when the kind takes a number. */
  value?: number;
}

export class FaultSpecError extends Error {
  override name = "FaultSpecError";
}

/** `exception=CODE, delay=MS, silent`: the kinds as a person types them. */
export function faultUsage(kinds: Record<string, FaultKind>): string {
  return Object.entries(kinds)
    .map(([name, k]) => (k.number === undefined ? name : `${name}=${k.number}`))
    .join(", ");
}

/**
 * Reads a fault spec; `source` (an environment variable's name) starts every error message.
 * An empty or absent spec is no fault. A device may have one fault.
 */
export function parseFaultSpec<K extends string>(
  spec: string | undefined,
  kinds: Record<K, FaultKind>,
  source = "fault spec",
): Map<string, FaultEntry<K>> {
  const out = new Map<string, FaultEntry<K>>();
  if (spec === undefined) return out;
  const usage = `DEVICE:KIND[=N], KIND one of ${faultUsage(kinds)}`;
  for (const part of spec.split(",").map((s) => s.trim())) {
    if (part === "") continue;
    const fail = (why: string): never => {
      throw new FaultSpecError(`${source}: bad fault ${JSON.stringify(part)}: ${why}`);
    };
    const colon = part.lastIndexOf(":");
    if (colon <= 0) fail(`expected ${usage}`);
    const device = part.slice(0, colon).trim();
    const rest = part.slice(colon + 1).trim();
    const eq = rest.indexOf("=");
    const name = (eq < 0 ? rest : rest.slice(0, eq)).trim();
    const text = eq < 0 ? undefined : rest.slice(eq + 1).trim();
    if (name === "") fail(`no KIND after the device; expected ${usage}`);
    if (!Object.hasOwn(kinds, name)) fail(`there is no fault "${name}"; KIND is one of ${faultUsage(kinds)}`);
    const kind = name as K;
    const wants = kinds[kind].number;
    const entry: FaultEntry<K> = { device, kind };
    if (wants === undefined) {
      if (text !== undefined) fail(`${kind} takes no number`);
    } else {
      if (text === undefined || text === "") fail(`${kind} needs a number: ${kind}=${wants}`);
      if (!/^\d+$/.test(text!)) fail(`${kind}=${wants} needs a whole number, not ${JSON.stringify(text)}`);
      const n = Number(text);
      const { min = 0, max } = kinds[kind];
      if (n < min || (max !== undefined && n > max) || !Number.isSafeInteger(n)) {
        fail(
          `${kind}=${wants} must be ${max === undefined ? `at least ${min}` : `from ${min} to ${max}`}, not ${text}`,
        );
      }
      entry.value = n;
    }
    const earlier = out.get(device);
    if (earlier !== undefined)
      fail(`device ${device} already has a fault (${earlier.kind}); give one per device`);
    out.set(device, entry);
  }
  return out;
}
