// The wire generations the dev server serves, by the name `--protocol` takes.
import { IggyInputError } from "../../errors.js";
import { WIRE_VERSIONS, type WireVersion } from "../../wire/registry.js";
import { serverWireAuto } from "./detect.js";
import type { ServerWireGeneration } from "./types.js";
import { serverWire010, serverWire09 } from "./v0_10.js";
import { serverWire08 } from "./v0_8.js";

const SERVER: Record<WireVersion, ServerWireGeneration> = {
  "0.8": serverWire08,
  "0.9": serverWire09,
  "0.10": serverWire010,
};

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
