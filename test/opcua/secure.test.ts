// A SignAndEncrypt/Basic256Sha256 endpoint of asyncua (not ours) with a user name: the server's
// certificate is first untrusted (refused, with a line naming the file to move), then trusted by
// moving that file, and values arrive.
import assert from "node:assert/strict";
import { readdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { adapterFor, opcuaDevice, recorder, startSecurePeer, waitFor } from "./helpers.js";

test(
  "an untrusted server certificate is refused with the file to move (beside the trust command); once moved by hand, the secure session reads",
  { timeout: 180_000 },
  async (t) => {
    const secure = await startSecurePeer(t, { user: "gw:s3cret-pw" });
    if (!secure) return;
    const { peer, data } = secure;
    const rec = recorder();
    const dev = opcuaDevice({
      id: "secure",
      connection: {
        endpoint: peer.endpoint,
        security_mode: "SignAndEncrypt",
        security_policy: "Basic256Sha256",
        username: "gw",
        password: "s3cret-pw",
      },
      points: [{ name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 }],
    });
    const adapter = adapterFor(t, [dev], rec, { retryInitialMs: 200, retryMaxMs: 500 }, data.path);
    await adapter.start(rec.emit);
    const hint = "opcua server certificate not trusted: ";
    await waitFor("the untrusted line", () => rec.logs.some((l) => String(l.msg).startsWith(hint)));
    const line = String(rec.logs.find((l) => String(l.msg).startsWith(hint))!.msg);
    const m = /\(or move (\S+) to (\S+)\/\)$/.exec(line);
    assert.ok(m, line);
    const [, file, trusted] = m;
    assert.ok(file!.startsWith(join(data.path, "opcua", "pki", "rejected")), file);
    assert.equal(adapter.health().devices[0]!.up, false);
    assert.equal(rec.readings.length, 0);

    renameSync(file!, join(trusted!, file!.split("/").at(-1)!));
    await waitFor(
      "counter values over the secure session",
      () => rec.readings.filter((r) => r.point === "counter").length >= 3,
    );
    assert.equal(adapter.health().devices[0]!.up, true);
    assert.ok(!rec.text().includes("s3cret-pw"), "the password is not in the log");
    assert.ok(
      readdirSync(join(data.path, "opcua", "pki", "own", "certs")).length >= 1,
      "the application certificate is under the data dir",
    );
  },
);
