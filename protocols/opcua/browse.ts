// Browse to a device map: walks an OPC-UA server's address space from a node and turns every
// Variable into a point of our schema (name from the BrowseName, NodeId, type from the DataType,
// unit from EngineeringUnits, writable from AccessLevel and UserAccessLevel), printed as YAML that
// `iggy-edge check` accepts. Also the connect step (endpoint and security options -> a session).
import { join } from "node:path";
import {
  AttributeIds,
  BrowseDirection,
  NodeClass,
  NodeClassMask,
  OPCUACertificateManager,
  StatusCodes,
  browseAll,
  coerceNodeId,
  makeBrowsePath,
  type ClientSession,
  type OPCUAClient,
  type ReferenceDescription,
} from "node-opcua";
import { createClient, openSession } from "./session.js";
import { newestRejected, trustCommand, type StoredCertificate } from "./trust-list.js";
import type { OpcuaPointType, SecurityModeName, SecurityPolicyName } from "./simulator.js";

export interface OpcuaConnectOptions {
  endpoint: string;
  securityMode?: SecurityModeName;
  securityPolicy?: SecurityPolicyName;
  username?: string | undefined;
  password?: string | undefined;
  /** X.509 user: the certificate file (PEM or DER) and its private key (PEM). */
  userCertificate?: string | undefined;
  userPrivateKey?: string | undefined;
  /** The client's PKI store: its own certificate (made on first use) and its trust list of servers. */
  pkiDir: string;
  /** Trust a server certificate that is not in the trust list yet (and keep it there). */
  trustUnknownServer?: boolean;
  /** How long the connect may take before it fails. Default 60 s. */
  timeoutMs?: number;
}

export interface OpcuaConnection {
  client: OPCUAClient;
  session: ClientSession;
  close(): Promise<void>;
}

export class OpcuaConnectError extends Error {
  override name = "OpcuaConnectError";
}

/** Opens a session on `endpoint` with the given security; fails with a message a person can act on. */
export async function connectOpcua(opts: OpcuaConnectOptions): Promise<OpcuaConnection> {
  const mode = opts.securityMode ?? "None";
  const policy = opts.securityPolicy ?? (mode === "None" ? "None" : "Basic256Sha256");
  if ((mode === "None") !== (policy === "None")) {
    throw new OpcuaConnectError(
      `security mode ${mode} needs ${mode === "None" ? "policy None" : "a policy other than None"} (got ${policy})`,
    );
  }
  const certificateManager = new OPCUACertificateManager({
    rootFolder: opts.pkiDir,
    automaticallyAcceptUnknownCertificate: opts.trustUnknownServer ?? false,
  });
  await certificateManager.initialize();
  const client = createClient({
    applicationName: "iggy-edge browse",
    applicationUri: "urn:iggy-edge:browse",
    certificateManager,
    securityMode: mode,
    securityPolicy: policy,
    keepSessionAlive: false,
    sessionTimeoutMs: 60_000,
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 1000 },
  });
  // The client's own certificate, made on first use (seconds on a Pi), is not part of the connect time.
  await (client as unknown as { createDefaultCertificate(): Promise<void> }).createDefaultCertificate();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new OpcuaConnectError(`no session with ${opts.endpoint} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  const dispose = async () => {
    await client.disconnect().catch(() => {});
    await certificateManager.dispose().catch(() => {});
  };
  try {
    // Without a signal, openSession gives a session or throws.
    const session = (await Promise.race([
      openSession(client, opts.endpoint, opts),
      timeout,
    ])) as ClientSession;
    return {
      client,
      session,
      close: async () => {
        await session.close().catch(() => {});
        await dispose();
      },
    };
  } catch (e) {
    await dispose();
    const rejected = /certificate/i.test((e as Error).message)
      ? await newestRejected(opts.pkiDir)
      : undefined;
    throw new OpcuaConnectError(connectFailure(e as Error, opts, mode, policy, rejected));
  } finally {
    clearTimeout(timer);
  }
}

function connectFailure(
  e: Error,
  opts: OpcuaConnectOptions,
  mode: string,
  policy: string,
  rejected: StoredCertificate | undefined,
): string {
  const msg = e.message.split("\n")[0] ?? String(e);
  const user = opts.username
    ? `, user ${opts.username}`
    : opts.userCertificate
      ? `, X.509 user ${opts.userCertificate}`
      : "";
  const where = `${opts.endpoint} (${mode}/${policy}${user})`;
  if (/certificate/i.test(msg) && mode !== "None") {
    const command = rejected
      ? `run ${trustCommand(rejected, { pkiDir: opts.pkiDir })} (${rejected.subject}) or `
      : "";
    return (
      `cannot connect to ${where}: ${msg}. If the server's certificate was refused, trust it: ${command}move it from ` +
      `${join(opts.pkiDir, "rejected")} to ${join(opts.pkiDir, "trusted", "certs")}, or run again with --trust-server`
    );
  }
  if (e instanceof OpcuaConnectError) return e.message;
  return `cannot connect to ${where}: ${msg}`;
}

