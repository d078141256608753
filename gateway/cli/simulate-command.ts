// `iggy-edge simulate`: a simulator for every device of the config, where the device map says it is.
import { Command } from "commander";
import type { Simulator } from "../../protocols/adapter.js";
import { configOption } from "./config-option.js";

export function simulateCommand(): Command {
  return new Command("simulate")
    .description(
      "run a simulator for each device in the config, listening where the device map says the device is",
    )
    .addOption(configOption())
    .option("--device <id...>", "only these devices")
    .action(async (opts: { config: string; device?: string[] }) => {
      const [{ ConfigError, loadConfig }, registry, { createLogger, registerSecrets }] = await Promise.all([
        import("../config.js"),
        import("../../protocols/registry.js"),
        import("../log.js"),
      ]);
      const { devicesByProtocol, loadSimulator, protocolContext, ProtocolNotAvailableError } = registry;
      let loaded;
      try {
        loaded = loadConfig(opts.config);
      } catch (e) {
        if (e instanceof ConfigError) {
          console.error(e.message);
          process.exitCode = 1;
          return;
        }
        throw e;
      }
      registerSecrets(loaded.secrets);
      const log = createLogger().child({ component: "simulate" });
      const chosen = loaded.config.devices.filter((d) => !opts.device || opts.device.includes(d.id));
      const running: Simulator[] = [];
      const missing: string[] = [];
      for (const [protocol, devices] of devicesByProtocol(chosen)) {
        try {
          const mod = await loadSimulator(protocol);
          const sim = mod.createSimulator(devices, protocolContext(loaded.config, protocol), {
            log: log.child({ protocol }),
            reject: () => {},
          });
          await sim.start();
          running.push(sim);
          log.info({ protocol, devices: devices.map((d) => d.id) }, "simulating");
        } catch (e) {
          if (!(e instanceof ProtocolNotAvailableError)) throw e;
          missing.push(protocol);
          log.warn({ protocol, devices: devices.map((d) => d.id) }, `not simulated: ${e.message}`);
        }
      }
      if (running.length === 0) {
        console.error(
          `iggy-edge simulate: not built yet: no simulator for ${missing.join(", ") || "any device"} in this version.`,
        );
        process.exitCode = 2;
        return;
      }
      const stop = async () => {
        log.info("stopping simulators");
        await Promise.allSettled(running.map((s) => s.stop()));
        process.exit(0);
      };
      process.once("SIGINT", () => void stop());
      process.once("SIGTERM", () => void stop());
    });
}
