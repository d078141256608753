// An OPC-UA device simulator: an OPC-UA server (node-opcua) for each endpoint of the device map,
// serving every point as a Variable under the NodeId the map gives, with the point's DataType, values
// that change over time, writes accepted only on writable points (AccessLevel), an EngineeringUnits
// property where the map gives a unit, and faults on demand: a server restart on the same port, Bad
// status for a point or a device, slow responses. Endpoints: None, and Sign / SignAndEncrypt with
// Basic256Sha256 and the Aes policies, with the server's own certificate in a PKI folder; anonymous
// login and the user names and passwords the device map gives.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import {
  DataType,
  DataValue,
  makeEUInformation,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCode,
  StatusCodes,
  Variant,
  VariantArrayType,
  coerceNodeId,
  nodesets,
  type UAVariable,
} from "node-opcua";
import type { Simulator } from "../adapter.js";
import { parseFaultSpec, type FaultKind } from "../fault-spec.js";
import { freePort } from "../free-port.js";
import type { OpcuaDeviceConfig } from "./schema.js";

export type OpcuaPointType = NonNullable<OpcuaDeviceConfig["points"][number]["type"]>;
/** A point's value as tests set and read it: Int64/UInt64 as bigint, the other integers as number. */
export type OpcuaSimValue = number | bigint | boolean | string;

/** What a simulated device does wrong until cleared. */
export type SimFault =
  /** Every point of the device reports this StatusCode (a name such as BadSensorFailure). */
  | { kind: "bad"; status: string }
  /** Every service request (read, write, browse, monitored items) on the device's server is answered `ms` later. */
  | { kind: "delay"; ms: number }
  /** The device's server shuts down and starts again on the same port every `everyMs`. */
  | { kind: "restart"; everyMs: number };

export type SecurityModeName = "None" | "Sign" | "SignAndEncrypt";
export type SecurityPolicyName = "None" | "Basic256Sha256" | "Aes128_Sha256_RsaOaep" | "Aes256_Sha256_RsaPss";

export interface OpcuaSimulatorOptions {
  /** How often values of read-only points change; 0 freezes them. Default 1000 ms. */
  animateMs?: number;
  /** Values stay as they are until `resumeAnimation()` (a benchmark subscribes before they move). */
  startPaused?: boolean;
  /** Faults from the start, by device id. */
  faults?: Record<string, SimFault>;
  /**
   * The servers' PKI store (own certificate and key, trusted/rejected client certificates). Default:
   * a new temporary folder, removed at stop (so each run has a fresh certificate).
   */
  pkiDir?: string;
  /** Users accepted besides those the devices' connections give (username/password). */
  users?: { username: string; password: string }[];
  /** Accept anonymous sessions. Default: true, unless one of the endpoint's devices gives a username. */
  allowAnonymous?: boolean;
  /** Security modes offered. Default: None, Sign, SignAndEncrypt. */
  securityModes?: SecurityModeName[];
  /** Security policies offered. Default: None, Basic256Sha256, Aes128_Sha256_RsaOaep, Aes256_Sha256_RsaPss. */
  securityPolicies?: SecurityPolicyName[];
  /** Trust every client certificate (the default); false: a client must be in `<pkiDir>/trusted/certs`. */
  acceptUnknownClients?: boolean;
  log?: Logger;
}

interface SimPoint {
  name: string;
  node: string;
  type: OpcuaPointType;
  unit: string | undefined;
  writable: boolean;
  /** Position in its device, to vary the curves. */
  index: number;
  value: OpcuaSimValue;
  /** A StatusCode name other than Good set by `setStatus`, or null. */
  status: string | null;
  variable: UAVariable | undefined;
}

interface SimDevice {
  id: string;
  points: SimPoint[];
  fault: SimFault | undefined;
  endpoint: Endpoint;
  writes: number;
}

