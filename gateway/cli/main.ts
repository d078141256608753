#!/usr/bin/env node
// The `iggy-edge` command.
import { Command } from "commander";
import { readFileSync } from "node:fs";
import { checkCommand } from "./check-command.js";
import { simulateCommand } from "./simulate-command.js";
import {
  commandCommand,
  devIggyCommand,
  runCommand,
  statusCommand,
  tailCommand,
} from "./planned-commands.js";

const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
  version: string;
};

export function buildProgram(): Command {
  const program = new Command("iggy-edge")
    .description(
      "Edge gateway: MQTT, OPC-UA, Modbus and CoAP devices into Apache Iggy, with a durable SQLite buffer",
    )
    .version(pkg.version)
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
  ]) {
    program.addCommand(cmd);
  }
  return program;
}

await buildProgram().parseAsync(process.argv);
