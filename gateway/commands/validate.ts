// The checks a command passes before anything reaches a device: the device and point exist on this
// gateway, the point is declared writable, the value has the point's type and lies within its
// range, and the command has not expired. Each refusal says why, for a person.
import type { AnyDeviceConfig } from "../../config/schema.js";
import type { WriteValue } from "../../protocols/adapter.js";
import type { WriteKind } from "../../protocols/plugin.js";
import { protocolPlugin } from "../../protocols/registry.js";
import type { Command, CommandStatus } from "./message.js";

export interface Refusal {
  status: Extract<CommandStatus, "rejected" | "expired">;
  error: string;
}

export interface ValidCommand {
  device: AnyDeviceConfig;
}

const LISTED = 10;

function list(names: string[]): string {
  const shown = names.slice(0, LISTED).join(", ");
  return names.length > LISTED ? `${shown}, ...` : shown;
}

/** Whether the command's time has passed at `now`; the refusal if so. */
export function expiry(command: Command, now: number): Refusal | null {
  if (command.expiresAt === undefined || command.expiresAt > now) return null;
  return {
    status: "expired",
    error: `the command expired at ${new Date(command.expiresAt).toISOString()}, before it could run (now ${new Date(now).toISOString()})`,
  };
}

/** The kind of value a writable point takes, from its protocol's plug-in ("any" when it does not say). */
export function writeKindOf(device: AnyDeviceConfig, point: AnyDeviceConfig["points"][number]): WriteKind {
  const plugin = protocolPlugin(device.protocol);
  return plugin?.writeKind?.(point as never) ?? "any";
}

function shown(v: WriteValue): string {
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

function kindRefusal(kind: WriteKind, v: WriteValue, where: string): string | null {
  switch (kind) {
    case "boolean":
      return typeof v === "boolean" ? null : `point ${where} takes true or false, not ${shown(v)}`;
    case "string":
      return typeof v === "string" ? null : `point ${where} takes a text, not ${shown(v)}`;
    case "integer":
      return typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v))
        ? null
        : `point ${where} takes a whole number, not ${shown(v)}`;
    case "number":
      return typeof v === "number" || typeof v === "bigint"
        ? null
        : `point ${where} takes a number, not ${shown(v)}`;
    case "any":
      return null;
  }
}

/** Checks `command` against the device map of gateway `gatewayId`; a refusal, or the device. */
export function validate(
  command: Command,
  devices: readonly AnyDeviceConfig[],
  gatewayId: string,
  now: number,
): Refusal | ValidCommand {
  const reject = (error: string): Refusal => ({ status: "rejected", error });
  const device = devices.find((d) => d.id === command.device);
  if (device === undefined) return reject(`gateway ${gatewayId} has no device named '${command.device}'`);
  if (!device.enabled) return reject(`device ${device.id} is disabled in the gateway's config`);
  const point = device.points.find((p) => p.name === command.point);
  if (point === undefined) {
    return reject(
      `device ${device.id} has no point named '${command.point}' (its points: ${list(device.points.map((p) => p.name))})`,
    );
  }
  const where = `${device.id}/${point.name}`;
  const w = point.write;
  if (w === undefined) return reject(`point ${where} is read-only (the config declares no write: for it)`);
  const v = command.value;
  const wrongKind = kindRefusal(writeKindOf(device, point), v, where);
  if (wrongKind !== null) return reject(wrongKind);
  if (w !== true && (w.min !== undefined || w.max !== undefined)) {
    const range = `${w.min ?? "-inf"} to ${w.max ?? "+inf"}`;
    if (typeof v !== "number" && typeof v !== "bigint") {
      return reject(`point ${where} takes a number from ${range}, not ${shown(v)}`);
    }
    const n = Number(v);
    if ((w.min !== undefined && n < w.min) || (w.max !== undefined && n > w.max)) {
      return reject(`${shown(v)} is outside the write range of ${where} (${range})`);
    }
  }
  return expiry(command, now) ?? { device };
}
