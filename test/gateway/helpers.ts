// Shared by the forwarder's tests: readings whose values count up from `from`, over three devices,
// so what arrives in Iggy can be checked for each value once and in order.
import type { Reading } from "../../protocols/adapter.js";

export function readings(from: number, n: number): Reading[] {
  return Array.from({ length: n }, (_, i) => ({
    device: `dev-${(from + i) % 3}`,
    point: "counter",
    ts: 1_764_000_000_000 + from + i,
    value: from + i,
    quality: "good" as const,
  }));
}