// ---- the walk ----------------------------------------------------------------------------------

export interface BrowseOptions {
  /** Where to start; default the Objects folder (i=85). */
  root?: string;
  /** How many levels below the root; default 10. */
  depth?: number;
  /** Also list variables of namespace 0 (the server's own diagnostics); default false. */
  includeStandard?: boolean;
  /** Stop after this many variables; default 10,000. */
  maxVariables?: number;
}

export interface BrowsedVariable {
  /** The point name: the BrowseName made valid for our schema and unique. */
  name: string;
  /** The BrowseName as the server gives it. */
  browseName: string;
  /** The BrowseNames from the root to the variable, for a person. */
  path: string[];
  node: string;
  /** Our type, or undefined when the DataType is not one we read (see `skipped`). */
  type: OpcuaPointType | undefined;
  /** The DataType's name as the server gives it. */
  dataType: string;
  unit: string | undefined;
  writable: boolean;
  /** Why the variable cannot be a point (unsupported DataType, an array); absent when it can. */
  skipped?: string;
}

export interface BrowseResultSummary {
  variables: BrowsedVariable[];
  /** True when the walk stopped at maxVariables. */
  truncated: boolean;
}

const BUILTIN_TYPES: Record<number, OpcuaPointType> = {
  1: "Boolean",
  2: "SByte",
  3: "Byte",
  4: "Int16",
  5: "UInt16",
  6: "Int32",
  7: "UInt32",
  8: "Int64",
  9: "UInt64",
  10: "Float",
  11: "Double",
  12: "String",
};
const HAS_PROPERTY = coerceNodeId("i=46");
const HAS_SUBTYPE = coerceNodeId("i=45");
const BASE_DATA_TYPE = 24;
const CURRENT_WRITE = 0x02;
const BATCH = 200;

/** Walks the address space below `root` and describes every Variable found. */
export async function browseVariables(
  session: ClientSession,
  opts: BrowseOptions = {},
): Promise<BrowseResultSummary> {
  const root = coerceNodeId(opts.root ?? "i=85");
  const maxDepth = opts.depth ?? 10;
  const maxVariables = opts.maxVariables ?? 10_000;
  const seen = new Set<string>([root.toString()]);
  const found: { ref: ReferenceDescription; path: string[] }[] = [];
  let level: { node: string; path: string[] }[] = [{ node: root.toString(), path: [] }];
  let truncated = false;
  for (let depth = 1; depth <= maxDepth && level.length > 0 && !truncated; depth++) {
    const next: { node: string; path: string[] }[] = [];
    for (let i = 0; i < level.length && !truncated; i += BATCH) {
      const batch = level.slice(i, i + BATCH);
      const results = await browseAll(
        session,
        batch.map((b) => ({
          nodeId: b.node,
          browseDirection: BrowseDirection.Forward,
          referenceTypeId: "HierarchicalReferences",
          includeSubtypes: true,
          nodeClassMask: NodeClassMask.Object | NodeClassMask.Variable,
          resultMask: 0x3f,
        })),
      );
      results.forEach((result, k) => {
        for (const ref of result.references ?? []) {
          // Properties (EngineeringUnits, EURange, ...) describe a variable; they are not points.
          if (ref.referenceTypeId.toString() === HAS_PROPERTY.toString()) continue;
          const id = ref.nodeId.toString();
          if (seen.has(id)) continue;
          seen.add(id);
          if (ref.nodeId.namespace === 0 && !opts.includeStandard) continue;
          const path = [...batch[k]!.path, ref.browseName.name ?? id];
          if (ref.nodeClass === NodeClass.Variable) {
            if (found.length >= maxVariables) {
              truncated = true;
              break;
            }
            found.push({ ref, path });
          }
          next.push({ node: id, path });
        }
      });
    }
    level = next;
  }
  const variables = await describe(session, found);
  return { variables, truncated };
}

