// What `iggy-edge opcua trust` does (see opcua-command.ts); node:crypto reads the certificates, so
// node-opcua is not loaded.
import { ConfigError, formatIssue, loadConfig } from "../config.js";
import {
  TrustError,
  listCertificates,
  pkiDirOf,
  rejectedDirOf,
  trustRejected,
  trustedDirOf,
  type StoredCertificate,
} from "../../protocols/opcua/trust-list.js";
import type { TrustCliOptions } from "./opcua-command.js";

/** gateway.data_dir of the config file, read as the gateway reads it (`${env:...}` resolved, checked). */
export function dataDirFromConfig(file: string): string {
  try {
    return loadConfig(file).config.gateway.data_dir;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new Error(`the config ${file} does not load: ${e.issues.map(formatIssue).join("; ")}`);
  }
}

const day = (d: Date) => d.toISOString().slice(0, 10);

function line(c: StoredCertificate): string {
  const expired = c.validTo.getTime() < Date.now() ? " (expired)" : "";
  return `${c.thumbprint}  ${c.subject}  valid ${day(c.validFrom)} to ${day(c.validTo)}${expired}  ${c.file}`;
}

export async function runTrust(cert: string | undefined, o: TrustCliOptions): Promise<number> {
  let pkiDir: string;
  try {
    pkiDir = o.pkiDir ?? pkiDirOf(o.dataDir ?? dataDirFromConfig(o.config));
  } catch (e) {
    console.error(`iggy-edge opcua trust: ${(e as Error).message} (or pass --data-dir DIR)`);
    return 2;
  }
  if (cert === undefined) {
    const rejected = await listCertificates(rejectedDirOf(pkiDir));
    if (o.json) {
      for (const c of rejected) console.log(JSON.stringify(c));
      return 0;
    }
    if (rejected.length === 0) {
      console.log(`no rejected server certificates in ${rejectedDirOf(pkiDir)}`);
      return 0;
    }
    console.log(`rejected server certificates (trust one with: iggy-edge opcua trust THUMBPRINT):`);
    for (const c of rejected) console.log(line(c));
    return 0;
  }
  try {
    const trusted = await trustRejected(pkiDir, cert);
    console.log(`trusted ${trusted.subject} (${trusted.thumbprint}): ${trusted.file}`);
    if (trusted.validTo.getTime() < Date.now()) {
      console.error(
        `iggy-edge opcua trust: warning: this certificate expired on ${day(trusted.validTo)}; the connection will still be refused`,
      );
    }
    console.error(`the gateway uses it at its next connection attempt (it watches ${trustedDirOf(pkiDir)})`);
    return 0;
  } catch (e) {
    if (!(e instanceof TrustError)) throw e;
    console.error(`iggy-edge opcua trust: ${e.message}`);
    return 1;
  }
}
