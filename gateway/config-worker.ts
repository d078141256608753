// The config thread's body (config-thread.ts): loads the file named in workerData, posts back the
// validated config and its secrets, or the config's issues, and ends. An unexpected error is thrown:
// the thread's `error` event carries it to the gateway.
import { parentPort, workerData } from "node:worker_threads";
import { ConfigError, loadConfig } from "./config.js";
import type { ConfigReply } from "./config-thread.js";

const { file } = workerData as { file: string };
let reply: ConfigReply;
try {
  reply = { loaded: loadConfig(file) };
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  reply = { issues: e.issues };
}
parentPort!.postMessage(reply);
