// The demo: the dev Iggy server, a simulator for every device of config/examples/demo.yaml, the
// gateway, and `tail` printing the decoded readings, each an `iggy-edge` child process whose lines
// are prefixed with its name. A part that is not built yet says so and the rest goes on.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dirname, "../..");
const cli = resolve(root, "dist/gateway/cli/main.js");
const config = "config/examples/demo.yaml";

const { values } = parseArgs({ options: { seconds: { type: "string" } } });
const stopAfter = values.seconds ? Number(values.seconds) * 1000 : undefined;

interface Part {
  name: string;
  args: string[];
}

const parts: Part[] = [
  { name: "dev-iggy", args: ["dev-iggy", "--port", "8090"] },
  { name: "simulate", args: ["simulate", "-c", config] },
  { name: "gateway", args: ["run", "-c", config] },
  { name: "tail", args: ["tail", "--stream", "iot", "--topic", "telemetry", "--from", "first"] },
];

const width = Math.max(...parts.map((p) => p.name.length));
const say = (name: string, line: string) => console.log(`${name.padEnd(width)} | ${line}`);

function runPart(part: Part): Promise<{ part: Part; code: number | null }> {
  const child: ChildProcess = spawn(process.execPath, [cli, ...part.args], {
    cwd: root,
    env: { ...process.env, IGGY_EDGE_LOG_FORMAT: process.env.IGGY_EDGE_LOG_FORMAT ?? "pretty" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  byName.set(part.name, child);
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) => say(part.name, line));
  }
  return new Promise((done) => {
    child.on("exit", (code) => {
      running.delete(child);
      done({ part, code });
    });
  });
}

const running = new Set<ChildProcess>();
const byName = new Map<string, ChildProcess>();
// The Iggy server stops last, so the gateway's own shutdown is what ends its connection.
function stopAll(): void {
  const iggy = byName.get("dev-iggy");
  const others = [...running].filter((c) => c !== iggy);
  let left = others.length;
  if (left === 0) iggy?.kill("SIGTERM");
  for (const child of others) {
    child.once("exit", () => {
      if (--left === 0) iggy?.kill("SIGTERM");
    });
    child.kill("SIGTERM");
  }
}
process.on("SIGINT", stopAll);
process.on("SIGTERM", stopAll);
// However the demo ends (a closed pipe included), its parts end with it.
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});
process.stdout.on("error", () => process.exit(0));

const check = await runPart({ name: "check", args: ["check", "-c", config] });
if (check.code !== 0) process.exit(1);

console.log(`demo: starting ${parts.map((p) => p.name).join(", ")} (Ctrl-C stops everything)`);
if (stopAfter) setTimeout(stopAll, stopAfter).unref();
const results = await Promise.all(parts.map(runPart));
const missing = results.filter((r) => r.code === 2).map((r) => `iggy-edge ${r.part.args[0]}`);
if (missing.length) console.log(`demo: not built yet: ${missing.join(", ")}`);
