// A Vega-Lite spec drawn as an SVG string, headless: Vega's own SVG renderer, no browser, no canvas.
import vega from "vega";
import vegaLite from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import type { Source } from "./figures.js";

export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One caption line per source: the command that made the data, its date and its machine. */
export function captionLines(sources: readonly Source[]): string[] {
  return sources.map((s) => {
    const when = s.date.replace(/:\d\d(\.\d+)?Z$/, " UTC").replace("T", " ");
    return `${s.command}  ·  ${when}  ·  ${s.machine.cpu}, ${s.machine.cores} cores, node ${s.machine.node}`;
  });
}
