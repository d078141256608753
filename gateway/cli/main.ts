#!/usr/bin/env node
// The `iggy-edge` command.
import { Command } from "commander";
import { loadConfig } from "../config.js";
import { bufferDir } from "../../buffer/index.js";
import { bufferOptions } from "../runtime.js";
import { bufferCommand } from "./buffer-command.js";
import { checkCommand } from "./check-command.js";
import { devIggyCommand } from "./dev-iggy-command.js";
import { runCommand } from "./run-command.js";
import { tailCommand } from "./tail-command.js";
import { simulateCommand } from "./simulate-command.js";
import { VERSION } from "../version.js";
import { commandCommand } from "./planned-commands.js";
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
    tailCommand(),
    commandCommand(),
    devIggyCommand(),
    statusCommand(),
    bufferCommand({
      resolveOptions: ({ config, dataDir }) =>
        config !== undefined
          ? bufferOptions(loadConfig(config).config)
          : { dir: bufferDir(dataDir ?? "./data") },
    }),
  ]) {
    program.addCommand(cmd);
  }
  return program;
}

await buildProgram().parseAsync(process.argv);
