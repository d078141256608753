// `iggy-edge browse opcua`: against our simulator (started by `iggy-edge simulate`, and in-process
// with SignAndEncrypt and a user) and against an asyncua server (not ours), the printed map passes
// `iggy-edge check` and its points are the server's variables: NodeId, type, unit, writable.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { parse } from "yaml";
import { browseVariables, connectOpcua, deviceYaml, pointName } from "../../protocols/opcua/browse.js";
import { killAtEnd } from "../helpers/cleanup.js";
import { cliPath, runCliAsync } from "../helpers/cli.js";
import { hasPythonModule, repoRoot, requirePeer } from "../helpers/peers.js";
import {
  EVERY_TYPE,
  freePort,
  opcuaDeviceConfig,
  spawnPeer,
  startSimulator,
  tempDir,
} from "./sim-helpers.js";

const runCli = (args: string[]) => runCliAsync(args, 240_000);

interface MapPoint {
  name: string;
  node: string;
  type: string;
  unit?: string;
  write?: unknown;
}

function devicePoints(file: string): MapPoint[] {
  const doc = parse(readFileSync(file, "utf8")) as { devices: { points: MapPoint[] }[] };
  assert.equal(doc.devices.length, 1);
  return doc.devices[0]!.points;
}

/** Every point of `expected` is in `got` with the same NodeId, type, unit and writability, and no other. */
function assertSamePoints(
  got: MapPoint[],
  expected: { node: string; type: string; unit?: string | null; writable: boolean }[],
) {
  const byNode = new Map(got.map((p) => [p.node, p]));
  assert.deepEqual([...byNode.keys()].sort(), expected.map((e) => e.node).sort());
  for (const e of expected) {
    const p = byNode.get(e.node)!;
    assert.equal(p.type, e.type, `${e.node} type`);
    assert.equal(p.unit, e.unit ?? undefined, `${e.node} unit`);
    assert.equal(p.write === true, e.writable, `${e.node} writable`);
  }
}

test("browse our simulator (run by `iggy-edge simulate`): the printed map passes check and is the simulated map", async (t) => {
  const dir = tempDir(t, "opcua-browse-");
  const port = await freePort();
  const config = join(dir, "sim.yaml");
  writeFileSync(
    config,
    [
      `gateway: { id: sim, data_dir: ${JSON.stringify(join(dir, "data"))} }`,
      "devices:",
      "  - id: press-4",
      "    protocol: opcua",
      `    connection: { endpoint: "opc.tcp://127.0.0.1:${port}" }`,
      "    points:",
      ...EVERY_TYPE.map((p) => `      - ${JSON.stringify(p)}`),
    ].join("\n") + "\n",
  );
  const sim = killAtEnd(t, spawn(process.execPath, [cliPath, "simulate", "-c", config], { cwd: repoRoot }));
  let simLog = "";
  sim.stderr.on("data", (d: Buffer) => (simLog += d.toString()));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: sim.stdout }).on("line", (l) => {
      simLog += l + "\n";
      if (l.includes('"simulating"')) resolve();
    });
    sim.once("exit", (code) => reject(new Error(`simulate exited (${code}): ${simLog}`)));
  });
  const out = join(dir, "browsed.yaml");
  const r = await runCli([
    "browse",
    "opcua",
    "--endpoint",
    `opc.tcp://127.0.0.1:${port}`,
    "--pki-dir",
    join(dir, "pki"),
    "--device-id",
    "press-4",
    "-o",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /12 point\(s\), 0 variable\(s\) skipped/);
  const check = await runCli(["check", "-c", out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /OK/);
  assertSamePoints(
    devicePoints(out),
    EVERY_TYPE.map((p) => ({
      node: p.node as string,
      type: p.type as string,
      unit: p.unit as string | undefined,
      writable: p.write !== undefined,
    })),
  );
  assert.deepEqual(
    devicePoints(out)
      .map((p) => p.name)
      .sort(),
    EVERY_TYPE.map((p) => p.name as string).sort(),
  );
  // On stdout the YAML and nothing else (node-opcua's own warnings go to stderr).
  const toStdout = await runCli([
    "browse",
    "opcua",
    "--endpoint",
    `opc.tcp://127.0.0.1:${port}`,
    "--pki-dir",
    join(dir, "pki"),
  ]);
  assert.equal(toStdout.code, 0, toStdout.stderr);
  const parsed = parse(toStdout.stdout) as { devices: { points: unknown[] }[] };
  assert.equal(parsed.devices[0]!.points.length, EVERY_TYPE.length);
});

