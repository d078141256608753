// `iggy-edge command --device D --point P --value V [--wait]`: puts a command on the gateway's
// partition of the commands topic (XXH32 of the gateway id, as the gateway reads it) and, with --wait,
// reads the gateway's partition of the results topic until the command's result comes. Works from any
// machine that reaches Iggy: with --gateway and --iggy it needs no config file.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { gatewayPartition } from "../envelope.js";
import { IggyClient, type Credentials, type IggyClientOptions } from "../iggy/index.js";
import type { WireVersion } from "../iggy/wire/registry.js";
import { sleep } from "../../protocols/sleep.js";
import type { WriteValue } from "../../protocols/adapter.js";
import { commandMessage, decodeResult, parseTime, type Command, type CommandCodec } from "./message.js";

export interface SendCommandOptions {
  config: string;
  device: string;
  point: string;
  value: string;
  wait?: boolean;
  timeout: number;
  gateway?: string;
  iggy?: string;
  username?: string;
  password?: string;
  token?: string;
  stream?: string;
  id?: string;
  expiresAt?: string;
  codec: CommandCodec;
  json?: boolean;
}

interface Target {
  gateway: string;
  client: IggyClientOptions;
  stream: string;
  commands: string;
  results: string;
}

/** `--value`: JSON when it parses as a number, true/false or a quoted text; any other text as is. */
export function parseValue(text: string): WriteValue {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "number" || typeof v === "boolean" || typeof v === "string") return v;
  } catch {
    // not JSON: the text itself
  }
  return text;
}

async function target(o: SendCommandOptions): Promise<Target> {
  let fromConfig: Partial<Target> & {
    credentials?: Credentials;
    protocol?: WireVersion | "auto";
    tls?: IggyClientOptions["tls"];
  } = {};
  if (o.gateway === undefined || existsSync(o.config)) {
    const { loadConfig, iggyCredentials } = await import("../config.js");
    const { config } = loadConfig(o.config);
    const { isDefault: _d, ...credentials } = iggyCredentials(config);
    fromConfig = {
      gateway: config.gateway.id,
      stream: config.iggy.stream,
      commands: config.iggy.topics.commands,
      results: config.iggy.topics.results,
      credentials,
      protocol: config.iggy.protocol,
      ...(config.iggy.tls
        ? {
            tls: {
              ...(config.iggy.tls.ca ? { ca: config.iggy.tls.ca } : {}),
              ...(config.iggy.tls.server_name ? { serverName: config.iggy.tls.server_name } : {}),
            },
          }
        : {}),
      client: { address: config.iggy.address, credentials },
    };
  }
  const credentials: Credentials =
    o.token !== undefined
      ? { token: o.token }
      : o.username !== undefined || o.password !== undefined
        ? {
            username:
              o.username ??
              (fromConfig.credentials && "username" in fromConfig.credentials
                ? fromConfig.credentials.username
                : "iggy"),
            password: o.password ?? "",
          }
        : (fromConfig.credentials ?? { username: "iggy", password: "iggy" });
  return {
    gateway: o.gateway ?? fromConfig.gateway!,
    stream: o.stream ?? fromConfig.stream ?? "iot",
    commands: fromConfig.commands ?? "commands",
    results: fromConfig.results ?? "command-results",
    client: {
      address: o.iggy ?? fromConfig.client?.address ?? "127.0.0.1:8090",
      credentials,
      protocol: fromConfig.protocol ?? "auto",
      ...(fromConfig.tls ? { tls: fromConfig.tls } : {}),
      requestTimeoutMs: 10_000,
    },
  };
}

/** Sends the command; with --wait, prints its result. Returns the exit status. */
export async function sendCommand(o: SendCommandOptions): Promise<number> {
  const fail = (message: string, code = 1): number => {
    console.error(`iggy-edge command: ${message}`);
    return code;
  };
  let t: Target;
  try {
    t = await target(o);
  } catch (e) {
    return fail((e as Error).message);
  }
  const command: Command = {
    id: o.id ?? randomUUID(),
    device: o.device,
    point: o.point,
    value: parseValue(o.value),
  };
  if (o.expiresAt !== undefined) {
    const at = parseTime(/^\d+$/.test(o.expiresAt) ? Number(o.expiresAt) : o.expiresAt);
    if (at === null)
      return fail(`--expires-at: expected an ISO 8601 time or ms since the epoch, got ${o.expiresAt}`);
    command.expiresAt = at;
  }
  const client = new IggyClient(t.client);
  try {
    const topic = await client.getTopic(t.stream, t.commands);
    if (topic === null) {
      return fail(
        `topic ${t.stream}/${t.commands} does not exist on ${t.client.address} (does gateway ${t.gateway} run with iggy.create_missing?)`,
      );
    }
    const partition = gatewayPartition(t.gateway, topic.partitionsCount);
    let from = 0n;
    let resultsPartition = 0;
    if (o.wait) {
      const results = await client.getTopic(t.stream, t.results);
      if (results === null)
        return fail(`topic ${t.stream}/${t.results} does not exist on ${t.client.address}`);
      resultsPartition = gatewayPartition(t.gateway, results.partitionsCount);
      const last = await client.pollTail(t.stream, t.results, resultsPartition, 1);
      from = last.length === 0 ? 0n : last[last.length - 1]!.offset + 1n;
    }
    const outcome = await client.send(t.stream, t.commands, [commandMessage(command, o.codec)], {
      partitioning: { kind: "partition", id: partition },
    });
    if (outcome.status !== "confirmed")
      return fail(`Iggy did not take the command: ${outcome.error.message}`);
    if (!o.wait) {
      console.log(
        o.json
          ? JSON.stringify({ id: command.id, sent: true, partition })
          : `sent command ${command.id} to ${t.gateway} (${o.device}/${o.point})`,
      );
      return 0;
    }
    const deadline = Date.now() + o.timeout;
    while (Date.now() < deadline) {
      const batch = await client.poll(t.stream, t.results, {
        partition: resultsPartition,
        strategy: { kind: "offset", value: from },
        count: 100,
      });
      for (const m of batch.messages) {
        if (m.offset < from) continue;
        from = m.offset + 1n;
        const r = decodeResult(m);
        if (r === null || r.id !== command.id) continue;
        if (o.json) console.log(JSON.stringify({ ...r, at: new Date(r.at).toISOString() }));
        else console.log(`${r.id} ${r.status}${r.error === undefined ? "" : `: ${r.error}`}`);
        return r.status === "ok" ? 0 : 1;
      }
      if (batch.messages.length === 0) await sleep(Math.min(100, Math.max(0, deadline - Date.now())));
    }
    return fail(
      `no result for command ${command.id} within ${o.timeout} ms: is gateway ${t.gateway} running and reading ${t.stream}/${t.commands} (partition ${partition})?`,
      2,
    );
  } catch (e) {
    return fail((e as Error).message);
  } finally {
    await client.close();
  }
}