interface Endpoint {
  key: string;
  host: string;
  /** The configured port; 0: a free port chosen at start (and kept over restarts). */
  port: number;
  devices: SimDevice[];
  users: Map<string, string>;
  allowAnonymous: boolean;
  server: OPCUAServer | undefined;
  /** Milliseconds by which service requests are delayed (the largest `delay` fault of its devices). */
  delayMs: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  /** A restart in progress. */
  restarting: Promise<void> | undefined;
}

const ALL_MODES: SecurityModeName[] = ["None", "Sign", "SignAndEncrypt"];
const ALL_POLICIES: SecurityPolicyName[] = [
  "None",
  "Basic256Sha256",
  "Aes128_Sha256_RsaOaep",
  "Aes256_Sha256_RsaPss",
];
/** Requests that `delay` slows; session, channel and publish traffic keeps its pace. */
const DELAYED_REQUESTS = new Set([
  "ReadRequest",
  "WriteRequest",
  "BrowseRequest",
  "BrowseNextRequest",
  "TranslateBrowsePathsToNodeIdsRequest",
  "CreateMonitoredItemsRequest",
  "ModifyMonitoredItemsRequest",
  "DeleteMonitoredItemsRequest",
  "DeleteSubscriptionsRequest",
  "CallRequest",
]);

export const APPLICATION_URI = "urn:iggy-edge:opcua-simulator";

export class OpcuaSimulator implements Simulator {
  private readonly devices = new Map<string, SimDevice>();
  private readonly endpoints = new Map<string, Endpoint>();
  private timer: NodeJS.Timeout | undefined;
  private tick = 0;
  /** Values the animation changed on a served variable (what subscribers can see), since start. */
  private changes = 0;
  private held = 0;
  private paused: boolean;
  private readonly animateMs: number;
  private readonly pkiDir: string;
  private readonly ownPki: boolean;
  private certificateManager: OPCUACertificateManager | undefined;
  /** True while the simulator itself sets values, so that only clients' writes are counted. */
  private internalSet = false;
  private stopped = false;

