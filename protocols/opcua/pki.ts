// The gateway's OPC-UA application certificate and its trust list, under the data directory:
// <data_dir>/opcua/pki/{own,trusted,rejected,issuers}. node-opcua makes the certificate on the first
// connection; a server certificate nobody trusted yet lands in rejected/ and the gateway says which
// file to move to trusted/certs/.
import { OPCUACertificateManager } from "node-opcua";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

export interface CertificateFiles {
  pkiDir: string;
  certificateFile: string;
  privateKeyFile: string;
}

export function applicationCertificateFiles(dataDir: string): CertificateFiles {
  const pkiDir = join(dataDir, "opcua", "pki");
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

/** The newest certificate in rejected/ and where to move it; undefined when there is none. */
export async function untrustedHint(cm: OPCUACertificateManager | null): Promise<string | undefined> {
  if (!cm) return undefined;
  const dir = cm.rejectedFolder;
  let newest: { file: string; at: number } | undefined;
  try {
    for (const name of await readdir(dir)) {
      const file = join(dir, name);
      const at = (await stat(file)).mtimeMs;
      if (!newest || at > newest.at) newest = { file, at };
    }
  } catch {
    return undefined;
  }
  if (!newest) return undefined;
  return `to trust this server, move ${newest.file} to ${cm.trustedFolder}/`;
}
