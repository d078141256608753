// The OPC-UA simulator, read by node-opcua's client and by asyncua's (a client that is not ours):
// the device map's variables with their DataTypes, values that change, writes only where the map
// allows them, EngineeringUnits, the secure endpoints and users, and its faults.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AttributeIds,
  DataType,
  OPCUAClient,
  StatusCodes,
  Variant,
  VariantArrayType,
  type ClientSession,
} from "node-opcua";
import { connectOpcua, OpcuaConnectError } from "../../protocols/opcua/browse.js";
import { parseFaults } from "../../protocols/opcua/simulator.js";
import { runCli } from "../helpers/cli.js";
import { hasPythonModule, requirePeer } from "../helpers/peers.js";
import { onceWithin, waitFor } from "../helpers/wait.js";
import {
  EVERY_TYPE,
  opcuaDeviceConfig,
  spawnPeer,
  startSimulator,
  tempDir,
  type AsyncuaInfo,
} from "./sim-helpers.js";

const readValue = async (session: ClientSession, nodeId: string) =>
  session.read({ nodeId, attributeId: AttributeIds.Value });

async function session(t: { after(fn: () => Promise<void>): void }, endpoint: string, pkiDir: string) {
  const conn = await connectOpcua({ endpoint, pkiDir });
  t.after(() => conn.close());
  return conn.session;
}

test("serves every point with its DataType and access level, values change, writes only where writable (node-opcua client)", async (t) => {
  const pki = tempDir(t, "opcua-client-pki-");
  const sim = await startSimulator(t, [opcuaDeviceConfig("press-4", EVERY_TYPE)], { animateMs: 20 });
  const s = await session(t, sim.endpoint("press-4"), pki);
  for (const p of EVERY_TYPE) {
    const [dt, access, value] = await s.read([
      { nodeId: p.node as string, attributeId: AttributeIds.DataType },
      { nodeId: p.node as string, attributeId: AttributeIds.AccessLevel },
      { nodeId: p.node as string, attributeId: AttributeIds.Value },
    ]);
    assert.equal(
      dt!.value.value.toString(),
      `ns=0;i=${DataType[p.type as keyof typeof DataType]}`,
      p.name as string,
    );
    assert.equal(((access!.value.value as number) & 2) !== 0, p.write !== undefined, `${p.name} writable`);
    assert.equal(value!.statusCode, StatusCodes.Good);
    assert.equal(value!.value.dataType, DataType[p.type as keyof typeof DataType], p.name as string);
  }
  // Read-only points change (the simulation ticks every 20 ms).
  const first = (await readValue(s, "ns=2;s=Temperature")).value.value as number;
  await waitFor(
    "the temperature to change",
    async () => (await readValue(s, "ns=2;s=Temperature")).value.value !== first,
  );
  const c0 = (await readValue(s, "ns=1;s=Count16")).value.value as number;
  await waitFor(
    "the UInt16 ramp to move",
    async () => (await readValue(s, "ns=1;s=Count16")).value.value !== c0,
  );

  // Writes: accepted on writable points (the simulator keeps the value), refused on the others.
  const write = (nodeId: string, dataType: DataType, value: unknown) =>
    s.write({
      nodeId,
      attributeId: AttributeIds.Value,
      value: { value: new Variant({ dataType, arrayType: VariantArrayType.Scalar, value }) },
    });
  assert.equal(await write("ns=2;s=Speed", DataType.Double, 1234.5), StatusCodes.Good);
  assert.equal(sim.get("press-4", "speed"), 1234.5);
  assert.equal(await write("ns=3;s=Energy", DataType.Int64, [0x12, 0x34]), StatusCodes.Good);
  assert.equal(sim.get("press-4", "energy"), (0x12n << 32n) | 0x34n);
  assert.equal(await write("ns=1;s=Label", DataType.String, "hello"), StatusCodes.Good);
  assert.equal((await readValue(s, "ns=1;s=Label")).value.value, "hello");
  assert.equal(await write("ns=2;s=Temperature", DataType.Float, 1), StatusCodes.BadNotWritable);
  assert.equal(await write("ns=1;s=Serial", DataType.UInt64, [0, 1]), StatusCodes.BadNotWritable);
  // A write of another DataType is the server's to refuse, not ours to coerce.
  assert.equal(await write("ns=2;s=Speed", DataType.String, "fast"), StatusCodes.BadTypeMismatch);
  assert.equal(sim.writeCounts()["press-4"], 3);
  // A writable point keeps what was written while the others go on changing.
  const before = (await readValue(s, "ns=2;s=Temperature")).value.value;
  await waitFor(
    "another change",
    async () => (await readValue(s, "ns=2;s=Temperature")).value.value !== before,
  );
  assert.equal((await readValue(s, "ns=2;s=Speed")).value.value, 1234.5);

  // EngineeringUnits where the map gives a unit.
  const eu = await s.translateBrowsePath({
    startingNode: "ns=2;s=Speed",
    relativePath: { elements: [{ targetName: { namespaceIndex: 0, name: "EngineeringUnits" } }] },
  });
  assert.equal(eu.statusCode, StatusCodes.Good);
  const euValue = await readValue(s, eu.targets![0]!.targetId.toString());
  assert.equal((euValue.value.value as { displayName: { text: string } }).displayName.text, "rpm");
});

