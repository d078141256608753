// The gateway's OPC-UA application certificate and its trust list, under the data directory:
// <data_dir>/opcua/pki/{own,trusted,rejected,issuers}. node-opcua makes the certificate on the first
// connection; a server certificate nobody trusted yet lands in rejected/ and the gateway names the
// command that trusts it (`iggy-edge opcua trust THUMBPRINT`, see trust-list.ts).
import { OPCUACertificateManager } from "node-opcua";
import { join } from "node:path";
import { newestRejected, pkiDirOf, trustCommand, trustedDirOf } from "./trust-list.js";

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
 * How to trust the newest certificate in rejected/ (the one the failed connection just stored):
 * the command, and the file to move as the alternative; undefined when there is none.
 */
export async function untrustedHint(dataDir: string): Promise<string | undefined> {
  const pkiDir = pkiDirOf(dataDir);
  const newest = await newestRejected(pkiDir);
  if (!newest) return undefined;
  return (
    `to trust this server (${newest.subject}), run: ${trustCommand(newest, { dataDir })} ` +
    `(or move ${newest.file} to ${trustedDirOf(pkiDir)}/)`
  );
}
