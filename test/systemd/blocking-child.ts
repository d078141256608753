// A process that pings systemd's watchdog the way the gateway does (SystemdNotifier's timer on the
// event loop) until SIGUSR1 blocks its event loop: it then reads the FIFO named in BLOCK_FIFO
// synchronously, which holds the main thread until the test writes to it.
import { readFileSync } from "node:fs";
import { SystemdNotifier } from "../../gateway/systemd/notify.js";

const notifier = SystemdNotifier.fromEnv();
if (!notifier) throw new Error("NOTIFY_SOCKET is not set");
notifier.startWatchdog();
notifier.ready("pinging");

process.on("SIGUSR1", () => {
  notifier.status("blocking");
  readFileSync(process.env.BLOCK_FIFO!);
  notifier.status("unblocked");
});
process.on("SIGTERM", () => {
  notifier.close();
  process.exit(0);
});
