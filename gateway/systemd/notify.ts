// The sd_notify protocol: newline-separated KEY=VALUE lines in one datagram to the AF_UNIX socket
// that systemd names in $NOTIFY_SOCKET. Node has no AF_UNIX datagram socket of its own, so the
// datagrams go through `unix-dgram` (a small native addon), loaded only when systemd asks for
// notifications. The process itself sends, so the unit needs no NotifyAccess=all.
import { createRequire } from "node:module";
import type { Logger } from "pino";

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, callback: (err?: Error) => void): void;
  close(): void;
  on(event: "error", listener: (err: Error) => void): void;
}

interface UnixDgram {
  createSocket(type: "unix_dgram"): DgramSocket;
}

/** What the environment that systemd gave the process says about notifications and the watchdog. */
export interface NotifyEnv {
  socketPath: string;
  /** Half of WATCHDOG_USEC (as sd_watchdog_enabled advises), or null without a watchdog for this process. */
  watchdogPingMs: number | null;
}

export function notifyEnv(env: NodeJS.ProcessEnv = process.env, pid = process.pid): NotifyEnv | null {
  const socketPath = env.NOTIFY_SOCKET;
  if (!socketPath) return null;
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === pid;
  const watchdogPingMs =
    Number.isFinite(usec) && usec > 0 && forUs ? Math.max(1, Math.floor(usec / 2000)) : null;
  return { socketPath, watchdogPingMs };
}

/** Keys systemd reads; values must stay on one line. */
export type NotifyFields = Partial<
  Record<"READY" | "RELOADING" | "STOPPING" | "WATCHDOG" | "STATUS" | "MAINPID" | "ERRNO", string>
>;

export function formatMessage(fields: NotifyFields): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v).replace(/[\r\n]+/g, " ")}`)
    .join("\n");
}

export class SystemdNotifier {
  private socket: DgramSocket | null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private readonly warned = new Set<string>();
  /** Datagrams handed to the socket without an error (for tests and the log). */
  sent = 0;

  private constructor(
    readonly env: NotifyEnv,
    socket: DgramSocket,
    private readonly log?: Logger,
  ) {
    this.socket = socket;
    socket.on("error", (e) => this.warnOnce("error", e));
  }

  /**
   * A notifier when systemd asked for notifications ($NOTIFY_SOCKET set), else null. An abstract
   * socket address ("@...") is not reachable through unix-dgram: then the service would not start
   * as Type=notify, so this is said loudly and null returned.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env, log?: Logger): SystemdNotifier | null {
    const parsed = notifyEnv(env);
    if (!parsed) return null;
    if (parsed.socketPath.startsWith("@")) {
      log?.error(
        { notify_socket: parsed.socketPath },
        "systemd: NOTIFY_SOCKET is an abstract socket address, which this gateway cannot send to; READY and watchdog pings are not sent",
      );
      return null;
    }
    const require = createRequire(import.meta.url);
    const dgram = require("unix-dgram") as UnixDgram;
    return new SystemdNotifier(parsed, dgram.createSocket("unix_dgram"), log);
  }

  notify(fields: NotifyFields): void {
    const socket = this.socket;
    if (!socket) return;
    const buf = Buffer.from(formatMessage(fields));
    socket.send(buf, 0, buf.length, this.env.socketPath, (err) => {
      if (err) this.warnOnce(err.message === "congestion" ? "congestion" : "send", err);
      else this.sent++;
    });
  }

  ready(status?: string): void {
    this.notify({ READY: "1", STATUS: status, MAINPID: String(process.pid) });
  }

  reloading(status?: string): void {
    this.notify({ RELOADING: "1", STATUS: status });
  }

  stopping(status?: string): void {
    this.notify({ STOPPING: "1", STATUS: status });
  }

  status(text: string): void {
    this.notify({ STATUS: text });
  }

  /**
   * Pings the watchdog from a timer on the event loop, so a loop that is blocked (a synchronous
   * loop that never ends, a deadlock in a native call on the main thread) stops the pings and
   * systemd restarts the process. No-op when systemd set no watchdog for this process.
   */
  startWatchdog(): void {
    const every = this.env.watchdogPingMs;
    if (every === null || this.watchdogTimer) return;
    this.notify({ WATCHDOG: "1" });
    this.watchdogTimer = setInterval(() => this.notify({ WATCHDOG: "1" }), every);
    this.watchdogTimer.unref();
  }

  close(): void {
    if (this.watchdogTimer) clearInterval(this.watchdogTimer);
    this.watchdogTimer = null;
    const socket = this.socket;
    this.socket = null;
    socket?.close();
  }

  // One warning per kind: a notify socket that went away must not flood the journal every ping.
  private warnOnce(kind: string, err: Error): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.log?.warn({ err, notify_socket: this.env.socketPath }, `systemd: cannot notify (${kind})`);
  }
}
