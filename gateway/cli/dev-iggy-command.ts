// `iggy-edge dev-iggy`: runs the Iggy-compatible dev server until SIGINT/SIGTERM.
import { readFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import type { Logger } from "pino";
import type { DevIggyServer } from "../iggy/dev-server/server.js";

function integer(min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected an integer in ${min}..${max}`);
    return n;
  };
}

interface DevIggyOptions {
  host: string;
  port: number;
  dataDir?: string;
  fsync: boolean;
  dedup: boolean;
  dedupMaxEntries: number;
  dedupExpiryMs: number;
  username: string;
  password: string;
  token: string[];
  tlsCert?: string;
  tlsKey?: string;
  maxRequestBytes: number;
  protocol: string;
}

/**
 * Builds the `dev-iggy` command. `onListening` gets the running server (tests and scripts use it);
 * the command resolves when the server has stopped after SIGINT, SIGTERM or `signal`.
 */
export function devIggyCommand(
  deps: { logger?: Logger; onListening?: (server: DevIggyServer) => void; signal?: AbortSignal } = {},
): Command {
  return new Command("dev-iggy")
    .description(
      "run an Iggy-compatible server (Iggy 0.8, 0.9 and 0.10 TCP protocols on one port) for demos and tests",
    )
    .addOption(
      new Option(
        "--protocol <generation>",
        "wire generations served: all (told apart per connection), or one",
      )
        .choices(["auto", "0.8", "0.9", "0.10"])
        .default("auto"),
    )
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "TCP port (0 = any free port)", integer(0, 65535), 8090)
    .option("--data-dir <dir>", "keep streams, messages and offsets in this directory (default: memory only)")
    .option("--fsync", "fsync every appended batch (with --data-dir)", false)
    .addOption(
      new Option("--dedup", "drop messages whose id was seen recently in the partition").default(false),
    )
    .addOption(new Option("--no-dedup", "keep every message (the default, as in Iggy)"))
    .option(
      "--dedup-max-entries <n>",
      "ids remembered per partition (0 = unbounded)",
      integer(0, 2 ** 31),
      10_000,
    )
    .option(
      "--dedup-expiry-ms <ms>",
      "how long an id is remembered (0 = forever)",
      integer(0, 2 ** 31),
      60_000,
    )
    .option("--username <name>", "root user name", "iggy")
    .option(
      "--password <secret>",
      "root user password (or IGGY_DEV_PASSWORD)",
      process.env.IGGY_DEV_PASSWORD ?? "iggy",
    )
    .option(
      "--token <pat>",
      "a personal access token for the root user (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option("--tls-cert <file>", "serve TLS with this PEM certificate (needs --tls-key)")
    .option("--tls-key <file>", "PEM private key for --tls-cert")
    .option(
      "--max-request-bytes <n>",
      "largest request frame accepted",
      integer(1024, 2 ** 31),
      256 * 1024 * 1024,
    )
    .action(async (o: DevIggyOptions) => {
      if (Boolean(o.tlsCert) !== Boolean(o.tlsKey))
        throw new InvalidArgumentError("--tls-cert and --tls-key go together");
      const { DevIggyServer } = await import("../iggy/dev-server/server.js");
      const server = await DevIggyServer.start({
        host: o.host,
        port: o.port,
        ...(o.dataDir ? { dataDir: o.dataDir } : {}),
        fsync: o.fsync,
        dedup: { enabled: o.dedup, maxEntries: o.dedupMaxEntries, expiryMs: o.dedupExpiryMs },
        username: o.username,
        password: o.password,
        tokens: o.token,
        ...(o.tlsCert && o.tlsKey
          ? { tls: { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) } }
          : {}),
        maxRequestBytes: o.maxRequestBytes,
        protocol: o.protocol,
        ...(deps.logger ? { logger: deps.logger } : {}),
      });
      const { host, port } = server.address;
      deps.logger?.info(
        { host, port, dataDir: o.dataDir ?? null, dedup: o.dedup, protocol: o.protocol },
        "dev-iggy listening",
      );
      process.stdout.write(`dev-iggy listening on ${host}:${port}\n`);
      deps.onListening?.(server);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          deps.signal?.removeEventListener("abort", stop);
          void server.close().then(resolve);
        };
        process.on("SIGINT", stop);
        process.on("SIGTERM", stop);
        deps.signal?.addEventListener("abort", stop);
      });
    });
}
