// How long a big device map takes to load and validate, beside the bare YAML parse of the same file.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { loadConfig } from "../../gateway/config.js";
import { withPeer, type Benchmark } from "../bench-kit.js";

function bigConfig(devices: number, pointsPerDevice: number): string {
  const lines = ["gateway: { id: bench }", "devices:"];
  for (let d = 0; d < devices; d++) {
    lines.push(
      `  - id: dev-${d}`,
      "    protocol: modbus",
      `    connection: { host: 127.0.0.1, port: ${5020 + (d % 100)} }`,
      "    points:",
    );
    for (let p = 0; p < pointsPerDevice; p++) {
      lines.push(
        `      - { name: p${p}, address: "holding:${p * 2}", type: float32, unit: degC, write: { min: 0, max: 100 } }`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

function best(times: number, fn: () => void): number {
  let min = Infinity;
  for (let i = 0; i < times; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return min;
}

const bench: Benchmark = {
  description: "load + validate a large device map vs. a bare YAML parse of the same file",
  async run(ctx) {
    const devices = ctx.quick ? 20 : 100;
    const file = join(ctx.tmpDir, "big.yaml");
    const text = bigConfig(devices, 100);
    writeFileSync(file, text);
    const points = devices * 100;
    ctx.log(`${devices} devices x 100 points, ${text.length} bytes`);
    const reps = ctx.quick ? 2 : 5;
    parse(text);
    loadConfig(file);
    const bare = best(reps, () => parse(text));
    const full = best(reps, () => loadConfig(file));
    return [
      withPeer(`load+validate ${points} points`, full, "ms", "yaml.parse alone", bare),
      { name: "load+validate per point", value: (full * 1000) / points, unit: "us" },
    ];
  },
};
export default bench;
