// Commands of the outside contract whose machinery has not landed yet: their options are final, so
// `--help` is accurate, and running one says plainly which part is missing.
import { Command } from "commander";
import { configOption } from "./config-option.js";

function notBuilt(cmd: Command, missing: string): Command {
  return cmd.action(() => {
    console.error(`iggy-edge ${cmd.name()}: not built yet: ${missing}.`);
    process.exitCode = 2;
  });
}

export function commandCommand(): Command {
  return notBuilt(
    new Command("command")
      .description("send a command to a device point through Iggy and print its result")
      .addOption(configOption())
      .requiredOption("--device <id>", "device id")
      .requiredOption("--point <name>", "point name")
      .requiredOption("--value <v>", "value to write (checked against the point's write range)")
      .option("--wait", "wait for the result and print it"),
    "the command router (after the forwarder)",
  );
}