  constructor(
    devices: OpcuaDeviceConfig[],
    private readonly opts: OpcuaSimulatorOptions = {},
  ) {
    this.animateMs = opts.animateMs ?? 1000;
    this.paused = opts.startPaused ?? false;
    this.ownPki = opts.pkiDir === undefined;
    this.pkiDir = opts.pkiDir ?? mkdtempSync(join(tmpdir(), "iggy-edge-opcua-sim-"));
    let anon = 0;
    for (const cfg of devices) {
      if (!cfg.enabled) continue;
      const url = new URL(cfg.connection.endpoint.replace(/^opc\.tcp:/, "http:"));
      const host = url.hostname.replace(/^\[|\]$/g, "");
      const port = url.port === "" ? 4840 : Number(url.port);
      const key = `${host}:${port === 0 ? `0#${anon++}` : port}`;
      let ep = this.endpoints.get(key);
      if (!ep) {
        ep = {
          key,
          host,
          port,
          devices: [],
          users: new Map((opts.users ?? []).map((u) => [u.username, u.password])),
          allowAnonymous: true,
          server: undefined,
          delayMs: 0,
          restarts: 0,
          restartTimer: undefined,
          restarting: undefined,
        };
        this.endpoints.set(key, ep);
      }
      const { username, password } = cfg.connection;
      if (username !== undefined) {
        ep.users.set(username, password ?? "");
        if (opts.allowAnonymous === undefined) ep.allowAnonymous = false;
      }
      if (opts.allowAnonymous !== undefined) ep.allowAnonymous = opts.allowAnonymous;
      const dev: SimDevice = {
        id: cfg.id,
        points: cfg.points.map((p, index) => ({
          name: p.name,
          // A point known only by its browse path is served under a string NodeId of its name.
          node: p.node ?? `ns=1;s=${cfg.id}.${p.name}`,
          type: p.type ?? "Double",
          unit: p.unit,
          writable: p.write !== undefined,
          index,
          value: initialValue(p.type ?? "Double", index, cfg.id),
          status: null,
          variable: undefined,
        })),
        fault: undefined,
        endpoint: ep,
        writes: 0,
      };
      ep.devices.push(dev);
      this.devices.set(cfg.id, dev);
    }
    for (const ep of this.endpoints.values()) {
      const seen = new Map<string, string>();
      for (const d of ep.devices) {
        for (const p of d.points) {
          const id = coerceNodeId(p.node).toString();
          const other = seen.get(id);
          if (other !== undefined) {
            throw new Error(
              `opcua simulator: NodeId ${p.node} is given twice on ${ep.key} (${other} and ${d.id}.${p.name})`,
            );
          }
          seen.set(id, `${d.id}.${p.name}`);
        }
      }
    }
    for (const [id, f] of Object.entries(opts.faults ?? {})) {
      if (this.devices.has(id)) this.devices.get(id)!.fault = f;
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      this.certificateManager = new OPCUACertificateManager({
        rootFolder: this.pkiDir,
        automaticallyAcceptUnknownCertificate: this.opts.acceptUnknownClients ?? true,
      });
      await this.certificateManager.initialize();
      // One server at a time: they share the PKI store and its certificate, made by the first.
      for (const ep of this.endpoints.values()) {
        if (ep.port === 0) ep.port = await freePort(ep.host);
        await this.startServer(ep);
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    for (const d of this.devices.values()) this.applyFault(d);
    if (!this.paused) this.startAnimation();
    this.opts.log?.info(
      { devices: this.devices.size, endpoints: [...this.endpoints.values()].map((e) => this.urlOf(e)) },
      "opcua simulator listening",
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const ep of this.endpoints.values()) {
      clearInterval(ep.restartTimer);
      ep.restartTimer = undefined;
    }
    await Promise.allSettled([...this.endpoints.values()].map((ep) => ep.restarting));
    await Promise.allSettled([...this.endpoints.values()].map((ep) => this.stopServer(ep)));
    await this.certificateManager?.dispose();
    this.certificateManager = undefined;
    if (this.ownPki) rmSync(this.pkiDir, { recursive: true, force: true });
  }

  /** The endpoint URL a client connects to for this device (the real port where the map says 0). */
  endpoint(deviceId: string): string {
    return this.urlOf(this.device(deviceId).endpoint);
  }

  /** Host and port where the device is served. */
  address(deviceId: string): { host: string; port: number } {
    const ep = this.device(deviceId).endpoint;
    return { host: ep.host, port: ep.port };
  }

  /** The PKI store: `own/certs/certificate.pem` is the servers' certificate (to trust it on a client). */
  get pkiFolder(): string {
    return this.pkiDir;
  }

  /** The servers' certificate file (PEM). */
  get certificateFile(): string {
    return join(this.pkiDir, "own", "certs", "certificate.pem");
  }

  /** Stops the values of read-only points changing (they keep their last value). */
  pauseAnimation(): void {
    this.paused = true;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The values change again, every `animateMs` from now. */
  resumeAnimation(): void {
    this.paused = false;
    if (!this.stopped && this.timer === undefined) this.startAnimation();
  }

  /** Service requests a `delay` fault holds back now. */
  heldRequests(): number {
    return this.held;
  }

  /** Values the animation has changed on served variables since start (one a point a tick at most). */
  changeCount(): number {
    return this.changes;
  }

  /**
   * Data change notifications the servers have put into notification messages for the subscriptions
   * open now (initial values included): beside `changeCount()`, what sampling made of the changes.
   */
  notificationsSent(): number {
    let n = 0;
    for (const ep of this.endpoints.values()) {
      for (const session of ep.server?.engine.getSessions() ?? []) {
        for (const sub of session.publishEngine?.subscriptions ?? []) {
          n += sub.subscriptionDiagnostics.dataChangeNotificationsCount;
        }
      }
    }
    return n;
  }

  /** Sets a point's value (and its status back to Good). */
  set(deviceId: string, point: string, value: OpcuaSimValue): void {
    const p = this.point(deviceId, point);
    p.value = coerceSimValue(value, p.type);
    p.status = null;
    this.publish(this.device(deviceId), p);
  }

  /** A point's current value: what a client last wrote, or the simulation's. */
  get(deviceId: string, point: string): OpcuaSimValue {
    return this.point(deviceId, point).value;
  }

  /** Gives one point a StatusCode by name (BadSensorFailure, UncertainLastUsableValue, ...); null: Good again. */
  setStatus(deviceId: string, point: string, status: string | null): void {
    const p = this.point(deviceId, point);
    if (status !== null) statusCodeOf(status);
    p.status = status;
    this.publish(this.device(deviceId), p);
  }

  /** Sets or clears (null) a device's fault. */
  fault(deviceId: string, fault: SimFault | null): void {
    const dev = this.device(deviceId);
    dev.fault = fault ?? undefined;
    if (fault?.kind === "bad") statusCodeOf(fault.status);
    this.applyFault(dev);
  }

  /**
   * Shuts the device's server down (clients lose their connection), waits `downMs`, and starts it
   * again on the same port with the same values; resolves when it listens again.
   */
  async restart(deviceId: string, downMs = 0): Promise<void> {
    await this.restartEndpoint(this.device(deviceId).endpoint, downMs);
  }

  /** Restarts per device's server since start. */
  restartCounts(): Record<string, number> {
    return Object.fromEntries([...this.devices.values()].map((d) => [d.id, d.endpoint.restarts]));
  }

  /** Values written by clients, per device, since start. */
  writeCounts(): Record<string, number> {
    return Object.fromEntries([...this.devices.values()].map((d) => [d.id, d.writes]));
  }

  /** Sessions open on the device's server now. */
  sessionCount(deviceId: string): number {
    return this.device(deviceId).endpoint.server?.currentSessionCount ?? 0;
  }

  // ---- devices, points, faults -----------------------------------------------------------------

  private device(deviceId: string): SimDevice {
    const dev = this.devices.get(deviceId);
    if (!dev) throw new Error(`opcua simulator has no device ${deviceId}`);
    return dev;
  }

  private point(deviceId: string, point: string): SimPoint {
    const p = this.device(deviceId).points.find((x) => x.name === point);
    if (!p) throw new Error(`simulated opcua device ${deviceId} has no point ${point}`);
    return p;
  }

  private applyFault(dev: SimDevice): void {
    const ep = dev.endpoint;
    ep.delayMs = Math.max(0, ...ep.devices.map((d) => (d.fault?.kind === "delay" ? d.fault.ms : 0)));
    for (const p of dev.points) this.publish(dev, p);
    const every = Math.min(
      ...ep.devices.map((d) => (d.fault?.kind === "restart" ? d.fault.everyMs : Infinity)),
    );
    clearInterval(ep.restartTimer);
    ep.restartTimer = undefined;
    if (Number.isFinite(every) && !this.stopped && ep.server) {
      ep.restartTimer = setInterval(() => {
        if (ep.restarting === undefined) {
          this.restartEndpoint(ep, 0).catch((e: Error) =>
            this.opts.log?.error({ err: e.message, endpoint: ep.key }, "opcua simulator restart failed"),
          );
        }
      }, every);
      ep.restartTimer.unref();
    }
  }

  /** Puts the point's value and status into its variable (subscribers see the change). */
  private publish(dev: SimDevice, p: SimPoint): void {
    const v = p.variable;
    if (!v) return;
    const status = p.status ?? (dev.fault?.kind === "bad" ? dev.fault.status : null) ?? ("Good" as const);
    this.internalSet = true;
    try {
      v.setValueFromSource(toVariant(p.value, p.type), statusCodeOf(status), new Date());
    } finally {
      this.internalSet = false;
    }
  }

  private startAnimation(): void {
    if (this.animateMs <= 0) return;
    this.timer = setInterval(() => {
      this.tick++;
      for (const d of this.devices.values()) this.animate(d);
    }, this.animateMs);
    this.timer.unref();
  }

  private animate(dev: SimDevice): void {
    const t = this.tick;
    for (const p of dev.points) {
      if (p.writable) continue; // a writable point keeps what was written
      const value = animatedValue(p.type, p.index, t, dev.id);
      // Counted only where a subscriber can see it: a new value on a variable being served.
      if (value !== p.value && p.variable !== undefined) this.changes++;
      p.value = value;
      this.publish(dev, p);
    }
  }

  // ---- servers ----------------------------------------------------------------------------------

  private urlOf(ep: Endpoint): string {
    const host = ep.host.includes(":") ? `[${ep.host}]` : ep.host;
    return `opc.tcp://${host}:${ep.port}`;
  }

  private async startServer(ep: Endpoint): Promise<void> {
    const modes = (this.opts.securityModes ?? ALL_MODES).map((m) => MessageSecurityMode[m]);
    const policies = (this.opts.securityPolicies ?? ALL_POLICIES).map((p) => SecurityPolicy[p]);
    const server = new OPCUAServer({
      port: ep.port,
      host: ep.host,
      hostname: ep.host,
      nodeset_filename: [nodesets.standard],
      securityModes: modes,
      securityPolicies: policies,
      allowAnonymous: ep.allowAnonymous,
      serverCertificateManager: this.certificateManager!,
      userManager: {
        isValidUser: (username: string, password: string) => ep.users.get(username) === password,
      },
      serverInfo: {
        applicationUri: APPLICATION_URI,
        productUri: "iggy-edge-opcua-simulator",
        applicationName: { text: "iggy-edge OPC-UA simulator", locale: "en" },
      },
      buildInfo: { productName: "iggy-edge OPC-UA simulator", manufacturerName: "iggy-edge" },
    });
    ep.server = server;
    await server.initialize();
    this.buildAddressSpace(ep, server);
    this.slowDown(ep, server);
    try {
      await server.start();
    } catch (e) {
      throw new Error(`opcua simulator cannot listen on ${ep.host}:${ep.port}: ${(e as Error).message}`);
    }
  }

  private async stopServer(ep: Endpoint): Promise<void> {
    const server = ep.server;
    ep.server = undefined;
    for (const d of ep.devices) for (const p of d.points) p.variable = undefined;
    if (server) await server.shutdown(0);
  }

  private restartEndpoint(ep: Endpoint, downMs: number): Promise<void> {
    if (ep.restarting) return ep.restarting;
    const run = async () => {
      this.opts.log?.info({ endpoint: this.urlOf(ep), downMs }, "opcua simulator restarting");
      await this.stopServer(ep);
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      if (this.stopped) return;
      await this.startServer(ep);
      ep.restarts++;
      for (const d of ep.devices) for (const p of d.points) this.publish(d, p);
    };
    ep.restarting = run().finally(() => (ep.restarting = undefined));
    return ep.restarting;
  }

  /**
   * Holds back the answer to service requests while the endpoint has a `delay` fault, by wrapping the
   * server's request dispatch (`on_request`, node-opcua's own, not a public API: a node-opcua upgrade
   * that renames it fails the delay test).
   */
  private slowDown(ep: Endpoint, server: OPCUAServer): void {
    const target = server as unknown as {
      on_request(message: { request: { schema: { name: string } } }, channel: unknown): void;
    };
    const original = target.on_request.bind(server);
    target.on_request = (message, channel) => {
      const ms = ep.delayMs;
      if (ms > 0 && DELAYED_REQUESTS.has(message.request.schema.name)) {
        this.held++;
        setTimeout(() => {
          this.held--;
          if (ep.server === server) original(message, channel);
        }, ms).unref();
        return;
      }
      original(message, channel);
    };
  }

  private buildAddressSpace(ep: Endpoint, server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace!;
    const maxNs = Math.max(
      1,
      ...ep.devices.flatMap((d) => d.points.map((p) => coerceNodeId(p.node).namespace)),
    );
    for (let ns = addressSpace.getNamespaceArray().length; ns <= maxNs; ns++) {
      addressSpace.registerNamespace(`urn:iggy-edge:opcua-simulator:ns${ns}`);
    }
    const own = addressSpace.getOwnNamespace();
    for (const dev of ep.devices) {
      const folder = own.addObject({
        organizedBy: addressSpace.rootFolder.objects,
        browseName: dev.id,
        nodeId: `s=device:${dev.id}`,
      });
      for (const p of dev.points) {
        const nodeId = coerceNodeId(p.node);
        const existing = addressSpace.findNode(nodeId);
        if (existing) {
          throw new Error(
            `opcua simulator: ${dev.id}.${p.name}: NodeId ${p.node} is already a node of the server (${existing.browseName.toString()}); give the point a NodeId of its own`,
          );
        }
        if (nodeId.namespace === 0) {
          throw new Error(
            `opcua simulator: ${dev.id}.${p.name}: NodeId ${p.node} is in namespace 0, the OPC-UA standard's; use ns=1 or above`,
          );
        }
        const namespace = addressSpace.getNamespace(nodeId.namespace);
        const access = p.writable ? "CurrentRead | CurrentWrite" : "CurrentRead";
        const variable = namespace.addVariable({
          componentOf: folder,
          browseName: p.name,
          displayName: p.name,
          nodeId,
          dataType: DataType[p.type],
          accessLevel: access,
          userAccessLevel: access,
          minimumSamplingInterval: 0,
        });
        if (p.unit !== undefined) {
          namespace.addVariable({
            propertyOf: variable,
            browseName: { name: "EngineeringUnits", namespaceIndex: 0 },
            typeDefinition: "PropertyType",
            dataType: "EUInformation",
            value: {
              dataType: DataType.ExtensionObject,
              value: euInformation(p.unit),
            },
          });
        }
        p.variable = variable;
        variable.on("value_changed", (dv: DataValue) => {
          if (this.internalSet) return;
          // A client's write: keep it as the point's value.
          dev.writes++;
          p.value = fromVariant(dv.value, p.type);
          p.status = null;
        });
        this.publish(dev, p);
      }
    }
  }
}

/** EngineeringUnits for a unit the map gives as text: its displayName is the text; no UNECE code. */
function euInformation(unit: string): ReturnType<typeof makeEUInformation> {
  const eu = makeEUInformation("", unit, unit);
  eu.unitId = -1;
  return eu;
}

// ---- values -------------------------------------------------------------------------------------

const INT_RANGES: Partial<Record<OpcuaPointType, [bigint, bigint]>> = {
  SByte: [-128n, 127n],
  Byte: [0n, 255n],
  Int16: [-32768n, 32767n],
  UInt16: [0n, 65535n],
  Int32: [-2147483648n, 2147483647n],
  UInt32: [0n, 4294967295n],
  Int64: [-(2n ** 63n), 2n ** 63n - 1n],
  UInt64: [0n, 2n ** 64n - 1n],
};

function initialValue(type: OpcuaPointType, index: number, device: string): OpcuaSimValue {
  return animatedValue(type, index, 0, device);
}

/** Sine for floats, a ramp for integers (within the type), a toggle for booleans, a counter in text. */
function animatedValue(type: OpcuaPointType, index: number, t: number, device: string): OpcuaSimValue {
  switch (type) {
    case "Boolean":
      return Math.floor(t / ((index % 5) + 2)) % 2 === index % 2;
    case "String":
      return `${device}-${t}`;
    case "Float":
      return Math.fround(Math.round((20 + 5 * Math.sin(t / 10 + index)) * 1000) / 1000);
    case "Double":
      return Math.round((20 + 5 * Math.sin(t / 10 + index)) * 1000) / 1000;
    case "Int64":
    case "UInt64":
      return BigInt((t + index * 7) % 1000);
    default:
      return (t + index * 7) % (type === "SByte" ? 100 : 1000);
  }
}

/** The value in the form the point's type keeps (bigint for 64-bit integers), range checked. */
export function coerceSimValue(value: OpcuaSimValue, type: OpcuaPointType): OpcuaSimValue {
  switch (type) {
    case "Boolean":
      if (typeof value !== "boolean")
        throw new TypeError(`${type} point: expected a boolean, got ${String(value)}`);
      return value;
    case "String":
      return String(value);
    case "Float":
    case "Double":
      if (typeof value !== "number" && typeof value !== "bigint")
        throw new TypeError(`${type} point: expected a number, got ${String(value)}`);
      return type === "Float" ? Math.fround(Number(value)) : Number(value);
    default: {
      if (
        typeof value === "boolean" ||
        typeof value === "string" ||
        (typeof value === "number" && !Number.isInteger(value))
      )
        throw new TypeError(`${type} point: expected an integer, got ${String(value)}`);
      const n = BigInt(value);
      const [lo, hi] = INT_RANGES[type]!;
      if (n < lo || n > hi) throw new RangeError(`${type} point: ${n} is outside ${lo}..${hi}`);
      return type === "Int64" || type === "UInt64" ? n : Number(n);
    }
  }
}

function toVariant(value: OpcuaSimValue, type: OpcuaPointType): Variant {
  if (type === "Int64" || type === "UInt64") {
    const n = BigInt.asUintN(64, BigInt(value as bigint));
    return new Variant({
      dataType: DataType[type],
      arrayType: VariantArrayType.Scalar,
      value: [Number(n >> 32n), Number(n & 0xffffffffn)],
    });
  }
  return new Variant({ dataType: DataType[type], value });
}

function fromVariant(v: Variant, type: OpcuaPointType): OpcuaSimValue {
  if (type === "Int64" || type === "UInt64") {
    const [hi, lo] = v.value as [number, number];
    const n = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    return type === "Int64" ? BigInt.asIntN(64, n) : n;
  }
  return v.value as OpcuaSimValue;
}

/** A StatusCode by name (Good, BadSensorFailure, UncertainLastUsableValue, ...). */
export function statusCodeOf(name: string): StatusCode {
  const code = (StatusCodes as unknown as Record<string, StatusCode | undefined>)[name];
  if (code === undefined || typeof code !== "object") {
    throw new Error(`there is no OPC-UA StatusCode named ${JSON.stringify(name)} (such as BadSensorFailure)`);
  }
  return code;
}

// ---- faults from the environment ----------------------------------------------------------------

/** The OPC-UA simulator's fault kinds, for `DEVICE:KIND[=N]` specs (see fault-spec.ts). */
export const OPCUA_FAULT_KINDS = {
  bad: {},
  delay: { number: "MS" },
  restart: { number: "MS", min: 100 },
} satisfies Record<SimFault["kind"], FaultKind>;

/**
 * Faults from an environment variable such as
 * `IGGY_EDGE_OPCUA_FAULTS="press-4:restart=30000,oven-2:bad,mixer-1:delay=1500"`
 * (`bad` gives every point of the device BadSensorFailure; `restart=MS` restarts its server every MS).
 */
export function parseFaults(
  spec: string | undefined,
  source = "IGGY_EDGE_OPCUA_FAULTS",
): Record<string, SimFault> {
  const out: Record<string, SimFault> = {};
  for (const { device, kind, value } of parseFaultSpec(spec, OPCUA_FAULT_KINDS, source).values()) {
    out[device] =
      kind === "bad"
        ? { kind, status: "BadSensorFailure" }
        : kind === "delay"
          ? { kind, ms: value! }
          : { kind, everyMs: value! };
  }
  return out;
}
