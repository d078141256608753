// The gateway's trust list of OPC-UA server certificates as files: <data_dir>/opcua/pki/rejected/
// holds what servers presented and nobody trusted yet, trusted/certs/ what the gateway accepts.
// Read with node:crypto only, so that `iggy-edge opcua trust` does not load node-opcua.
import { X509Certificate } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";

export function pkiDirOf(dataDir: string): string {
  return join(resolve(dataDir), "opcua", "pki");
}

export const rejectedDirOf = (pkiDir: string): string => join(pkiDir, "rejected");
export const trustedDirOf = (pkiDir: string): string => join(pkiDir, "trusted", "certs");

export interface StoredCertificate {
  file: string;
  /** The subject's fields, such as `CN=asyncua-peer, O=iggy-edge tests`. */
  subject: string;
  /** SHA-1 of the DER certificate, lowercase hex: what OPC-UA calls the thumbprint. */
  thumbprint: string;
  validFrom: Date;
  validTo: Date;
  /** The newest file's modification time. */
  storedAt: Date;
}

export class TrustError extends Error {
  override name = "TrustError";
}

function describe(file: string, bytes: Buffer, storedAt: Date): StoredCertificate {
  const cert = new X509Certificate(bytes);
  return {
    file,
    subject: cert.subject.split("\n").join(", "),
    thumbprint: cert.fingerprint.replace(/:/g, "").toLowerCase(),
    validFrom: new Date(cert.validFrom),
    validTo: new Date(cert.validTo),
    storedAt,
  };
}

/** The certificates in `dir`, oldest stored first; files that are not certificates are left out. */
export async function listCertificates(dir: string): Promise<StoredCertificate[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const out: StoredCertificate[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const s = await stat(file);
      if (!s.isFile()) continue;
      out.push(describe(file, await readFile(file), s.mtime));
    } catch {
      continue;
    }
  }
  return out.sort((a, b) => a.storedAt.getTime() - b.storedAt.getTime());
}

/** The rejected certificate that `ref` names: its file name, or a prefix of its thumbprint. */
export async function findRejected(pkiDir: string, ref: string): Promise<StoredCertificate> {
  const dir = rejectedDirOf(pkiDir);
  const all = await listCertificates(dir);
  const byName = all.filter((c) => basename(c.file) === basename(ref));
  if (byName.length === 1) return byName[0]!;
  const prefix = ref.replace(/:/g, "").toLowerCase();
  if (!/^[0-9a-f]{4,40}$/.test(prefix)) {
    throw new TrustError(
      `no rejected certificate is named ${ref} in ${dir}, and it is no thumbprint prefix (4 to 40 hex digits)`,
    );
  }
  const matches = all.filter((c) => c.thumbprint.startsWith(prefix));
  if (matches.length === 0) {
    throw new TrustError(
      `no rejected certificate's thumbprint starts with ${prefix} (${all.length} in ${dir}; run without an argument to list them)`,
    );
  }
  if (matches.length > 1) {
    throw new TrustError(
      `${matches.length} rejected certificates' thumbprints start with ${prefix}: give more digits (${matches
        .map((c) => c.thumbprint)
        .join(", ")})`,
    );
  }
  return matches[0]!;
}

/** Moves the rejected certificate `ref` names into trusted/certs/; returns it with its new file. */
export async function trustRejected(pkiDir: string, ref: string): Promise<StoredCertificate> {
  const cert = await findRejected(pkiDir, ref);
  const dir = trustedDirOf(pkiDir);
  await mkdir(dir, { recursive: true });
  const file = join(dir, basename(cert.file));
  await rename(cert.file, file);
  return { ...cert, file };
}

/** The exact command that trusts `cert`: in the gateway's data directory, or in a PKI folder of its own. */
export function trustCommand(
  cert: StoredCertificate,
  where: { dataDir: string } | { pkiDir: string },
): string {
  const option =
    "dataDir" in where ? `--data-dir ${resolve(where.dataDir)}` : `--pki-dir ${resolve(where.pkiDir)}`;
  return `iggy-edge opcua trust ${cert.thumbprint} ${option}`;
}

/** The newest certificate in `pkiDir`'s rejected/ (the one a refused connection just stored), if any. */
export async function newestRejected(pkiDir: string): Promise<StoredCertificate | undefined> {
  return (await listCertificates(rejectedDirOf(pkiDir)).catch(() => [])).at(-1);
}

/** The thumbprint (SHA-1, lowercase hex) of a DER certificate, or of the first of a DER chain. */
export function thumbprintOf(der: Buffer): string | undefined {
  try {
    return describe("", der, new Date(0)).thumbprint;
  } catch {
    return undefined;
  }
}

/**
 * The rejected certificate a server presented: the one with `thumbprint` when known and stored,
 * else the newest (what a refused connection just stored).
 */
export async function rejectedFor(
  pkiDir: string,
  thumbprint: string | undefined,
): Promise<StoredCertificate | undefined> {
  const all = await listCertificates(rejectedDirOf(pkiDir)).catch(() => []);
  if (thumbprint !== undefined) {
    const own = all.find((c) => c.thumbprint === thumbprint);
    if (own) return own;
  }
  return all.at(-1);
}
