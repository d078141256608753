// The gateway's OPC-UA application certificate and its trust list, under the data directory:
// <data_dir>/opcua/pki/{own,trusted,rejected,issuers}. node-opcua makes the certificate on the first
// connection; a server certificate nobody trusted yet lands in rejected/ and the gateway names the
// command that trusts it (`iggy-edge opcua trust THUMBPRINT`, see trust-list.ts).
import { OPCUACertificateManager } from "node-opcua-certificate-manager";
import { join } from "node:path";
import { pkiDirOf, rejectedFor, thumbprintOf, trustCommand, trustedDirOf } from "./trust-list.js";

export interface CertificateFiles {
  pkiDir: string;
  certificateFile: string;
  privateKeyFile: string;
}

export function applicationCertificateFiles(dataDir: string): CertificateFiles {
  const pkiDir = pkiDirOf(dataDir);
  return {
    pkiDir,
    certificateFile: join(pkiDir, "own", "certs", "client_certificate.pem"),
    privateKeyFile: join(pkiDir, "own", "private", "private_key.pem"),
  };
}

export async function certificateManager(pkiDir: string): Promise<OPCUACertificateManager> {
  const cm = new OPCUACertificateManager({
    rootFolder: pkiDir,
    automaticallyAcceptUnknownCertificate: false,
  });
  await cm.initialize();
  return cm;
}

/**
 * The certificate manager as one client sees it: the same (shared) manager, which also remembers
 * the last certificate a server presented to this client, so that a refusal names that server's.
 */
export interface WatchedCertificateManager {
  manager: OPCUACertificateManager;
  /** The DER certificate (or chain) the server presented last; undefined before any. */
  presented(): Buffer | undefined;
}

export function watchPresentedCertificates(shared: OPCUACertificateManager): WatchedCertificateManager {
  let last: Buffer | undefined;
  // The methods run on the shared manager itself (it keeps private fields); the client's check of
  // the server's certificate passes through here first.
  const manager = new Proxy(shared, {
    get(target, key) {
      if (key === "checkCertificate") {
        return (certificate: Buffer | Buffer[], ...rest: unknown[]) => {
          last = Array.isArray(certificate) ? certificate[0] : certificate;
          return (target.checkCertificate as (...a: unknown[]) => unknown).call(target, certificate, ...rest);
        };
      }
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { manager, presented: () => last };
}

/**
 * How to trust the certificate a refused server presented (`presented`; without it, the newest in
 * rejected/): the command, and the file to move as the alternative; undefined when there is none.
 */
export async function untrustedHint(dataDir: string, presented?: Buffer): Promise<string | undefined> {
  const pkiDir = pkiDirOf(dataDir);
  const cert = await rejectedFor(pkiDir, presented === undefined ? undefined : thumbprintOf(presented));
  if (!cert) return undefined;
  return (
    `to trust this server (${cert.subject}), run: ${trustCommand(cert, { dataDir })} ` +
    `(or move ${cert.file} to ${trustedDirOf(pkiDir)}/)`
  );
}
