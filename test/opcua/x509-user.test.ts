// X.509 user authentication against asyncua (not ours) on SignAndEncrypt/Basic256Sha256: the user
// certificate asyncua was told to accept (PEM, and the same one in DER) logs in and reads; another
// certificate is refused with the server's BadUserAccessDenied, and that device alone stays down.
// `connectOpcua` (browse's connect, the same session helper) logs in with it too.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { AttributeIds } from "node-opcua";
import { connectOpcua } from "../../protocols/opcua/browse.js";
import { tempDir } from "../iggy/helpers.js";
import {
  adapterFor,
  opcuaDevice,
  recorder,
  startSecurePeer,
  trustPeerCertificate,
  waitFor,
} from "./helpers.js";

test(
  "X.509 user: the accepted user certificate (PEM or DER) reads, another one is refused",
  { timeout: 180_000 },
  async (t) => {
    const users = tempDir("iggy-edge-opcua-users-");
    t.after(() => users.remove());
    const secure = await startSecurePeer(t, { x509UserDir: users.path });
    if (!secure) return;
    const { peer, certs, data } = secure;
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
