// A test CA and a server certificate signed by it (openssl), for TLS listeners under test.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface TestCertificates {
  /** PEM files in the directory given. */
  ca: string;
  cert: string;
  key: string;
}

/** ca.pem, srv.pem and srv.key in `dir`: the server's name is `name` (CN and subjectAltName). */
export function makeTestCertificates(dir: string, name: string, altName = `DNS:${name}`): TestCertificates {
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { cwd: dir, encoding: "utf8" });
    assert.equal(r.status, 0, r.error?.message ?? r.stderr);
  };
  const days = ["-days", "2"];
  run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    ...days,
    "-subj",
    "/CN=Test CA",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign",
  ]);
  run([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    "srv.key",
    "-out",
    "srv.csr",
  ]);
  writeFileSync(join(dir, "ext.cnf"), `subjectAltName=${altName}\n`);
  run([
    "x509",
    "-req",
    "-in",
    "srv.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    ...days,
    "-out",
    "srv.pem",
    "-extfile",
    "ext.cnf",
  ]);
  return { ca: join(dir, "ca.pem"), cert: join(dir, "srv.pem"), key: join(dir, "srv.key") };
}
