#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=512
// The `iggy-edge` command. Each command's module declares only its options; what it does is
// imported when it runs, so `run` loads no dev server, simulator or CLI-only code, and `--help` loads
// almost nothing. When the first argument names a command, only that command's definition is
// loaded (the others' definitions cost an idle gateway memory for nothing); anything else (`--help`,
// `--version`, a mistyped command) gets the whole program, so help and errors are the same.
import { Command } from "commander";
import { VERSION } from "../version.js";

const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import("./run-command.js")).runCommand(),
  check: async () => (await import("./check-command.js")).checkCommand(),
  simulate: async () => (await import("./simulate-command.js")).simulateCommand(),
  browse: async () => (await import("./browse-command.js")).browseCommand(),
  opcua: async () => (await import("./opcua-command.js")).opcuaCommand(),
  tail: async () => (await import("./tail-command.js")).tailCommand(),
  command: async () => (await import("./command-command.js")).commandCommand(),
  "dev-iggy": async () => (await import("./dev-iggy-command.js")).devIggyCommand(),
  status: async () => (await import("./status-command.js")).statusCommand(),
  buffer: async () =>
    (await import("./buffer-command.js")).bufferCommand({
      resolveOptions: async ({ config, dataDir }) => {
        if (config === undefined) {
          const { bufferDir } = await import("../../buffer/index.js");
          return { dir: bufferDir(dataDir ?? "./data") };
        }
        const [{ loadConfig }, { bufferOptions }] = await Promise.all([
          import("../config.js"),
          import("../runtime.js"),
        ]);
        return bufferOptions(loadConfig(config).config);
      },
    }),
};

/** The program with every command, or with `only` alone when it names one. */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command("iggy-edge")
    .description(
      "Edge gateway: MQTT, OPC-UA, Modbus and CoAP devices into Apache Iggy, with a durable SQLite buffer",
    )
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", "\nRun `iggy-edge COMMAND --help` for a command's options. Docs: README.md.");
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  for (const cmd of await Promise.all(names.map((n) => COMMANDS[n]!()))) program.addCommand(cmd);
  return program;
}

await (await buildProgram(process.argv[2])).parseAsync(process.argv);
