// Loading the config in a thread of its own that ends once it has answered: parsing and validating
// the file takes yaml, zod and every protocol's schema (about 10 MiB of an idle gateway's RSS when
// loaded in the main thread), which the running gateway never needs again until a SIGHUP reload. The
// thread hands back plain data: the validated config and its secrets, or the issues, rebuilt here as
// the same ConfigError.
import { Worker } from "node:worker_threads";
import { ConfigError, type ConfigIssue } from "../config/error.js";
import type { LoadedConfig } from "./config.js";

export type ConfigReply = { loaded: LoadedConfig } | { issues: ConfigIssue[] };

/** What loadConfig(file) returns or throws, with the loading done in a passing thread. */
export function loadConfigInThread(file: string): Promise<LoadedConfig> {
  return new Promise((resolve, reject) => {
    // The thread sees this process's environment as it is now (`${env:...}` references).
    const worker = new Worker(new URL("./config-worker.js", import.meta.url), {
      workerData: { file },
      env: process.env,
    });
    let reply: ConfigReply | undefined;
    worker.once("message", (r: ConfigReply) => (reply = r));
    worker.once("error", reject);
    // Answered once the thread is gone, so that its memory is given back before the gateway goes on.
    worker.once("exit", (code) => {
      if (reply === undefined) reject(new Error(`the config thread ended (${code}) without an answer`));
      else if ("issues" in reply) reject(new ConfigError(reply.issues));
      else resolve(reply.loaded);
    });
  });
}
