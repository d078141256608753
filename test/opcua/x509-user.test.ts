// X.509 user authentication against asyncua (not ours) on SignAndEncrypt/Basic256Sha256: the user
// certificate asyncua was told to accept (PEM, and the same one in DER) logs in and reads; another
// certificate is refused with the server's BadUserAccessDenied, and that device alone stays down.
// `connectOpcua` (browse's connect, the same session helper) logs in with it too, and so does
// `iggy-edge browse opcua --user-certificate --user-key`, whose map carries the user and passes `check`.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { AttributeIds } from "node-opcua";
import { parse } from "yaml";
import { connectOpcua } from "../../protocols/opcua/browse.js";
import { runCliAsync } from "../helpers/cli.js";
import { tempDir } from "../iggy/helpers.js";
import {
  adapterFor,
  opcuaDevice,
  recorder,
  startSecurePeer,
  trustPeerCertificate,
  waitFor,
} from "./helpers.js";

/** asyncua with X.509 users only, its certificates, the users' and the gateway's data in folders removed at the end. */
async function x509Peer(t: TestContext) {
  const users = tempDir("iggy-edge-opcua-users-");
  t.after(() => users.remove());
  const secure = await startSecurePeer(t, { x509UserDir: users.path });
  return secure ? { ...secure, users } : null;
}

test(
  "X.509 user: the accepted user certificate (PEM or DER) reads, another one is refused",
  { timeout: 180_000 },
  async (t) => {
    const started = await x509Peer(t);
    if (!started) return;
    const { certs, users, peer, data } = started;
    trustPeerCertificate(certs.path, data.path);
    const device = (id: string, cert: string, key: string) =>
      opcuaDevice({
        id,
        connection: {
          endpoint: peer.endpoint,
          security_mode: "SignAndEncrypt",
          security_policy: "Basic256Sha256",
          user_certificate: join(users.path, cert),
          user_private_key: join(users.path, key),
        },
        points: [{ name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 }],
      });
    const rec = recorder();
    const adapter = adapterFor(
      t,
      [
        device("user-pem", "user_cert.pem", "user_key.pem"),
        device("user-der", "user_cert.der", "user_key.pem"),
        device("stranger", "stranger_cert.pem", "stranger_key.pem"),
      ],
      rec,
      { retryInitialMs: 200, retryMaxMs: 1000 },
      data.path,
    );
    await adapter.start(rec.emit);
    const state = (id: string) => adapter.health().devices.find((d) => d.device === id)!;
    await waitFor(
      "counter values of both devices with the accepted user certificate",
      () =>
        rec.readings.filter((r) => r.device === "user-pem").length >= 3 &&
        rec.readings.filter((r) => r.device === "user-der").length >= 3,
    );
    await waitFor("the stranger refused", () => adapter.stats().stranger!.connectFailures >= 1);
    assert.equal(state("stranger").up, false);
    assert.match(String(state("stranger").error), /BadUserAccessDenied/);
    assert.equal(rec.readings.filter((r) => r.device === "stranger").length, 0);
    assert.equal(state("user-pem").up, true);
    assert.equal(state("user-der").up, true);
    assert.ok(!rec.text().includes("PRIVATE KEY"), "no private key in the log");

    const pki = tempDir("iggy-edge-opcua-browse-pki-");
    t.after(() => pki.remove());
    const conn = await connectOpcua({
      endpoint: peer.endpoint,
      securityMode: "SignAndEncrypt",
      securityPolicy: "Basic256Sha256",
      userCertificate: join(users.path, "user_cert.pem"),
      userPrivateKey: join(users.path, "user_key.pem"),
      pkiDir: pki.path,
      trustUnknownServer: true,
    });
    t.after(() => conn.close());
    const dv = await conn.session.read({ nodeId: "ns=2;s=Counter", attributeId: AttributeIds.Value });
    assert.ok(dv.statusCode.isGood(), dv.statusCode.name);
    assert.equal(typeof dv.value.value, "number");
  },
);

test(
  "browse opcua --user-certificate --user-key: the accepted X.509 user browses, the map carries it and passes check; a stranger is refused",
  { timeout: 300_000 },
  async (t) => {
    const started = await x509Peer(t);
    if (!started) return;
    const { users, peer } = started;
    const dir = tempDir("iggy-edge-opcua-browse-");
    t.after(() => dir.remove());
    const out = join(dir.path, "browsed.yaml");
    const browse = (who: string) =>
      runCliAsync([
        "browse",
        "opcua",
        "--endpoint",
        peer.endpoint,
        "--security-mode",
        "SignAndEncrypt",
        "--user-certificate",
        join(users.path, `${who}_cert.pem`),
        "--user-key",
        join(users.path, `${who}_key.pem`),
        "--pki-dir",
        join(dir.path, "pki"),
        "--trust-server",
        "-o",
        out,
      ]);
    const stranger = await browse("stranger");
    assert.equal(stranger.code, 1, stranger.stderr);
    assert.match(stranger.stderr, /BadUserAccessDenied|X\.509 user/);
    const r = await browse("user");
    assert.equal(r.code, 0, r.stderr);
    const doc = parse(readFileSync(out, "utf8")) as {
      devices: { connection: Record<string, string>; points: { node: string }[] }[];
    };
    const device = doc.devices[0]!;
    assert.equal(device.connection.user_certificate, join(users.path, "user_cert.pem"));
    assert.equal(device.connection.user_private_key, join(users.path, "user_key.pem"));
    assert.ok(
      device.points.some((p) => p.node === "ns=2;s=Counter"),
      JSON.stringify(device.points),
    );
    const check = await runCliAsync(["check", "-c", out]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
  },
);

test("browse opcua: --user-certificate without --user-key, or beside --username, is refused before connecting", async () => {
  const base = ["browse", "opcua", "--endpoint", "opc.tcp://127.0.0.1:1"];
  const alone = await runCliAsync([...base, "--user-certificate", "cert.pem"]);
  assert.equal(alone.code, 2);
  assert.match(alone.stderr, /--user-certificate and --user-key go together/);
  const both = await runCliAsync([
    ...base,
    "--user-certificate",
    "c.pem",
    "--user-key",
    "k.pem",
    "--username",
    "u",
  ]);
  assert.equal(both.code, 2);
  assert.match(both.stderr, /one user identity/);
  const missing = await runCliAsync([
    ...base,
    "--user-certificate",
    "/nonexistent/c.pem",
    "--user-key",
    "/nonexistent/k.pem",
  ]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /cannot read --user-certificate/);
});