test("asyncua's client reads the simulator's types, values and units, and its writes are enforced", async (t) => {
  if (
    !requirePeer(t, "asyncua (Python)", hasPythonModule("asyncua"), "scripts/setup.sh --peers (PyPI asyncua)")
  )
    return;
  const sim = await startSimulator(t, [opcuaDeviceConfig("press-4", EVERY_TYPE)], { animateMs: 0 });
  sim.set("press-4", "energy", -(2n ** 40n));
  sim.set("press-4", "serial", 2n ** 60n);
  sim.set("press-4", "small", -5);
  sim.set("press-4", "label", "boiler");
  const peer = spawnPeer(t, "asyncua_client.py", [sim.endpoint("press-4")]);
  await peer.next("asyncua connect");
  for (const p of EVERY_TYPE) {
    const info = await peer.ask<AsyncuaInfo>(`info ${p.node as string}`);
    assert.equal(info.error, undefined, info.error);
    assert.equal(info.type, p.type, `${p.name as string} type`);
    assert.equal(info.status, "Good");
    assert.equal((info.access & 2) !== 0, p.write !== undefined, `${p.name as string} AccessLevel`);
    assert.equal((info.user_access & 2) !== 0, p.write !== undefined, `${p.name as string} UserAccessLevel`);
    assert.equal(info.unit, (p.unit as string | undefined) ?? null, `${p.name as string} unit`);
    const expected = sim.get("press-4", p.name as string);
    if (typeof expected === "bigint") assert.equal(BigInt(info.value as string), expected);
    else if (p.type === "Float") assert.equal(Math.fround(info.value as number), expected);
    else assert.equal(info.value, expected, p.name as string);
  }
  assert.deepEqual(await peer.ask('write ns=3;s=Energy Int64 "-9007199254740993"'), { status: "Good" });
  assert.equal(sim.get("press-4", "energy"), -9007199254740993n);
  assert.deepEqual(await peer.ask("write ns=2;i=7 Byte 9"), { status: "Good" });
  assert.equal(sim.get("press-4", "mode"), 9);
  assert.deepEqual(await peer.ask("write ns=1;s=Running Boolean false"), { status: "Good" });
  assert.equal(sim.get("press-4", "running"), false);
  assert.deepEqual(await peer.ask("write ns=1;s=Hours UInt32 5"), { status: "BadNotWritable" });
  assert.deepEqual(await peer.ask("write ns=2;s=Temperature Float 1.5"), { status: "BadNotWritable" });
  sim.setStatus("press-4", "hours", "BadSensorFailure");
  assert.equal((await peer.ask<AsyncuaInfo>("info ns=1;s=Hours")).status, "BadSensorFailure");
});

