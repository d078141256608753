// Shared by the CoAP tests: device configs through the real schema, an adapter on a free port, a
// real libcoap client, and requests with the coap package's own client.
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import type { TestContext } from "node:test";
import { Agent, type IncomingMessage } from "coap";
import { CoapAdapter } from "../../protocols/coap/adapter.js";
import { exchange } from "../../protocols/coap/exchange.js";
import {
  coapDevice as deviceSchema,
  coapSection,
  type CoapDeviceConfig,
  type CoapSectionConfig,
} from "../../protocols/coap/schema.js";
import type { Emit } from "../../protocols/adapter.js";
import { hasCommand, requirePeer } from "../helpers/peers.js";
import { recorder, type Recorder } from "../modbus/helpers.js";

export { recorder, type Recorder };

export function coapDevice(d: Record<string, unknown>): CoapDeviceConfig {
  const parsed = deviceSchema.parse({ protocol: "coap", ...d });
  if (parsed.protocol !== "coap") throw new Error("not coap");
  return parsed;
}

export function section(s: Record<string, unknown> = {}): CoapSectionConfig {
  return coapSection.parse(s);
}

export { freeUdpPort } from "../../protocols/free-port.js";

export interface Rig {
  adapter: CoapAdapter;
  port: number;
  rec: Recorder;
}

/** An adapter with the devices, its server on a free loopback port, closed at the test's end. */
export async function startAdapter(
  t: TestContext,
  devices: CoapDeviceConfig[],
  sectionConfig: CoapSectionConfig = section(),
  emit?: Emit,
): Promise<Rig> {
  const rec = recorder();
  const adapter = new CoapAdapter(
    devices,
    { gatewayId: "t", dataDir: "/tmp", section: sectionConfig },
    rec.deps,
    {
      listen: "127.0.0.1:0",
    },
  );
  t.after(() => adapter.stop());
  await adapter.start(emit ?? rec.emit);
  return { adapter, port: adapter.serverAddress()?.port ?? 0, rec };
}

/** True when libcoap's client is installed (else the test is skipped, or fails under CI=true). */
export function needLibcoap(t: TestContext, bin = "coap-client-notls"): boolean {
  return requirePeer(t, `libcoap's ${bin}`, hasCommand(bin, ["-h"]), "apt-get install libcoap3-bin");
}

export interface ClientResult {
  /** What it printed (libcoap prints an error answer's code and payload on stderr). */
  out: string;
}

/** Runs libcoap's coap-client (with a wait limit, so a lost answer ends it). */
export function coapClient(args: string[], bin = "coap-client-notls"): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    execFile(bin, ["-B", "20", ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && err.killed) reject(new Error(`${bin} ${args.join(" ")} did not finish: ${stderr}`));
      else resolve({ out: `${stdout}${stderr}` });
    });
  });
}

/** One request with the coap package's client; resolves with the answer. */
export async function coapRequest(
  agent: Agent,
  port: number,
  method: "GET" | "PUT" | "POST",
  path: string,
  payload?: Buffer | string,
  contentFormat?: number,
): Promise<IncomingMessage> {
  const x = exchange(
    agent,
    { host: "127.0.0.1", port },
    {
      method,
      path,
      ...(payload !== undefined ? { payload: Buffer.from(payload) } : {}),
      ...(contentFormat !== undefined ? { contentFormat } : {}),
      timeoutMs: 30_000,
    },
  );
  return x.answer;
}

/** A client agent on its own socket, closed at the test's end. */
export function clientAgent(t: TestContext): Agent {
  const agent = new Agent({ type: "udp4" });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        agent.once("close", () => resolve());
        agent.close();
      }),
  );
  return agent;
}

interface Answer {
  messageId: number;
  code: string;
}

/** RFC 7252 message types. */
const TYPES = ["CON", "NON", "ACK", "RST"] as const;

interface Datagram extends Answer {
  type: (typeof TYPES)[number];
}

/** A loopback socket that sends raw confirmable POSTs to `port` and keeps every answer's id and code. */
export async function rawClient(t: TestContext, port: number) {
  const sock = createSocket("udp4");
  t.after(() => new Promise<void>((r) => sock.close(() => r())));
  await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
  const answers: Answer[] = [];
  const datagrams: Datagram[] = [];
  sock.on("message", (m) => {
    // RFC 7252 header: version/type/token length, code (class.detail), message id.
    const answer = {
      messageId: m.readUInt16BE(2),
      code: `${m[1]! >> 5}.${String(m[1]! & 31).padStart(2, "0")}`,
    };
    answers.push(answer);
    datagrams.push({ ...answer, type: TYPES[(m[0]! >> 4) & 3]! });
  });
  const post = (messageId: number, value: number): Promise<void> =>
    new Promise((resolve, reject) => {
      // A confirmable POST (0.02), a 4-byte token, Uri-Path "v" (option 11, length 1), a payload.
      const datagram = Buffer.concat([
        Buffer.from([0x44, 0x02, messageId >> 8, messageId & 0xff, messageId >> 8, messageId & 0xff, 1, 2]),
        Buffer.from([0xb1, 0x76, 0xff]),
        Buffer.from(String(value)),
      ]);
      sock.send(datagram, port, "127.0.0.1", (e) => (e ? reject(e) : resolve()));
    });
  /** The empty ACK of a confirmable (separate) response. */
  const ack = (messageId: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const datagram = Buffer.from([0x60, 0x00, messageId >> 8, messageId & 0xff]);
      sock.send(datagram, port, "127.0.0.1", (e) => (e ? reject(e) : resolve()));
    });
  return { answers, datagrams, post, ack };
}
