// `iggy-edge tail`: reads the gateway's messages from Iggy and prints one decoded reading a line
// (the work is in tail.ts, imported when the command runs).
import { Command, InvalidArgumentError, Option } from "commander";
import type { TailOptions } from "./tail.js";

function positive(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

export function tailCommand(): Command {
  return new Command("tail")
    .description("decode the gateway's batches from Iggy, one reading a line")
    .requiredOption("--stream <name>", "Iggy stream")
    .requiredOption("--topic <name>", "Iggy topic")
    .option("--iggy <host:port>", "Iggy server", "127.0.0.1:8090")
    .addOption(new Option("--username <name>", "Iggy user").env("IGGY_USERNAME").default("iggy"))
    .addOption(new Option("--password <secret>", "Iggy password").env("IGGY_PASSWORD").default("iggy"))
    .addOption(
      new Option("--token <pat>", "personal access token instead of user/password").env("IGGY_TOKEN"),
    )
    .option("--count <n>", "stop after N readings", positive)
    .addOption(
      new Option("--from <where>", "the first message, or only new ones")
        .choices(["first", "next"])
        .default("next"),
    )
    .option("--json", "JSON lines instead of a table")
    .option("--poll-ms <ms>", "pause between polls when there is nothing new", positive, 200)
    .action(async (o: TailOptions) => {
      const { tail } = await import("./tail.js");
      await tail(o);
    });
}
