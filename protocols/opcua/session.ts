// Opening an OPC-UA client session, one way for the adapter and `browse`: the client with its
// security mode and policy, application certificate and trust list; the user identity (anonymous,
// user name and password, or an X.509 certificate with its key); connect, then createSession.
import {
  MessageSecurityMode,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from "node-opcua-client";
import type { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { readFileSync } from "node:fs";
import type { SecurityModeName, SecurityPolicyName } from "./simulator.js";

export interface UserCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /** X.509 user: the certificate file (PEM or DER) and its private key (PEM). */
  userCertificate?: string | undefined;
  userPrivateKey?: string | undefined;
}

export interface ClientOptions {
  applicationName: string;
  applicationUri: string;
  clientName?: string;
  securityMode: SecurityModeName;
  securityPolicy: SecurityPolicyName;
  certificateManager: OPCUACertificateManager;
  /** The application certificate and key; node-opcua's defaults under the manager's folder if absent. */
  certificateFile?: string;
  privateKeyFile?: string;
  keepSessionAlive: boolean;
  sessionTimeoutMs: number;
  /** Time limit of one request. */
  transactionTimeoutMs?: number;
  connectionStrategy: { maxRetry: number; initialDelay: number; maxDelay: number };
}

export function createClient(o: ClientOptions): OPCUAClient {
  return OPCUAClient.create({
    applicationName: o.applicationName,
    applicationUri: o.applicationUri,
    ...(o.clientName !== undefined ? { clientName: o.clientName } : {}),
    securityMode: MessageSecurityMode[o.securityMode],
    securityPolicy: SecurityPolicy[o.securityPolicy],
    // The configured endpoint is used as given, also when the server lists it under another name.
    endpointMustExist: false,
    keepSessionAlive: o.keepSessionAlive,
    requestedSessionTimeout: o.sessionTimeoutMs,
    ...(o.transactionTimeoutMs !== undefined ? { defaultTransactionTimeout: o.transactionTimeoutMs } : {}),
    clientCertificateManager: o.certificateManager,
    ...(o.certificateFile !== undefined ? { certificateFile: o.certificateFile } : {}),
    ...(o.privateKeyFile !== undefined ? { privateKeyFile: o.privateKeyFile } : {}),
    connectionStrategy: o.connectionStrategy,
  });
}

/** Connects `client` to `endpoint` and makes a session as `user`; null when `signal` ended it first. */
export async function openSession(
  client: OPCUAClient,
  endpoint: string,
  user: UserCredentials,
  signal?: AbortSignal,
): Promise<ClientSession | null> {
  const identity = userIdentity(user);
  await client.connect(endpoint);
  if (signal?.aborted) return null;
  return client.createSession(identity);
}

export function userIdentity(u: UserCredentials): UserIdentityInfo {
  if (u.username !== undefined) {
    return { type: UserTokenType.UserName, userName: u.username, password: u.password ?? "" };
  }
  if (u.userCertificate !== undefined && u.userPrivateKey !== undefined) {
    const cert = readFileSync(u.userCertificate);
    const der = cert.toString("latin1").includes("-----BEGIN") ? pemToDer(cert.toString("utf8")) : cert;
    return {
      type: UserTokenType.Certificate,
      certificateData: der,
      privateKey: readFileSync(u.userPrivateKey, "utf8"),
    } as UserIdentityInfo;
  }
  return { type: UserTokenType.Anonymous };
}

function pemToDer(pem: string): Buffer {
  const body = pem
    .replace(/[\s\S]*?-----BEGIN CERTIFICATE-----/, "")
    .replace(/-----END CERTIFICATE-----[\s\S]*/, "")
    .replace(/\s+/g, "");
  return Buffer.from(body, "base64");
}
