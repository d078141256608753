// A probe process of the footprint benchmark (scripts/bench/footprint.ts): goes the way of
// `iggy-edge run -c FILE` up to one step, says so on stdout (not over an IPC channel, which would
// load code of its own), then idles so its RSS can be read.
// `node footprint-probe.js STEP FILE`, STEP one of the ids below, in the order the gateway takes them.
const STEP_IDS = [
  "node",
  "cli",
  "config",
  "log",
  "modules",
  "buffer",
  "running",
  "mqtt-code",
  "mqtt",
] as const;
type StepId = (typeof STEP_IDS)[number];

async function probe(step: StepId, file: string): Promise<void> {
  const reached = (id: StepId) => STEP_IDS.indexOf(id) <= STEP_IDS.indexOf(step);
  if (!reached("cli")) return;
  // What gateway/cli/main.ts imports before it parses `run`'s command line.
  await import("commander");
  await import("../gateway/version.js");
  await import("../gateway/cli/run-command.js");
  if (!reached("config")) return;
  // As `run` does: in a passing thread, which loads yaml, zod and the schemas and ends.
  const { loadConfigInThread } = await import("../gateway/config-thread.js");
  const loaded = await loadConfigInThread(file);
  if (!reached("log")) return;
  const { createLogger } = await import("../gateway/log.js");
  const log = createLogger({ format: "json", level: "warn", destination: process.stderr });
  if (!reached("modules")) return;
  const { GatewayRuntime, bufferOptions } = await import("../gateway/runtime.js");
  if (step === "modules") return;
  if (step === "buffer") {
    const { openBuffer } = await import("../buffer/index.js");
    await openBuffer({ ...bufferOptions(loaded.config), log });
    return;
  }
  if (reached("mqtt-code")) await (await import("../protocols/registry.js")).loadProtocol("mqtt");
  const devices = step === "mqtt" ? loaded.config.devices : [];
  await new GatewayRuntime({ ...loaded, config: { ...loaded.config, devices } }, log).start();
}

const step = process.argv[2] as StepId;
if (!STEP_IDS.includes(step)) throw new Error(`footprint-probe: unknown step ${step}`);
await probe(step, process.argv[3]!);
process.stdout.write("ready\n");
setInterval(() => {}, 1000);
