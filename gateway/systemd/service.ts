// The gateway as a systemd service: the watchdog pinged from the event loop from the first moment,
// READY once the runtime started (config loaded, buffer open, HTTP and every protocol listener
// bound), a STATUS= line that `systemctl status` shows and that follows the gateway, RELOADING on
// SIGHUP and STOPPING when it stops. Without $NOTIFY_SOCKET (a terminal, a test) all of it is a no-op.
import type { Logger } from "pino";
import { byteSize, count, duration } from "../status-page.js";
import type { Status } from "../status.js";
import { SystemdNotifier } from "./notify.js";

/** How often the STATUS= line is refreshed (sent only when its text changed). */
export const STATUS_REFRESH_MS = 5000;

/** One line for a person: "2/3 devices up; buffer 1,204 readings (96 KiB), oldest 4 s; Iggy connected". */
export function statusLine(s: Status): string {
  const known = s.devices.filter((d) => d.up !== null);
  const up = known.filter((d) => d.up).length;
  const parts = [`${up}/${s.devices.length} devices up`];
  const b = s.buffer;
  if (!b) parts.push("buffer not open");
  else if (b.state === "failed") parts.push(`buffer FAILED: ${String(b.error)}`);
  else if (typeof b.readings === "number") {
    const bytes = typeof b.bytes === "number" ? ` (${byteSize(b.bytes)})` : "";
    const oldest = typeof b.oldestAgeMs === "number" ? `, oldest ${duration(b.oldestAgeMs)}` : "";
    parts.push(`buffer ${count(b.readings)} readings${bytes}${oldest}`);
  }
  const i = s.iggy;
  if (i) {
    const link = i.connected ? "Iggy connected" : "Iggy DISCONNECTED";
    const err = !i.connected && typeof i.last_error === "string" ? ` (${i.last_error})` : "";
    parts.push(`${link}${err}`);
  }
  if (!s.ready && s.not_ready.length > 0) parts.push(`not ready: ${s.not_ready.join("; ")}`);
  return parts.join("; ");
}

export class SystemdService {
  private statusTimer: NodeJS.Timeout | null = null;
  private lastStatus = "";

  private constructor(
    private readonly notifier: SystemdNotifier,
    private readonly snapshot: () => Status,
  ) {}

  /** Starts pinging the watchdog at once; null when not run by systemd as Type=notify. */
  static start(
    snapshot: () => Status,
    log: Logger,
    env: NodeJS.ProcessEnv = process.env,
  ): SystemdService | null {
    const notifier = SystemdNotifier.fromEnv(env, log.child({ component: "systemd" }));
    if (!notifier) return null;
    notifier.startWatchdog();
    notifier.status("starting");
    return new SystemdService(notifier, snapshot);
  }

  ready(): void {
    this.lastStatus = statusLine(this.snapshot());
    this.notifier.ready(this.lastStatus);
    if (this.statusTimer) return;
    this.statusTimer = setInterval(() => this.refresh(), STATUS_REFRESH_MS);
    this.statusTimer.unref();
  }

  reloading(): void {
    this.notifier.reloading("reloading the device map");
  }

  /** The watchdog keeps being pinged while stopping: a clean stop may wait for Iggy's answer. */
  stopping(reason: string): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.notifier.stopping(`stopping: ${reason}`);
  }

  close(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.statusTimer = null;
    this.notifier.close();
  }

  private refresh(): void {
    const line = statusLine(this.snapshot());
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.notifier.status(line);
  }
}
