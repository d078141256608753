// The Aes128_Sha256_RsaOaep and Aes256_Sha256_RsaPss security policies against asyncua 2.1.0 (not
// ours), which offers each as its only endpoint (SignAndEncrypt): values arrive and a write lands,
// so both directions travel signed and encrypted with that policy; a client asking for
// Basic256Sha256 on the same server is refused, so the server holds to the policy.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  adapterFor,
  opcuaDevice,
  recorder,
  startSecurePeer,
  trustPeerCertificate,
  waitFor,
} from "./helpers.js";

for (const policy of ["Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] as const) {
  test(
    `SignAndEncrypt/${policy} against asyncua: values arrive, a write lands, a Basic256Sha256 client is refused`,
    { timeout: 180_000 },
    async (t) => {
      const secure = await startSecurePeer(t, { policy, user: "gw:pw-of-gw" });
      if (!secure) return;
      const { peer, certs, data } = secure;
      trustPeerCertificate(certs.path, data.path);
      const rec = recorder();
      const dev = opcuaDevice({
        id: "aes",
        connection: {
          endpoint: peer.endpoint,
          security_mode: "SignAndEncrypt",
          security_policy: policy,
          username: "gw",
          password: "pw-of-gw",
        },
        points: [
          { name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 },
          { name: "setpoint", node: "ns=2;s=Setpoint", write: true },
        ],
      });
      const other = opcuaDevice({
        id: "basic",
        connection: { ...dev.connection, security_policy: "Basic256Sha256" },
        points: [{ name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 }],
      });
      const adapter = adapterFor(t, [dev, other], rec, { retryInitialMs: 200, retryMaxMs: 1000 }, data.path);
      await adapter.start(rec.emit);
      await waitFor(
        `counter values over ${policy}`,
        () => rec.readings.filter((r) => r.point === "counter").length >= 3,
      );
      await adapter.write({ device: "aes", point: "setpoint" }, 42.5);
      await peer.ping();
      assert.deepEqual(peer.writesTo("Setpoint"), [{ write: "Setpoint", value: 42.5, type: "Double" }]);
      assert.equal(adapter.stats().aes!.connectFailures, 0);
      await waitFor("the Basic256Sha256 client refused", () => adapter.stats().basic!.connectFailures >= 1);
      assert.equal(adapter.health().devices.find((d) => d.device === "basic")!.up, false);
      assert.equal(rec.readings.filter((r) => r.device === "basic").length, 0);
    },
  );
}
