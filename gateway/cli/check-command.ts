// `iggy-edge check`: validates config files without starting anything.
import { Command } from "commander";
import { configOption } from "./config-option.js";

export function checkCommand(): Command {
  return new Command("check")
    .description("validate config files without starting the gateway; exit 0 if all are valid, 1 otherwise")
    .addOption(configOption())
    .argument("[files...]", "more config files to check")
    .option("--print", "print the effective config (defaults filled in, secrets redacted)")
    .addHelpText(
      "after",
      "\nEach problem is printed as FILE:LINE:COL: message, the form editors and CI logs link to.\n" +
        "Secrets referenced as ${env:NAME} or ${file:PATH} must resolve, so run it with the service's environment.",
    )
    .action(async (files: string[], opts: { config: string; print?: boolean }, cmd: Command) => {
      const [{ ConfigError, formatIssue, loadConfig }, { redactedYaml, summary }] = await Promise.all([
        import("../config.js"),
        import("./check-report.js"),
      ]);
      const explicit = cmd.getOptionValueSource("config") !== "default";
      const targets = files.length && !explicit ? files : [opts.config, ...files];
      let failed = false;
      for (const file of targets) {
        try {
          const loaded = loadConfig(file);
          console.log(`${file}: OK (${summary(loaded)})`);
          if (opts.print) process.stdout.write(redactedYaml(loaded));
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          failed = true;
          for (const issue of e.issues) console.log(formatIssue(issue));
        }
      }
      process.exitCode = failed ? 1 : 0;
    });
}
