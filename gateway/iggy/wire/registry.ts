// The wire generations this build speaks. Adding an Iggy generation is one more entry here.
import { IggyInputError } from "../errors.js";
import { serverWireAuto } from "./detect.js";
import type { ServerWireGeneration, WireGeneration } from "./generation.js";
import { serverWire010, wire010 } from "./v0_10/index.js";
import { serverWire08, wire08 } from "./v0_8/index.js";

export type WireVersion = "0.8" | "0.10";

const CLIENT: Record<WireVersion, WireGeneration> = { "0.8": wire08, "0.10": wire010 };
const SERVER: Record<WireVersion, ServerWireGeneration> = { "0.8": serverWire08, "0.10": serverWire010 };

export const WIRE_VERSIONS = Object.keys(CLIENT) as WireVersion[];

export function wireFor(version: string): WireGeneration {
  const w = CLIENT[version as WireVersion];
  if (!w)
    throw new IggyInputError(
      `Iggy wire protocol "${version}" is not supported (have ${WIRE_VERSIONS.join(", ")})`,
    );
  return w;
}

/** "auto" (or "both"): every generation on one port, told apart by each connection's first bytes. */
export function serverWireFor(version: string): ServerWireGeneration {
  if (version === "auto" || version === "both") return serverWireAuto;
  const w = SERVER[version as WireVersion];
  if (!w)
    throw new IggyInputError(
      `Iggy wire protocol "${version}" is not supported (have auto, ${WIRE_VERSIONS.join(", ")})`,
    );
  return w;
}