async function describe(
  session: ClientSession,
  found: { ref: ReferenceDescription; path: string[] }[],
): Promise<BrowsedVariable[]> {
  const out: BrowsedVariable[] = [];
  const typeCache = new Map<string, { type: OpcuaPointType | undefined; name: string }>();
  const names = new Set<string>();
  for (let i = 0; i < found.length; i += BATCH) {
    const batch = found.slice(i, i + BATCH);
    const attrs = [
      AttributeIds.DataType,
      AttributeIds.ValueRank,
      AttributeIds.AccessLevel,
      AttributeIds.UserAccessLevel,
    ];
    const values = await session.read(
      batch.flatMap((f) => attrs.map((attributeId) => ({ nodeId: f.ref.nodeId, attributeId }))),
    );
    const units = await engineeringUnits(
      session,
      batch.map((f) => f.ref.nodeId.toString()),
    );
    for (let k = 0; k < batch.length; k++) {
      const { ref, path } = batch[k]!;
      const [dt, rank, access, userAccess] = values.slice(k * 4, k * 4 + 4);
      const node = ref.nodeId.toString();
      const browseName = ref.browseName.name ?? node;
      let type: OpcuaPointType | undefined;
      let dataType = "unknown";
      let skipped: string | undefined;
      if (dt?.statusCode.isGood() && dt.value.value) {
        const resolved = await resolveType(session, dt.value.value.toString(), typeCache);
        type = resolved.type;
        dataType = resolved.name;
        if (type === undefined) skipped = `DataType ${dataType} is not one iggy-edge reads`;
      } else {
        skipped = "its DataType cannot be read";
      }
      const valueRank = rank?.statusCode.isGood() ? (rank.value.value as number) : -1;
      if (skipped === undefined && valueRank >= 0)
        skipped = `an array (ValueRank ${valueRank}) of ${dataType}`;
      const writable =
        access?.statusCode.isGood() === true &&
        ((access.value.value as number) & CURRENT_WRITE) !== 0 &&
        (!userAccess?.statusCode.isGood() || ((userAccess.value.value as number) & CURRENT_WRITE) !== 0);
      const name = uniqueName(pointName(browseName), names);
      out.push({
        name,
        browseName,
        path,
        node,
        type,
        dataType,
        unit: units[k],
        writable,
        ...(skipped !== undefined ? { skipped } : {}),
      });
    }
  }
  return out;
}

/** The displayName text of each variable's EngineeringUnits property, where it has one. */
async function engineeringUnits(session: ClientSession, nodes: string[]): Promise<(string | undefined)[]> {
  const paths = await session.translateBrowsePath(nodes.map((n) => makeBrowsePath(n, "/0:EngineeringUnits")));
  const targets = paths.map((p) =>
    p.statusCode.isGood() && p.targets && p.targets.length > 0
      ? p.targets[0]!.targetId.toString()
      : undefined,
  );
  const toRead = targets.filter((t): t is string => t !== undefined);
  if (toRead.length === 0) return nodes.map(() => undefined);
  const values = await session.read(toRead.map((nodeId) => ({ nodeId, attributeId: AttributeIds.Value })));
  let j = 0;
  return targets.map((t) => {
    if (t === undefined) return undefined;
    const dv = values[j++]!;
    if (dv.statusCode !== StatusCodes.Good) return undefined;
    const eu = dv.value.value as { displayName?: { text?: string | null } } | null;
    const text = eu?.displayName?.text ?? undefined;
    return text === undefined || text === null || text === "" ? undefined : text;
  });
}

