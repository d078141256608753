// Whether each device of an adapter is up, since when, and why not: one log line per transition
// (`<protocol> device down` at WARN, `<protocol> device up` at INFO, each with the device's id), and
// health entries of one shape for every protocol (the error only while the device is down).
import type { Logger } from "pino";
import type { DeviceHealth } from "./adapter.js";

export type DeviceCondition = "unknown" | "up" | "down";

/** The message of a device's transition log line, the same for every protocol. */
export function transitionMessage(protocol: string, to: "up" | "down"): string {
  return `${protocol} device ${to}`;
}

interface State {
  condition: DeviceCondition;
  since: number;
  error: string;
}

export class DeviceStates {
  private readonly states = new Map<string, State>();

  /** `initialError`: what health says of a device before anything is known ("not polled yet"). */
  constructor(
    private readonly protocol: string,
    ids: Iterable<string>,
    private readonly log: Logger,
    initialError: string,
    now = Date.now(),
  ) {
    for (const id of ids) this.states.set(id, { condition: "unknown", since: now, error: initialError });
  }

  condition(id: string): DeviceCondition {
    return this.must(id).condition;
  }

  isUp(id: string): boolean {
    return this.must(id).condition === "up";
  }

  /** Known to be down (not merely unknown yet). */
  isDown(id: string): boolean {
    return this.must(id).condition === "down";
  }

  /** The device answered. Returns true on a transition (logged, with `fields`). */
  up(id: string, fields: Record<string, unknown> = {}): boolean {
    const s = this.must(id);
    if (s.condition === "up") return false;
    const recovered = s.condition === "down";
    s.condition = "up";
    s.since = Date.now();
    s.error = "";
    this.log.info({ device: id, ...fields, recovered }, transitionMessage(this.protocol, "up"));
    return true;
  }

  /**
   * The device cannot be reached, for `error` (a person's words). Returns true on a transition
   * (logged, with `fields`); while it stays down only the error is updated.
   */
  down(id: string, error: string, fields: Record<string, unknown> = {}): boolean {
    const s = this.must(id);
    s.error = error;
    if (s.condition === "down") return false;
    s.condition = "down";
    s.since = Date.now();
    this.log.warn({ device: id, ...fields, err: error }, transitionMessage(this.protocol, "down"));
    return true;
  }

  health(id: string): DeviceHealth {
    const s = this.must(id);
    const up = s.condition === "up";
    return up ? { device: id, up, since: s.since } : { device: id, up, since: s.since, error: s.error };
  }

  all(): DeviceHealth[] {
    return [...this.states.keys()].map((id) => this.health(id));
  }

  private must(id: string): State {
    const s = this.states.get(id);
    if (s === undefined) throw new Error(`${this.protocol}: no device ${id}`);
    return s;
  }
}