test("browse with SignAndEncrypt and a user name, from a given root and depth; the password stays in its file", async (t) => {
  const dir = tempDir(t, "opcua-browse-");
  const device = opcuaDeviceConfig("press-4", EVERY_TYPE, { username: "operator", password: "s3cret" });
  const sim = await startSimulator(t, [device], { animateMs: 0 });
  const passwordFile = join(dir, "password");
  writeFileSync(passwordFile, "s3cret\n");
  const out = join(dir, "browsed.yaml");
  const base = [
    "browse",
    "opcua",
    "--endpoint",
    sim.endpoint("press-4"),
    "--security-mode",
    "SignAndEncrypt",
    "--security-policy",
    "Basic256Sha256",
    "--username",
    "operator",
    "--password-file",
    passwordFile,
    "--pki-dir",
    join(dir, "pki"),
  ];
  // An untrusted server certificate: refused, saying how to trust it.
  const refused = await runCli([...base, "-o", out]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /BadCertificateUntrusted.*--trust-server/s);
  const r = await runCli([
    ...base,
    "--trust-server",
    "--root",
    "ns=1;s=device:press-4",
    "--depth",
    "1",
    "-o",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(out, "utf8");
  assert.doesNotMatch(text, /s3cret/);
  assert.match(text, /security_mode: SignAndEncrypt/);
  const check = await runCli(["check", "-c", out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.equal(devicePoints(out).length, EVERY_TYPE.length);
  // Depth 1 from Objects reaches the device folder, not its variables.
  const conn = await connectOpcua({
    endpoint: sim.endpoint("press-4"),
    pkiDir: join(dir, "pki"),
    username: "operator",
    password: "s3cret",
  });
  t.after(() => conn.close());
  assert.equal((await browseVariables(conn.session, { depth: 1 })).variables.length, 0);
  assert.equal((await browseVariables(conn.session, { depth: 2 })).variables.length, EVERY_TYPE.length);
  const limited = await browseVariables(conn.session, { maxVariables: 3 });
  assert.equal(limited.truncated, true);
  assert.equal(limited.variables.length, 3);
});

test("browse an asyncua server (not ours): types, units and writability as it serves them; unsupported ones commented", async (t) => {
  if (
    !requirePeer(t, "asyncua (Python)", hasPythonModule("asyncua"), "scripts/setup.sh --peers (PyPI asyncua)")
  )
    return;
  const dir = tempDir(t, "opcua-browse-");
  const port = await freePort();
  const server = spawnPeer(t, "asyncua_browse_server.py", [String(port)]);
  const manifest = await server.next<{
    endpoint: string;
    variables: {
      browse_name: string;
      node: string;
      type: string;
      writable: boolean;
      unit: string | null;
      supported: boolean;
    }[];
  }>("the asyncua server to start");
  const out = join(dir, "browsed.yaml");
  const r = await runCli([
    "browse",
    "opcua",
    "--endpoint",
    manifest.endpoint,
    "--pki-dir",
    join(dir, "pki"),
    "-o",
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const check = await runCli(["check", "-c", out]);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  const supported = manifest.variables.filter((v) => v.supported);
  assertSamePoints(devicePoints(out), supported);
  const text = readFileSync(out, "utf8");
  for (const v of manifest.variables.filter((x) => !x.supported)) {
    assert.match(text, new RegExp(`# skipped "${v.node.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"`));
  }
  // A BrowseName that is not a valid point name becomes one.
  assert.ok(devicePoints(out).some((p) => p.name === "Level.SByte"));
});

test("point names: made valid for the schema and unique; an empty walk says so", () => {
  assert.equal(pointName("Temperature (°C)"), "Temperature_C_");
  assert.equal(pointName("__x"), "x");
  assert.equal(pointName("???"), "point");
  const yaml = deviceYaml([], {
    endpoint: "opc.tcp://h:1",
    deviceId: "d",
    root: "i=85",
    depth: 2,
    truncated: false,
  });
  assert.match(yaml, /0 point\(s\)/);
  assert.match(yaml, /No variable of a supported type/);
});
