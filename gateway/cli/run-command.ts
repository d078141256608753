// `iggy-edge run`: the gateway. SIGTERM/SIGINT stop it cleanly; SIGHUP reloads the device map.
import { Command } from "commander";
import { ConfigError, formatIssue } from "../../config/error.js";
import type { LoadedConfig } from "../config.js";
import { loadConfigInThread } from "../config-thread.js";
import { configOption } from "./config-option.js";

/**
 * Exit status after the gateway stopped because it could not go on (its buffer's worker died, or
 * the forwarder gave up): EX_SOFTWARE, distinct from 1 (a config or start failure), so that
 * `systemctl status` tells them apart; any non-zero status makes systemd restart the service.
 */
export const EXIT_FATAL = 70;

/**
 * Exit status when the buffer is a file this version cannot use (written by a newer version, or
 * not a buffer at all): EX_DATAERR. Restarting cannot help, so the unit does not restart on it
 * (RestartPreventExitStatus=).
 */
export const EXIT_BUFFER_FORMAT = 65;

export function runCommand(): Command {
  return new Command("run")
    .description("run the gateway: SIGTERM/SIGINT stop it cleanly, SIGHUP reloads the device map")
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      // The config is loaded in a passing thread (the main thread never loads yaml, zod or a
      // schema) while the gateway's code is imported here; that is imported when it runs, not when
      // the CLI starts (see main.ts).
      const loading = loadConfigInThread(opts.config);
      loading.catch(() => {});
      const [{ createLogger, registerSecrets }, { GatewayRuntime }, { SystemdService }] = await Promise.all([
        import("../log.js"),
        import("../runtime.js"),
        import("../systemd/service.js"),
      ]);
      let loaded: LoadedConfig;
      try {
        loaded = await loading;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
        console.error(e.message);
        process.exitCode = 1;
        return;
      }
      registerSecrets(loaded.secrets);
      const log = createLogger();
      let stopping = false;
      const stop = async (signal: string, exitCode = 0) => {
        if (stopping) return;
        stopping = true;
        systemd?.stopping(signal);
        if (exitCode === 0) log.info({ signal }, "stop requested");
        else log.error({ reason: signal, exit_code: exitCode }, "stopping after a fatal failure");
        const force = setTimeout(() => {
          log.error("clean stop took longer than 30 s; exiting");
          process.exit(1);
        }, 30_000);
        force.unref();
        await runtime.stop().catch((e: unknown) => log.error({ err: e }, "error while stopping"));
        systemd?.close();
        process.exit(exitCode);
      };
      const runtime = new GatewayRuntime(loaded, log, { onFatal: (reason) => void stop(reason, EXIT_FATAL) });
      const systemd = SystemdService.start(() => runtime.board.snapshot(), log);
      process.on("SIGTERM", () => void stop("SIGTERM"));
      process.on("SIGINT", () => void stop("SIGINT"));
      // One reload at a time, in the order the signals came: each reads the file as it is then.
      let reloads = Promise.resolve();
      const reload = async () => {
        let next: LoadedConfig;
        try {
          next = await loadConfigInThread(opts.config);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
          log.error({ issues: e.issues.map(formatIssue) }, "config invalid: keeping the running device map");
          return;
        }
        registerSecrets(next.secrets);
        systemd?.reloading();
        await runtime
          .reload(next)
          .catch((e: unknown) => log.error({ err: e }, "reload failed"))
          .finally(() => systemd?.ready());
      };
      process.on("SIGHUP", () => {
        reloads = reloads.then(reload).catch((e: unknown) => log.error({ err: e }, "reload failed"));
      });
      try {
        await runtime.start();
      } catch (e) {
        log.fatal({ err: e }, `cannot start: ${(e as Error).message}`);
        systemd?.stopping(`cannot start: ${(e as Error).message}`);
        await runtime.stop().catch(() => undefined);
        systemd?.close();
        process.exit((e as { code?: unknown }).code === "BUFFER_FORMAT" ? EXIT_BUFFER_FORMAT : 1);
      }
      if (!stopping) systemd?.ready();
    });
}
