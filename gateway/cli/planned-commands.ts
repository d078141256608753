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

export function statusCommand(): Command {
  return notBuilt(
    new Command("status")
      .description("what the running gateway's /api/status says, for a person")
      .addOption(configOption())
      .option("--url <url>", "the gateway's HTTP address (default: http.listen from the config)"),
    "the HTTP endpoint (after the gateway runtime)",
  );
}