test("secure endpoints: SignAndEncrypt with Basic256Sha256 and a user; anonymous and a wrong password refused", async (t) => {
  const pki = tempDir(t, "opcua-client-pki-");
  const device = opcuaDeviceConfig("press-4", EVERY_TYPE.slice(9, 11), {
    security_mode: "SignAndEncrypt",
    security_policy: "Basic256Sha256",
    username: "operator",
    password: "s3cret",
  });
  const sim = await startSimulator(t, [device], { animateMs: 0 });
  const endpoint = sim.endpoint("press-4");
  const secure = {
    endpoint,
    pkiDir: pki,
    securityMode: "SignAndEncrypt",
    securityPolicy: "Basic256Sha256",
  } as const;
  // The simulator's certificate is not trusted yet: refused, with the command that trusts it.
  let command: string | undefined;
  await assert.rejects(connectOpcua({ ...secure, username: "operator", password: "s3cret" }), (e: Error) => {
    assert.ok(e instanceof OpcuaConnectError);
    assert.match(e.message, /BadCertificateUntrusted/);
    command = /run (iggy-edge opcua trust [0-9a-f]{40} --pki-dir \S+)/.exec(e.message)?.[1];
    assert.ok(command, e.message);
    return true;
  });
  const trusted = runCli(command!.split(" ").slice(1));
  assert.equal(trusted.code, 0, trusted.stderr);
  const conn = await connectOpcua({ ...secure, username: "operator", password: "s3cret" });
  t.after(() => conn.close());
  sim.set("press-4", "speed", 42);
  assert.equal((await readValue(conn.session, "ns=2;s=Speed")).value.value, 42);
  // Once trusted, the certificate stays trusted; the same with Sign only.
  const signed = await connectOpcua({
    ...secure,
    securityMode: "Sign",
    username: "operator",
    password: "s3cret",
  });
  t.after(() => signed.close());
  assert.equal((await readValue(signed.session, "ns=2;s=Speed")).value.value, 42);
  await assert.rejects(
    connectOpcua({ ...secure, username: "operator", password: "wrong" }),
    OpcuaConnectError,
  );
  await assert.rejects(connectOpcua(secure), OpcuaConnectError);
  // None is offered too (the gateway's default), with the same user.
  const plain = await connectOpcua({ endpoint, pkiDir: pki, username: "operator", password: "s3cret" });
  t.after(() => plain.close());
  assert.equal((await readValue(plain.session, "ns=2;s=Speed")).value.value, 42);

  if (
    requirePeer(t, "asyncua (Python)", hasPythonModule("asyncua"), "scripts/setup.sh --peers (PyPI asyncua)")
  ) {
    const certs = tempDir(t, "asyncua-client-cert-");
    const peer = spawnPeer(t, "asyncua_client.py", [endpoint, "--secure", certs, "operator", "s3cret"]);
    await peer.next("asyncua connect with SignAndEncrypt");
    const info = await peer.ask<AsyncuaInfo>("info ns=2;s=Speed");
    assert.equal(info.value, 42);
    assert.equal(info.type, "Double");
  }
});

test("restart: the server goes away and comes back on the same port with the same values; a client reconnects", async (t) => {
  const sim = await startSimulator(t, [opcuaDeviceConfig("press-4", EVERY_TYPE.slice(9, 11))], {
    animateMs: 0,
  });
  sim.set("press-4", "speed", 777);
  const client = OPCUAClient.create({
    endpointMustExist: false,
    connectionStrategy: { maxRetry: 100, initialDelay: 100, maxDelay: 500 },
  });
  t.after(() => client.disconnect());
  await client.connect(sim.endpoint("press-4"));
  const lost = onceWithin(client, "connection_lost", "the client to see the server go");
  const back = onceWithin(client, "connection_reestablished", "the client to reconnect");
  await sim.restart("press-4");
  await lost;
  await back;
  assert.equal(sim.restartCounts()["press-4"], 1);
  const s = await client.createSession();
  t.after(() => s.close());
  assert.equal((await readValue(s, "ns=2;s=Speed")).value.value, 777);
  assert.equal(sim.sessionCount("press-4"), 1);
});

test("Bad status for a point and for a whole device, then Good again; a subscription sees the change", async (t) => {
  const pki = tempDir(t, "opcua-client-pki-");
  const sim = await startSimulator(t, [opcuaDeviceConfig("press-4", EVERY_TYPE.slice(9, 11))], {
    animateMs: 0,
  });
  const s = await session(t, sim.endpoint("press-4"), pki);
  const sub = await s.createSubscription2({ requestedPublishingInterval: 50, publishingEnabled: true });
  const item = await sub.monitor(
    { nodeId: "ns=2;s=Temperature", attributeId: AttributeIds.Value },
    { samplingInterval: 0, queueSize: 10, discardOldest: true },
    2, // TimestampsToReturn.Both
  );
  const statuses: string[] = [];
  item.on("changed", (dv) => statuses.push(dv.statusCode.name));
  await waitFor("the first notification", () => statuses.length > 0);
  sim.setStatus("press-4", "temperature", "BadSensorFailure");
  assert.equal((await readValue(s, "ns=2;s=Temperature")).statusCode, StatusCodes.BadSensorFailure);
  assert.equal((await readValue(s, "ns=2;s=Speed")).statusCode, StatusCodes.Good);
  await waitFor("the subscription to see BadSensorFailure", () => statuses.includes("BadSensorFailure"));
  sim.setStatus("press-4", "temperature", null);
  assert.equal((await readValue(s, "ns=2;s=Temperature")).statusCode, StatusCodes.Good);

  sim.fault("press-4", { kind: "bad", status: "BadCommunicationError" });
  for (const node of ["ns=2;s=Temperature", "ns=2;s=Speed"]) {
    assert.equal((await readValue(s, node)).statusCode, StatusCodes.BadCommunicationError);
  }
  sim.fault("press-4", null);
  assert.equal((await readValue(s, "ns=2;s=Speed")).statusCode, StatusCodes.Good);
  assert.throws(() => sim.setStatus("press-4", "speed", "NoSuchStatus"), /no OPC-UA StatusCode/);
});

