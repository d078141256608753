// `iggy-edge command`: sends a command to a device point through Iggy (and with --wait prints its
// result); `iggy-edge command log` prints the gateway's command audit trail. The work is in
// gateway/commands/send.ts and audit-print.ts, imported when a command runs.
import { Command, InvalidArgumentError, Option } from "commander";
import { configOption } from "./config-option.js";
import type { SendCommandOptions } from "../commands/send.js";
import type { CommandLogOptions } from "../commands/audit-print.js";

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function logCommand(): Command {
  return new Command("log")
    .description(
      "print the gateway's last commands and their results (from its data dir; -c FILE is the config, as for `command`)",
    )
    .option("--data-dir <dir>", "the gateway's data dir (instead of reading it from the config)")
    .option("--count <n>", "how many records", positive, 20)
    .option("--device <id>", "only this device's commands")
    .option("--json", "JSON lines instead of a table")
    .action(async (_o: unknown, cmd: Command) => {
      // `-c FILE` belongs to `command`, before or after `log`.
      const o = cmd.optsWithGlobals<CommandLogOptions>();
      const { printCommandLog } = await import("../commands/audit-print.js");
      process.exitCode = await printCommandLog(o);
    });
}

export function commandCommand(): Command {
  return (
    new Command("command")
      .description(
        "send a command to a device point through Iggy and print its result (`command log`: the audit trail)",
      )
      .addOption(configOption())
      // Required for sending; commander would demand required options of `command log` too.
      .option("--device <id>", "device id (required)")
      .option("--point <name>", "point name (required)")
      .option(
        "--value <v>",
        'value to write: JSON (42, 2.5, true, "text"); anything else is sent as text (checked against the point\'s type and write range)',
      )
      .option("--wait", "wait for the result and print it (exit 0 for ok, 1 otherwise, 2 when none came)")
      .option("--timeout <ms>", "with --wait: how long to wait for the result", positive, 30_000)
      .option("--gateway <id>", "the gateway's id (default: gateway.id of the config)")
      .option("--iggy <host:port>", "Iggy server (default: iggy.address of the config, else 127.0.0.1:8090)")
      .addOption(new Option("--username <name>", "Iggy user").env("IGGY_USERNAME"))
      .addOption(new Option("--password <secret>", "Iggy password").env("IGGY_PASSWORD"))
      .addOption(
        new Option("--token <pat>", "personal access token instead of user/password").env("IGGY_TOKEN"),
      )
      .option("--stream <name>", "Iggy stream (default: from the config, else iot)")
      .option(
        "--id <id>",
        "the command's id (default: a new UUID); a repeated id is answered, not executed again",
      )
      .option(
        "--expires-at <time>",
        "ISO 8601 time or ms since the epoch after which the command must not run",
      )
      .addOption(
        new Option("--codec <codec>", "how the command is encoded")
          .choices(["json", "msgpack"])
          .default("json"),
      )
      .option("--json", "print the result as JSON")
      .addCommand(logCommand())
      .action(async (o: SendCommandOptions, cmd: Command) => {
        for (const key of ["device", "point", "value"] as const) {
          if (o[key] === undefined) cmd.error(`error: required option '--${key}' not specified`);
        }
        const { sendCommand } = await import("../commands/send.js");
        process.exitCode = await sendCommand(o);
      })
  );
}