/** Our type for a DataType NodeId: a builtin, or the builtin it is a subtype of (Duration is a Double). */
async function resolveType(
  session: ClientSession,
  dataTypeId: string,
  cache: Map<string, { type: OpcuaPointType | undefined; name: string }>,
): Promise<{ type: OpcuaPointType | undefined; name: string }> {
  const cached = cache.get(dataTypeId);
  if (cached) return cached;
  const nameOf = async (id: string) => {
    const dv = await session.read({ nodeId: id, attributeId: AttributeIds.BrowseName });
    return (dv.value.value as { name?: string } | null)?.name ?? id;
  };
  const name = await nameOf(dataTypeId);
  let current = coerceNodeId(dataTypeId);
  let type: OpcuaPointType | undefined;
  for (let hops = 0; hops < 16; hops++) {
    if (current.namespace === 0 && typeof current.value === "number") {
      type = BUILTIN_TYPES[current.value];
      if (type !== undefined || current.value === BASE_DATA_TYPE || current.value <= 29) break;
    }
    const up = await session.browse({
      nodeId: current,
      browseDirection: BrowseDirection.Inverse,
      referenceTypeId: HAS_SUBTYPE,
      includeSubtypes: false,
      resultMask: 0x3f,
    });
    const parent = up.references?.[0];
    if (!parent) break;
    current = parent.nodeId;
  }
  const result = { type, name };
  cache.set(dataTypeId, result);
  return result;
}

/** A BrowseName made a valid point name: letters, digits, '.', '_', '-', starting with a letter or digit. */
export function pointName(browseName: string): string {
  const cleaned = browseName
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 120);
  return cleaned === "" ? "point" : cleaned;
}

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

// ---- the YAML -----------------------------------------------------------------------------------

export interface DeviceYamlOptions {
  endpoint: string;
  deviceId: string;
  gatewayId?: string;
  securityMode?: SecurityModeName;
  securityPolicy?: SecurityPolicyName;
  username?: string | undefined;
  /** Written as `${file:PATH}`, so the password itself never lands in the file. */
  passwordFile?: string | undefined;
  /** X.509 user: the certificate and key files, written as paths. */
  userCertificate?: string | undefined;
  userPrivateKey?: string | undefined;
  root: string;
  depth: number;
  truncated: boolean;
  /** Only the device entry (to paste under an existing `devices:`), not a whole config file. */
  deviceOnly?: boolean;
}

const q = (s: string) => JSON.stringify(s);

/** A YAML config (or only its device entry) whose points are the browsed variables. */
export function deviceYaml(variables: BrowsedVariable[], o: DeviceYamlOptions): string {
  const points = variables.filter((v) => v.skipped === undefined);
  const skipped = variables.filter((v) => v.skipped !== undefined);
  const lines: string[] = [];
  lines.push(
    `# Browsed from ${o.endpoint} by iggy-edge browse (root ${o.root}, depth ${o.depth}): ` +
      `${points.length} point(s), ${skipped.length} variable(s) skipped${o.truncated ? "; the walk stopped at its variable limit" : ""}.`,
  );
  if (points.length === 0) {
    lines.push("# No variable of a supported type was found: try another --root or a greater --depth.");
  }
  const indent = o.deviceOnly ? "" : "  ";
  if (!o.deviceOnly) {
    lines.push(`gateway: { id: ${q(o.gatewayId ?? "edge")} }`);
    lines.push("devices:");
  }
  const conn: string[] = [
    `endpoint: ${q(o.endpoint)}`,
    `security_mode: ${o.securityMode ?? "None"}`,
    `security_policy: ${o.securityPolicy ?? (o.securityMode && o.securityMode !== "None" ? "Basic256Sha256" : "None")}`,
  ];
  if (o.username !== undefined) conn.push(`username: ${q(o.username)}`);
  if (o.passwordFile !== undefined) conn.push(`password: ${q(`\${file:${o.passwordFile}}`)}`);
  if (o.userCertificate !== undefined) conn.push(`user_certificate: ${q(o.userCertificate)}`);
  if (o.userPrivateKey !== undefined) conn.push(`user_private_key: ${q(o.userPrivateKey)}`);
  lines.push(`${indent}- id: ${q(o.deviceId)}`);
  lines.push(`${indent}  protocol: opcua`);
  lines.push(`${indent}  connection: { ${conn.join(", ")} }`);
  lines.push(`${indent}  points:${points.length === 0 ? " []" : ""}`);
  for (const v of points) {
    const fields = [`name: ${q(v.name)}`, `node: ${q(v.node)}`, `type: ${v.type}`];
    if (v.unit !== undefined) fields.push(`unit: ${q(v.unit)}`);
    if (v.writable) fields.push("write: true");
    lines.push(`${indent}    - { ${fields.join(", ")} }  # ${v.path.join("/")}`);
  }
  for (const v of skipped) {
    lines.push(`${indent}    # skipped ${q(v.node)} (${v.path.join("/")}): ${v.skipped}`);
  }
  return lines.join("\n") + "\n";
}
