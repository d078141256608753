// One TCP (or TLS) connection speaking one wire generation, one request at a time.
import { connect as netConnect, type Socket } from "node:net";
import {
  IggyConnectionError,
  IggyError,
  IggyProtocolError,
  IggyServerError,
  IggyTimeoutError,
} from "./errors.js";
import type { Op, RequestOf, Results, WireSession } from "./wire/generation.js";

export interface Endpoint {
  host: string;
  port: number;
  /** TLS around the same framing; `ca` holds PEM bytes, `serverName` the name the certificate must carry. */
  tls?: { ca?: Buffer; serverName?: string };
}

interface Pending {
  request: RequestOf<Op>;
  resolve(value: unknown): void;
  reject(error: IggyError): void;
  timeoutMs: number;
  /** Resends so far on the generation's say (0.10 status 57). */
  attempts: number;
}

function written<E extends IggyError>(e: E, flag: boolean): E {
  e.requestWritten = flag;
  return e;
}

export class Connection {
  private pending: Pending | null = null;
  /**
   * The time limit of the request in flight: one timer, moved on (`refresh`) by each request with
   * the same limit rather than made anew, and left to run out unreferenced between requests (it
   * then finds nothing in flight). It holds the process open only while a request waits.
   */
  private timer: NodeJS.Timeout | null = null;
  private timerMs = 0;
  private closedError: IggyError | null = null;
  private readonly closeListeners: ((e: IggyError) => void)[] = [];

  private constructor(
    private readonly socket: Socket,
    private readonly session: WireSession,
    readonly endpoint: Endpoint,
  ) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (e) => this.fail(new IggyConnectionError(`connection error: ${e.message}`)));
    socket.on("end", () => this.onClose());
    socket.on("close", () => this.onClose());
  }

  static async open(endpoint: Endpoint, session: WireSession, timeoutMs: number): Promise<Connection> {
    const socket = await openSocket(endpoint, timeoutMs);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    return new Connection(socket, session, endpoint);
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  onClosed(listener: (e: IggyError) => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * Sends one request and waits for its reply. Failures carry `requestWritten`: false when no byte
   * of the request left this process, true once it was handed to the socket.
   */
  request<K extends Op>(request: RequestOf<K>, timeoutMs: number): Promise<Results[K]> {
    if (this.closedError) {
      return Promise.reject(
        written(new IggyConnectionError(`not connected: ${this.closedError.message}`), false),
      );
    }
    if (this.pending) {
      return Promise.reject(
        written(new IggyProtocolError("a request is already in flight on this connection"), false),
      );
    }
    let frames: Buffer[];
    try {
      frames = this.session.encode(request);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<Results[K]>((resolve, reject) => {
      this.pending = { request, resolve: resolve as (v: unknown) => void, reject, timeoutMs, attempts: 0 };
      this.startTimer(timeoutMs);
      this.write(frames);
    });
  }

  private write(frames: Buffer[]): void {
    if (frames.length === 1) {
      this.socket.write(frames[0]!);
      return;
    }
    this.socket.cork();
    for (const f of frames) this.socket.write(f);
    this.socket.uncork();
  }

  private startTimer(ms: number): void {
    if (this.timer !== null && this.timerMs === ms) this.timer.refresh().ref();
    else {
      if (this.timer !== null) clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, ms);
      this.timerMs = ms;
    }
  }

  /** The request in flight is answered (or failed): its time limit no longer holds the process. */
  private stopTimer(): void {
    this.timer?.unref();
  }

  private readonly onTimeout = (): void => {
    const p = this.pending;
    if (p) this.fail(new IggyTimeoutError(`no reply to ${p.request.op} within ${p.timeoutMs} ms`));
  };

  /** Whether the generation says this connection is unusable after `request` failed with `code`. */
  mustCloseAfter(request: RequestOf<Op>, code: number): boolean {
    return this.session.mustCloseAfter(request, code);
  }

  close(): void {
    this.fail(new IggyConnectionError("connection closed by the client"));
  }

  private onData(chunk: Buffer): void {
    if (this.closedError) return;
    let replies;
    try {
      replies = this.session.push(chunk);
    } catch (e) {
      this.fail(e instanceof IggyError ? e : new IggyProtocolError(String(e)));
      return;
    }
    for (const reply of replies) {
      const p = this.pending;
      if (!p) {
        this.fail(new IggyProtocolError("the server sent a reply nobody asked for"));
        return;
      }
      this.pending = null;
      try {
        const value = this.session.decode(p.request, reply);
        this.stopTimer();
        p.resolve(value);
      } catch (e) {
        if (e instanceof IggyServerError && this.resend(p, e)) continue;
        this.stopTimer();
        const err = e instanceof IggyError ? e : new IggyProtocolError(String(e));
        p.reject(written(err, true));
        if (err instanceof IggyProtocolError) this.fail(err);
      }
    }
  }

  /** Writes the request again when the generation says so; the request's time limit still runs. */
  private resend(p: Pending, error: IggyServerError): boolean {
    let again;
    try {
      again = this.session.retry?.(p.request, error, p.attempts + 1) ?? null;
    } catch {
      again = null;
    }
    if (!again) return false;
    p.attempts++;
    this.pending = p;
    const frames = again.frames;
    setTimeout(() => {
      if (this.pending !== p || this.closedError) return;
      this.write(frames);
    }, again.delayMs);
    return true;
  }

  private onClose(): void {
    const { have, expecting } = this.session.pendingReply();
    this.fail(
      have > 0
        ? new IggyProtocolError(
            `connection closed in the middle of a reply (${have} of ${expecting ?? "?"} bytes arrived)`,
          )
        : new IggyConnectionError("connection closed by the server"),
    );
  }

  /** Ends the connection for good and fails the request in flight with `error`. */
  private fail(error: IggyError): void {
    if (this.closedError) return;
    this.closedError = error;
    const p = this.pending;
    this.pending = null;
    if (this.timer !== null) clearTimeout(this.timer);
    if (p) p.reject(written(error, true));
    this.socket.destroy();
    for (const l of this.closeListeners) l(error);
  }
}

/** A TCP or TLS socket to the endpoint, connected (and handshaken) within `timeoutMs`. */
export async function openSocket(endpoint: Endpoint, timeoutMs: number): Promise<Socket> {
  // node:tls (and OpenSSL's TLS code it brings in) is loaded only for an endpoint that uses it.
  const tls = endpoint.tls;
  const tlsConnect = tls ? (await import("node:tls")).connect : null;
  return new Promise((resolve, reject) => {
    const where = `${endpoint.host}:${endpoint.port}`;
    const socket =
      tls && tlsConnect
        ? tlsConnect({
            host: endpoint.host,
            port: endpoint.port,
            servername: tls.serverName ?? endpoint.host,
            ...(tls.ca ? { ca: tls.ca } : {}),
          })
        : netConnect({ host: endpoint.host, port: endpoint.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new IggyTimeoutError(`connecting to ${where} took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (e: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(new IggyConnectionError(`cannot connect to ${where}: ${e.message}`));
    };
    socket.once("error", onError);
    socket.once(endpoint.tls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(socket);
    });
  });
}
