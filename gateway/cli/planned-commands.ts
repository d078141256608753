// Commands of the outside contract whose machinery has not landed yet: their options are final, so
// `--help` is accurate, and running one says plainly which part is missing.
import { Command, Option } from "commander";
import { configOption } from "./config-option.js";

function notBuilt(cmd: Command, missing: string): Command {
  return cmd.action(() => {
    console.error(`iggy-edge ${cmd.name()}: not built yet: ${missing}.`);
    process.exitCode = 2;
  });
}

export function runCommand(): Command {
  return notBuilt(
    new Command("run")
      .description("run the gateway: SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the device map")
      .addOption(configOption()),
    "the gateway runtime (adapters, buffer, forwarder wired together) is the next step after the buffer and Iggy client",
  );
}

export function tailCommand(): Command {
  return notBuilt(
    new Command("tail")
      .description("decode the gateway's batches from Iggy, one reading a line")
      .requiredOption("--stream <name>", "Iggy stream")
      .requiredOption("--topic <name>", "Iggy topic")
      .option("--iggy <host:port>", "Iggy server", "127.0.0.1:8090")
      .option("--count <n>", "stop after N readings")
      .addOption(
        new Option("--from <where>", "start at the first message or only new ones")
          .choices(["first", "next"])
          .default("next"),
      )
      .option("--json", "JSON lines instead of a table"),
    "the codecs and the Iggy client (forwarder issue)",
  );
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

export function devIggyCommand(): Command {
  return notBuilt(
    new Command("dev-iggy")
      .description("the Iggy-compatible dev server used by the demo and the tests")
      .option("--port <n>", "TCP port", "8090")
      .option("--data-dir <dir>", "keep messages in this directory (default: in memory)"),
    "the Iggy client and dev server (in progress)",
  );
}
