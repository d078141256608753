// The wire generations this build speaks. Adding Iggy 0.10 is one more entry here.
import { IggyInputError } from "../errors.js";
import type { ServerWireGeneration, WireGeneration } from "./generation.js";
import { serverWire08, wire08 } from "./v0_8/index.js";

export type WireVersion = "0.8";

const CLIENT: Record<WireVersion, WireGeneration> = { "0.8": wire08 };
const SERVER: Record<WireVersion, ServerWireGeneration> = { "0.8": serverWire08 };

export const WIRE_VERSIONS = Object.keys(CLIENT) as WireVersion[];

export function wireFor(version: string): WireGeneration {
  const w = CLIENT[version as WireVersion];
  if (!w)
    throw new IggyInputError(
      `Iggy wire protocol "${version}" is not supported (have ${WIRE_VERSIONS.join(", ")})`,
    );
  return w;
}

export function serverWireFor(version: string): ServerWireGeneration {
  const w = SERVER[version as WireVersion];
  if (!w)
    throw new IggyInputError(
      `Iggy wire protocol "${version}" is not supported (have ${WIRE_VERSIONS.join(", ")})`,
    );
  return w;
}
