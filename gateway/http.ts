// The HTTP endpoint: /healthz, /readyz, /metrics, /api/status and the status page at /.
// It binds where http.listen says (127.0.0.1 by default) and only answers GET and HEAD.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { GatewayMetrics } from "./metrics.js";
import type { StatusBoard } from "./status.js";
import { statusPage } from "./status-page.js";

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  return { host: listen.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(listen.slice(i + 1)) };
}

export class HttpEndpoint {
  private server: Server | null = null;
  /** host:port the endpoint is bound to, once started. */
  address: string | null = null;

  constructor(
    private readonly listen: string,
    private readonly board: StatusBoard,
    private readonly metrics: GatewayMetrics,
    private readonly log: Logger,
  ) {}

  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => {
      void this.handle(req.method ?? "GET", (req.url ?? "/").split("?")[0]!)
        .then(({ status, type, body }) => {
          res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
          res.end(req.method === "HEAD" ? undefined : body);
        })
        .catch((e: unknown) => {
          this.log.error({ err: e }, "HTTP handler failed");
          res.writeHead(500, { "content-type": "text/plain" });
          res.end("internal error\n");
        });
    });
    const { host, port } = splitHostPort(this.listen);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.address = `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`;
    this.log.info({ listen: this.address }, "HTTP endpoint listening");
    return address;
  }

  private async handle(
    method: string,
    path: string,
  ): Promise<{ status: number; type: string; body: string }> {
    if (method !== "GET" && method !== "HEAD") return { status: 405, type: "text/plain", body: "only GET\n" };
    switch (path) {
      case "/healthz":
        return { status: 200, type: "text/plain", body: "ok\n" };
      case "/readyz": {
        const { ready, reasons } = this.board.readiness();
        return ready
          ? { status: 200, type: "text/plain", body: "ready\n" }
          : { status: 503, type: "text/plain", body: `not ready: ${reasons.join("; ")}\n` };
      }
      case "/metrics":
        return { status: 200, type: this.metrics.registry.contentType, body: await this.metrics.text() };
      case "/api/status":
        return {
          status: 200,
          type: "application/json",
          body: JSON.stringify(this.board.snapshot(), null, 2) + "\n",
        };
      case "/":
        return { status: 200, type: "text/html; charset=utf-8", body: statusPage(this.board.snapshot()) };
      default:
        return { status: 404, type: "text/plain", body: "not found\n" };
    }
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
