// The Raspberry Pi packages' footprint, measured on this x86 machine: the arm64 (and armhf) .deb
// unpacked into a throwaway folder, its gateway run with the package's own Node under
// qemu-user-static, beside the native build (this checkout's bin, as the footprint benchmark runs
// it) in the same run: start-to-READY and idle RSS with MQTT alone and with every protocol
// configured, against a dev-iggy, Modbus and OPC-UA simulators of this process. Under emulation RSS
// is qemu's: the guest's memory plus qemu's own and its translated code, so it is an upper bound
// for a Pi, and times are those of an emulator (each guest instruction translated), not of a Pi.
// Needs the packages (scripts/package-deb.sh --arch arm64|armhf; PI_BENCH_PKG_DIR, else build/pkg)
// and qemu-user-static; an architecture without either is reported as not measured.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { medianOf, type Benchmark, type Figure } from "../bench-kit.js";
import { runGateway, startScenarioPeers, type RunResult, type Scenario } from "./footprint.js";

const repo = resolve(import.meta.dirname, "../../..");
const VERSION = (JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string }).version;

interface Arch {
  arch: "arm64" | "armhf";
  qemu: string;
  sysroot: string;
}

const ARCHES: Arch[] = [
  { arch: "arm64", qemu: "qemu-aarch64-static", sysroot: "/usr/aarch64-linux-gnu" },
  { arch: "armhf", qemu: "qemu-arm-static", sysroot: "/usr/arm-linux-gnueabihf" },
];

const SCENARIOS = ["mqtt", "all"];

function unpack(deb: string, into: string): string {
  const r = spawnSync("dpkg-deb", ["-x", deb, into], { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`dpkg-deb -x ${deb}: ${r.stderr}`);
  return join(into, "usr/lib/iggy-edge");
}

/** The node flags the package's wrapper passes (`exec ".../node" FLAGS ".../main.js" "$@"`). */
function wrapperFlags(lib: string): string[] {
  const wrapper = readFileSync(join(lib, "bin/iggy-edge"), "utf8");
  const m = /\/node\/bin\/node"?\s+(.*?)\s+"?\S*main\.js/.exec(wrapper);
  return m ? m[1]!.split(/\s+/).filter(Boolean) : [];
}

const bench: Benchmark = {
  description:
    "pi: start-to-READY and idle RSS of the arm64/armhf packages under qemu-user-static beside the native build (MQTT alone, every protocol)",
  async run(ctx) {
    const pkgDir = process.env.PI_BENCH_PKG_DIR ?? join(repo, "build/pkg");
    const reps = ctx.quick ? 1 : 2;
    const maxSamples = ctx.quick ? 40 : 80;
    const peers = await startScenarioPeers(ctx.tmpDir);
    const base = peers.scenarios.filter((s) => SCENARIOS.includes(s.name));

    const runs: { label: string; scenarios: Scenario[] }[] = [{ label: "native x86-64", scenarios: base }];
    const skipped: string[] = [];
    for (const a of ARCHES) {
      const deb = join(pkgDir, `iggy-edge_${VERSION}_${a.arch}.deb`);
      const qemuThere = spawnSync(a.qemu, ["--version"], { timeout: 10_000 }).status === 0;
      if (!existsSync(deb) || !qemuThere || !existsSync(a.sysroot)) {
        const why = !existsSync(deb)
          ? `no ${deb} (scripts/package-deb.sh --arch ${a.arch})`
          : `no ${a.qemu} or ${a.sysroot}`;
        ctx.log(`${a.arch}: not measured: ${why}`);
        skipped.push(a.arch);
        continue;
      }
      const root = join(ctx.tmpDir, `root-${a.arch}`);
      mkdirSync(root, { recursive: true });
      const lib = unpack(deb, root);
      const flags = wrapperFlags(lib);
      ctx.log(`${a.arch}: ${deb} unpacked; node flags from its wrapper: ${flags.join(" ") || "none"}`);
      runs.push({
        label: `${a.arch} under ${a.qemu}`,
        // An emulated start of every protocol (node-opcua) takes minutes: --quick does MQTT alone.
        scenarios: base
          .filter((s) => !ctx.quick || s.name === "mqtt")
          .map((s) => ({
            ...s,
            readyWithinMs: 1_200_000,
            launch: (args: string[]): [string, string[]] => [
              a.qemu,
              [
                "-L",
                a.sysroot,
                join(lib, "node/bin/node"),
                ...flags,
                join(lib, "app/dist/gateway/cli/main.js"),
                ...args,
              ],
            ],
          })),
      });
    }

    const figures: Figure[] = [];
    try {
      const results = new Map<string, RunResult[]>();
      for (let rep = 0; rep < reps; rep++)
        for (const run of runs)
          for (const s of run.scenarios) {
            const key = `${run.label}|${s.title}`;
            const dir = join(ctx.tmpDir, `${run.label.split(" ")[0]}-${s.name}-${rep}`);
            try {
              const r = await runGateway(ctx, s, dir, maxSamples);
              results.set(key, [...(results.get(key) ?? []), r]);
            } catch (e) {
              // One emulated start that fails costs its own figures, not the others'.
              ctx.log(`${run.label}, ${s.title}: not measured: ${(e as Error).message}`);
            }
          }
      for (const run of runs)
        for (const s of run.scenarios) {
          const rs = results.get(`${run.label}|${s.title}`);
          if (!rs) continue;
          figures.push({
            name: `start-to-READY, ${s.title}, ${run.label}`,
            value: medianOf(rs.map((r) => r.readyMs)),
            unit: "ms",
          });
          figures.push({
            name: `idle RSS, ${s.title}, ${run.label}`,
            value: medianOf(rs.map((r) => r.settled.mem.rss)),
            unit: "MiB",
          });
        }
      for (const arch of skipped) ctx.log(`${arch}: no figures (see above)`);
    } finally {
      await peers.stop();
    }
    return figures;
  },
};

export default bench;
