#!/usr/bin/env -S node --max-semi-space-size=4 --max-old-space-size=512
// The `iggy-edge` command. Each command's module declares only its options; what it does is
// imported when it runs, so `run` loads no dev server, simulator or CLI-only code, and `--help` loads
// almost nothing.
import { Command } from "commander";
import { browseCommand } from "./browse-command.js";
import { bufferCommand } from "./buffer-command.js";
import { checkCommand } from "./check-command.js";
import { devIggyCommand } from "./dev-iggy-command.js";
import { runCommand } from "./run-command.js";
import { tailCommand } from "./tail-command.js";
import { simulateCommand } from "./simulate-command.js";
import { VERSION } from "../version.js";
import { commandCommand } from "./command-command.js";
import { opcuaCommand } from "./opcua-command.js";
import { statusCommand } from "./status-command.js";

export function buildProgram(): Command {
  const program = new Command("iggy-edge")
    .description(
      "Edge gateway: MQTT, OPC-UA, Modbus and CoAP devices into Apache Iggy, with a durable SQLite buffer",
    )
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .addHelpText("after", "\nRun `iggy-edge COMMAND --help` for a command's options. Docs: README.md.");
  for (const cmd of [
    runCommand(),
    checkCommand(),
    simulateCommand(),
    browseCommand(),
    opcuaCommand(),
    tailCommand(),
    commandCommand(),
    devIggyCommand(),
    statusCommand(),
    bufferCommand({
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
  ]) {
    program.addCommand(cmd);
  }
  return program;
}

await buildProgram().parseAsync(process.argv);