test("paused values stay as served; resumed, every change the simulator counts reaches a subscriber, as many as the server says it sent", async (t) => {
  const pki = tempDir(t, "opcua-client-pki-");
  const points = Array.from({ length: 20 }, (_, i) => ({
    name: `v${i}`,
    node: `ns=1;s=v${i}`,
    type: "Double",
  }));
  const sim = await startSimulator(t, [opcuaDeviceConfig("plc", points)], {
    animateMs: 200,
    startPaused: true,
  });
  const s = await session(t, sim.endpoint("plc"), pki);
  const sub = await s.createSubscription2({ requestedPublishingInterval: 50, publishingEnabled: true });
  // Exception-based items (sampling 0): the server reports each change, ticks being 200 ms apart.
  const group = await sub.monitorItems(
    points.map((p) => ({ nodeId: p.node, attributeId: AttributeIds.Value })),
    { samplingInterval: 0, queueSize: 10, discardOldest: true },
    2, // TimestampsToReturn.Both
  );
  let received = 0;
  const last = new Map<number, unknown>();
  group.on("changed", (_item, dv, index) => {
    received++;
    last.set(index, dv.value.value);
  });
  await waitFor("the initial values", () => received >= points.length);
  assert.equal(received, points.length);
  assert.equal(sim.changeCount(), 0, "paused from the start: no change made");
  for (let i = 0; i < points.length; i++) assert.equal(last.get(i), sim.get("plc", `v${i}`));

  sim.resumeAnimation();
  await waitFor("three ticks of changes", () => sim.changeCount() >= 3 * points.length);
  sim.pauseAnimation();
  const made = sim.changeCount();
  await waitFor(`the ${made} changes made`, () => received - points.length >= made);
  // A read answered after the last notification: nothing more was on its way.
  await readValue(s, "ns=1;s=v0");
  assert.equal(received - points.length, made);
  // The server's own count of the notifications it sent this subscription: every one arrived.
  assert.equal(sim.notificationsSent(), received);
  for (let i = 0; i < points.length; i++) assert.equal(last.get(i), sim.get("plc", `v${i}`));

  sim.resumeAnimation();
  await waitFor("changes again after a second resume", () => sim.changeCount() > made);
});

test("slow responses: with a delay fault a read is answered no sooner than the delay", async (t) => {
  const pki = tempDir(t, "opcua-client-pki-");
  const sim = await startSimulator(t, [opcuaDeviceConfig("press-4", EVERY_TYPE.slice(9, 11))], {
    animateMs: 0,
  });
  const s = await session(t, sim.endpoint("press-4"), pki);
  sim.fault("press-4", { kind: "delay", ms: 1500 });
  const started = Date.now();
  const dv = await readValue(s, "ns=2;s=Speed");
  assert.ok(Date.now() - started >= 1500, `answered after ${Date.now() - started} ms`);
  assert.equal(dv.statusCode, StatusCodes.Good);
  sim.fault("press-4", null);
  assert.equal((await readValue(s, "ns=2;s=Speed")).statusCode, StatusCodes.Good);
});

test("faults from IGGY_EDGE_OPCUA_FAULTS: bad, delay=MS, restart=MS; a bad spec says what is wrong", () => {
  assert.deepEqual(parseFaults("press-4:bad, oven-2:delay=1500,mixer-1:restart=30000"), {
    "press-4": { kind: "bad", status: "BadSensorFailure" },
    "oven-2": { kind: "delay", ms: 1500 },
    "mixer-1": { kind: "restart", everyMs: 30000 },
  });
  assert.deepEqual(parseFaults(undefined), {});
  assert.throws(
    () => parseFaults("press-4:explode"),
    /IGGY_EDGE_OPCUA_FAULTS: .*there is no fault "explode"/,
  );
  assert.throws(() => parseFaults("press-4:restart=10"), /restart=MS must be at least 100/);
  assert.throws(() => parseFaults("press-4:bad=3"), /bad takes no number/);
});
