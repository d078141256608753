// `iggy-edge opcua trust` against an asyncua server (not ours) with its own certificate on a
// SignAndEncrypt endpoint: the gateway refuses it and stores its certificate in rejected/, the log
// line names the exact command, `opcua trust` lists the certificate and (run as the log says) trusts
// it, and the running adapter then connects and reads.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { test } from "node:test";
import { runCliAsync as cli } from "../helpers/cli.js";
import { tempDir } from "../iggy/helpers.js";
import { adapterFor, opcuaDevice, recorder, startPeer, startSecurePeer, waitFor } from "./helpers.js";

test(
  "opcua trust: the refused server's certificate is listed, trusted by the command the log names, and read",
  { timeout: 240_000 },
  async (t) => {
    const secure = await startSecurePeer(t);
    if (!secure) return;
    const { peer, certs, data } = secure;
    // Only gateway.data_dir matters to `opcua trust -c`, read as the gateway reads it: from the environment here.
    const config = join(data.path, "config.yaml");
    writeFileSync(config, 'gateway: { id: gw-test, data_dir: "${env:TRUST_TEST_DATA}" }\n');
    const serverThumbprint = createHash("sha1")
      .update(readFileSync(join(certs.path, "server_cert.der")))
      .digest("hex");

    const rec = recorder();
    const dev = opcuaDevice({
      id: "secure",
      connection: {
        endpoint: peer.endpoint,
        security_mode: "SignAndEncrypt",
        security_policy: "Basic256Sha256",
      },
      points: [{ name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 }],
    });
    const adapter = adapterFor(t, [dev], rec, { retryInitialMs: 200, retryMaxMs: 500 }, data.path);
    await adapter.start(rec.emit);
    const prefix = "opcua server certificate not trusted: ";
    await waitFor("the untrusted line", () => rec.logs.some((l) => String(l.msg).startsWith(prefix)));
    const line = String(rec.logs.find((l) => String(l.msg).startsWith(prefix))!.msg);
    const command = /run: (iggy-edge opcua trust \S+ --data-dir \S+)/.exec(line)?.[1];
    assert.ok(command, line);
    assert.equal(command, `iggy-edge opcua trust ${serverThumbprint} --data-dir ${resolve(data.path)}`);
    assert.ok(line.includes("CN=asyncua-peer"), line);
    assert.equal(adapter.health().devices[0]!.up, false);
    assert.equal(rec.readings.length, 0);
    const rejectedDir = join(data.path, "opcua", "pki", "rejected");
    const rejected = readdirSync(rejectedDir);
    assert.equal(rejected.length, 1, rejected.join(", "));

    // Listed, through the config's data_dir.
    const list = await cli(["opcua", "trust", "-c", config], { TRUST_TEST_DATA: data.path });
    assert.equal(list.code, 0, list.stderr);
    assert.match(
      list.stdout,
      new RegExp(
        `^${serverThumbprint}  .*CN=asyncua-peer.*  valid \\d{4}-\\d\\d-\\d\\d to \\d{4}-\\d\\d-\\d\\d  ${join(rejectedDir, rejected[0]!).replace(/[[\]]/g, "\\$&")}$`,
        "m",
      ),
    );
    const json = await cli(["opcua", "trust", "--data-dir", data.path, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const listed = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, string>);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.thumbprint, serverThumbprint);
    // A config that does not load says why.
    const unset = await cli(["opcua", "trust", "-c", config], { TRUST_TEST_DATA: undefined });
    assert.equal(unset.code, 2);
    assert.match(unset.stderr, /TRUST_TEST_DATA/);
    assert.ok(Date.parse(listed[0]!.validTo!) > Date.now());

    // A reference that names nothing, or too little, is refused and moves nothing.
    const none = await cli([
      "opcua",
      "trust",
      "--data-dir",
      data.path,
      serverThumbprint === "0000" ? "1111" : "0000",
    ]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no rejected certificate's thumbprint starts with/);
    const short = await cli(["opcua", "trust", "--data-dir", data.path, "ab"]);
    assert.equal(short.code, 1);
    assert.match(short.stderr, /no thumbprint prefix/);
    assert.equal(readdirSync(rejectedDir).length, 1);

    // The command exactly as the log line says it.
    const args = command.split(" ").slice(1);
    const trusted = await cli(args);
    assert.equal(trusted.code, 0, trusted.stderr);
    const trustedFile = join(data.path, "opcua", "pki", "trusted", "certs", rejected[0]!);
    assert.ok(trusted.stdout.includes(trustedFile), trusted.stdout);
    assert.ok(existsSync(trustedFile));
    assert.equal(readdirSync(rejectedDir).length, 0);

    await waitFor(
      "counter values over the secure session",
      () => rec.readings.filter((r) => r.point === "counter").length >= 3,
    );
    assert.equal(adapter.health().devices[0]!.up, true);
  },
);

test(
  "two refused servers: each device's hint names the certificate its own server presented, not the newest one",
  { timeout: 240_000 },
  async (t) => {
    const servers = await Promise.all(
      ["a", "b"].map(async () => {
        const certs = tempDir("iggy-edge-opcua-server-");
        t.after(() => certs.remove());
        const peer = await startPeer(t, { secureDir: certs.path });
        const thumbprint = peer
          ? createHash("sha1")
              .update(readFileSync(join(certs.path, "server_cert.der")))
              .digest("hex")
          : "";
        return { peer, thumbprint };
      }),
    );
    if (servers.some((s) => s.peer === null)) return;
    assert.notEqual(servers[0]!.thumbprint, servers[1]!.thumbprint);
    const data = tempDir("iggy-edge-opcua-data-");
    t.after(() => data.remove());
    const rec = recorder();
    const devices = servers.map((s, i) =>
      opcuaDevice({
        id: `secure-${i}`,
        connection: {
          endpoint: s.peer!.endpoint,
          security_mode: "SignAndEncrypt",
          security_policy: "Basic256Sha256",
        },
        points: [{ name: "counter", node: "ns=2;s=Counter", sampling_ms: 50 }],
      }),
    );
    const adapter = adapterFor(t, devices, rec, { retryInitialMs: 200, retryMaxMs: 500 }, data.path);
    await adapter.start(rec.emit);
    const rejectedDir = join(data.path, "opcua", "pki", "rejected");
    // Both certificates stored, and each device refused again after that: its latest error names its own.
    await waitFor(
      "both certificates in rejected/",
      () => existsSync(rejectedDir) && readdirSync(rejectedDir).length === 2,
    );
    const failures = devices.map((d) => adapter.stats()[d.id]!.connectFailures);
    await waitFor("each device refused once more", () =>
      devices.every((d, i) => adapter.stats()[d.id]!.connectFailures > failures[i]! + 1),
    );
    for (const [i, d] of devices.entries()) {
      const state = adapter.health().devices.find((s) => s.device === d.id)!;
      assert.equal(state.up, false);
      const error = String(state.error);
      assert.ok(error.includes(`iggy-edge opcua trust ${servers[i]!.thumbprint} `), error);
      assert.ok(!error.includes(servers[1 - i]!.thumbprint), error);
    }
  },
);
