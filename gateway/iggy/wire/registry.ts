// The wire generations this build speaks. Adding an Iggy generation is one more entry here (and
// one in ../dev-server/wire/registry.ts for the dev server).
import { IggyInputError } from "../errors.js";
import type { WireGeneration } from "./generation.js";
import { wire010, wire09 } from "./v0_10/index.js";
import { wire08 } from "./v0_8/index.js";

export type WireVersion = "0.8" | "0.9" | "0.10";

const CLIENT: Record<WireVersion, WireGeneration> = { "0.8": wire08, "0.9": wire09, "0.10": wire010 };

export const WIRE_VERSIONS = Object.keys(CLIENT) as WireVersion[];

export function wireFor(version: string): WireGeneration {
  const w = CLIENT[version as WireVersion];
  if (!w)
    throw new IggyInputError(
      `Iggy wire protocol "${version}" is not supported (have ${WIRE_VERSIONS.join(", ")})`,
    );
  return w;
}
