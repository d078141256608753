// The inbound tap of a site connection on a scripted byte stream (the broker's side written by the
// test with mqtt-packet): which packets it takes and which it passes to mqtt.js, the limit on what it
// holds, the order and the connection of its acknowledgements, QoS2 ids across connections, the size
// limit, and what it does with a broker that breaks the protocol.
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import { test, type TestContext } from "node:test";
import mqttPacket, { type Packet } from "mqtt-packet";
import {
  InboundSession,
  type InboundMessage,
  type InboundOptions,
  type Qos2Changes,
} from "../../protocols/mqtt/site-inbound.js";
import { waitFor } from "../helpers/wait.js";

const TIMEOUT = { timeout: 30_000 };

/** The network side of one connection: the test pushes the broker's bytes, reads what was written. */
class FakeSocket extends Duplex {
  readonly written: Packet[] = [];
  private readonly parser;

  constructor(version: 4 | 5) {
    super({ read() {} });
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on("packet", (p: Packet) => this.written.push(p));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.parser.parse(chunk);
    cb();
  }

  /** Acknowledgements written, as "puback 3", "pubrec 4", "pubcomp 4". */
  acks(): string[] {
    return this.written
      .filter((p) => p.cmd === "puback" || p.cmd === "pubrec" || p.cmd === "pubcomp")
      .map((p) => `${p.cmd} ${p.messageId}`);
  }
}

interface Commit {
  messages: InboundMessage[];
  qos2: Qos2Changes | undefined;
  settle(err?: Error): void;
}

interface Rig {
  session: InboundSession;
  commits: Commit[];
  oversize: { topic: string; bytes: number }[];
  dropped: Error[];
  /** A new connection: its socket, and the stream mqtt.js would read and write. */
  connect(): { socket: FakeSocket; tap: Duplex; passed: Packet[] };
}

function rig(t: TestContext, over: Partial<InboundOptions> = {}, version: 4 | 5 = 4): Rig {
  const commits: Commit[] = [];
  const oversize: Rig["oversize"] = [];
  const dropped: Error[] = [];
  const session = new InboundSession({
    protocolVersion: version,
    maxInflight: 100,
    maxHeldBytes: 1 << 20,
    maxPacketBytes: 1024,
    commit: (messages, qos2) =>
      new Promise<void>((resolve, reject) => {
        commits.push({ messages, qos2, settle: (err) => (err ? reject(err) : resolve()) });
      }),
    oversize: (topic, bytes) => oversize.push({ topic, bytes }),
    acknowledged: () => {},
    dropped: (err) => dropped.push(err),
    ...over,
  });
  const sockets: FakeSocket[] = [];
  t.after(() => {
    for (const c of commits) c.settle();
    for (const s of sockets) s.destroy();
  });
  return {
    session,
    commits,
    oversize,
    dropped,
    connect() {
      const socket = new FakeSocket(version);
      sockets.push(socket);
      const tap = session.wrap(() => socket)(null);
      const passed: Packet[] = [];
      const parser = mqttPacket.parser({ protocolVersion: version });
      parser.on("packet", (p: Packet) => passed.push(p));
      tap.on("data", (b: Buffer) => parser.parse(b));
      tap.on("error", () => {});
      return { socket, tap, passed };
    },
  };
}

const gen = (p: Packet, version: 4 | 5 = 4) => mqttPacket.generate(p, { protocolVersion: version });

function publish(id: number, value: string, qos: 0 | 1 | 2 = 1, dup = false, topic = "t/a"): Buffer {
  return gen({
    cmd: "publish",
    topic,
    payload: Buffer.from(value),
    qos,
    dup,
    retain: false,
    ...(qos > 0 ? { messageId: id } : {}),
  });
}

const connack = (sessionPresent: boolean) => gen({ cmd: "connack", returnCode: 0, sessionPresent });

test(
  "publishes are taken in groups, other packets pass to mqtt.js, acknowledgements follow the commits in arrival order",
  TIMEOUT,
  async (t) => {
    const r = rig(t);
    const { socket, passed } = r.connect();
    socket.push(Buffer.concat([connack(false), publish(1, "a"), publish(2, "b", 2), publish(0, "q0", 0)]));
    await waitFor("the first group", () => r.commits.length === 1);
    assert.deepEqual(
      r.commits[0]!.messages.map((m) => [m.payload.toString(), m.qos]),
      [
        ["a", 1],
        ["b", 2],
        ["q0", 0],
      ],
    );
    await waitFor("the CONNACK passed on", () => passed.length === 1);
    assert.equal(passed[0]!.cmd, "connack");

    // More arrive while the first group commits: they wait for it, and go in the next group.
    socket.push(Buffer.concat([publish(3, "c"), gen({ cmd: "pingresp" }), publish(4, "d")]));
    await waitFor("the PINGRESP passed on", () => passed.length === 2);
    assert.equal(r.commits.length, 1, "one group at a time");
    assert.equal(r.session.inflight, 5);
    assert.deepEqual(socket.acks(), [], "nothing acknowledged before the commit");

    r.commits[0]!.settle();
    await waitFor("the second group", () => r.commits.length === 2);
    assert.deepEqual(
      r.commits[1]!.messages.map((m) => m.payload.toString()),
      ["c", "d"],
    );
    assert.deepEqual(socket.acks(), ["puback 1", "pubrec 2"]);
    r.commits[1]!.settle();
    await waitFor("the second group's acknowledgements", () => socket.acks().length === 4);
    assert.deepEqual(socket.acks(), ["puback 1", "pubrec 2", "puback 3", "puback 4"]);
    assert.equal(r.session.inflight, 0);
    assert.equal(r.session.acknowledgedCount, 4);

    socket.push(gen({ cmd: "pubrel", messageId: 2 }));
    await waitFor("PUBCOMP", () => socket.acks().length === 5);
    assert.equal(socket.acks()[4], "pubcomp 2");
    assert.equal(r.session.qos2.size, 0, "the id is released");
  },
);

test("at max_inflight the tap stops reading; acknowledgements make room again", TIMEOUT, async (t) => {
  const r = rig(t, { maxInflight: 5 });
  const { socket } = r.connect();
  socket.push(connack(false));
  for (let i = 1; i <= 20; i++) socket.push(publish(i, String(i)));
  await waitFor("the socket paused, bytes left unread", () => socket.isPaused() && socket.readableLength > 0);
  assert.equal(r.session.inflight, 5);
  const taken = () => r.commits.flatMap((c) => c.messages.map((m) => Number(m.payload.toString())));
  await waitFor("the first group", () => r.commits.length === 1);
  assert.deepEqual(taken(), [1, 2, 3, 4, 5]);
  // Each commit frees room; the tap takes more, never holding more than five.
  for (let k = 0; taken().length < 20; k++) {
    assert.ok(k < 20, "at most one group per message");
    r.commits[k]!.settle();
    await waitFor(`group ${k + 2}`, () => r.commits.length === k + 2);
    assert.ok(r.session.inflight <= 5, `${r.session.inflight} held`);
  }
  assert.deepEqual(
    taken(),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  for (const c of r.commits) c.settle();
  await waitFor("twenty PUBACKs", () => socket.acks().length === 20);
  assert.deepEqual(
    socket.acks(),
    Array.from({ length: 20 }, (_, i) => `puback ${i + 1}`),
  );
});

test(
  "a QoS2 message sent again before its PUBREL is answered after the first commit, once; a new session forgets the ids",
  TIMEOUT,
  async (t) => {
    const r = rig(t);
    const first = r.connect();
    first.socket.push(Buffer.concat([connack(false), publish(7, "x", 2)]));
    await waitFor("the commit", () => r.commits.length === 1);
    first.socket.destroy(); // the connection drops while the commit is pending

    const second = r.connect();
    // The broker resumes the session and sends the message again, in the same bytes as its CONNACK.
    second.socket.push(Buffer.concat([connack(true), publish(7, "x", 2, true)]));
    await waitFor("the CONNACK passed on", () => second.passed.length === 1);
    assert.equal(r.commits.length, 1, "not committed again");
    r.commits[0]!.settle();
    await waitFor("PUBREC on the second connection", () => second.socket.acks().length === 1);
    assert.deepEqual(second.socket.acks(), ["pubrec 7"]);
    assert.deepEqual(first.socket.acks(), [], "nothing on the dead connection");
    assert.equal(r.session.duplicates, 1);

    // A broker without the session: the same id now names a new message.
    const third = r.connect();
    third.socket.push(Buffer.concat([connack(false), publish(7, "y", 2)]));
    await waitFor("the new message committed", () => r.commits.length === 2);
    assert.equal(r.commits[1]!.messages[0]!.payload.toString(), "y");
  },
);

test(
  "a refused group: no acknowledgement for it or anything after it, the connection is dropped",
  TIMEOUT,
  async (t) => {
    const r = rig(t);
    const { socket, tap } = r.connect();
    socket.push(Buffer.concat([connack(false), publish(1, "a")]));
    await waitFor("the first group", () => r.commits.length === 1);
    socket.push(publish(2, "b"));
    await waitFor("taken", () => r.session.inflight === 2);
    const closed = new Promise((resolve) => tap.once("close", resolve));
    r.commits[0]!.settle(Object.assign(new Error("buffer full"), { code: "BUFFER_FULL" }));
    await closed;
    assert.equal(r.dropped.length, 1);
    assert.equal(r.commits.length, 1, "the message after the refused group is not handed over");
    assert.deepEqual(socket.acks(), []);
  },
);

test(
  "a publish over the size limit is skipped as it streams in, acknowledged in its turn and reported",
  TIMEOUT,
  async (t) => {
    const r = rig(t, { maxPacketBytes: 64 });
    const { socket } = r.connect();
    const big = publish(2, "z".repeat(5000), 1, false, "t/big");
    const bytes = Buffer.concat([connack(false), publish(1, "a"), big, publish(3, "c")]);
    // One byte at a time: the header, the topic and the id arrive in pieces, the body too.
    for (const b of bytes) socket.push(Buffer.from([b]));
    await waitFor("the oversize report", () => r.oversize.length === 1);
    assert.equal(r.oversize[0]!.topic, "t/big");
    assert.ok(r.oversize[0]!.bytes > 5000);
    await waitFor("the group", () => r.commits.length === 1 && r.session.inflight === 3);
    assert.deepEqual(
      r.commits[0]!.messages.map((m) => m.payload.toString()),
      ["a", "c"],
      "the large one is not handed to the buffer",
    );
    assert.deepEqual(socket.acks(), [], "the large one waits for the commit of the one before it");
    r.commits[0]!.settle();
    await waitFor("three acknowledgements", () => socket.acks().length === 3);
    assert.deepEqual(socket.acks(), ["puback 1", "puback 2", "puback 3"]);
  },
);

test("a broker that breaks the protocol gets the connection dropped", TIMEOUT, async (t) => {
  const cases: [string, Buffer, 4 | 5][] = [
    ["a malformed remaining length", Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 4],
    ["a SUBACK over the size limit", Buffer.concat([Buffer.from([0x90, 0x80, 0x10]), Buffer.alloc(2048)]), 4],
    [
      "a topic alias the gateway never allowed",
      gen(
        {
          cmd: "publish",
          topic: "t/a",
          payload: Buffer.from("1"),
          qos: 1,
          messageId: 1,
          dup: false,
          retain: false,
          properties: { topicAlias: 1 },
        },
        5,
      ),
      5,
    ],
  ];
  for (const [what, bytes, version] of cases) {
    const r = rig(t, {}, version);
    const { socket, tap } = r.connect();
    const closed = new Promise((resolve) => tap.once("close", resolve));
    socket.push(bytes);
    await closed;
    assert.equal(r.dropped.length, 1, what);
    assert.equal(r.commits.length, 0, what);
  }
});

test(
  "durable QoS2 ids: committed with their messages, restored ids answer a copy without a commit, a PUBREL's id is removed before its PUBCOMP",
  TIMEOUT,
  async (t) => {
    const r = rig(t, { durableQos2: true });
    r.session.restore([9]); // stored by an earlier run, PUBREL not yet received
    const { socket } = r.connect();
    socket.push(
      Buffer.concat([connack(true), publish(9, "old", 2, true), publish(3, "new", 2), publish(4, "q1")]),
    );
    await waitFor("the first group", () => r.commits.length === 1);
    assert.deepEqual(
      r.commits[0]!.messages.map((m) => m.payload.toString()),
      ["new", "q1"],
      "the copy of a stored message is not committed again",
    );
    assert.deepEqual(r.commits[0]!.qos2, { clearAll: false, clear: [], set: [3] });
    r.commits[0]!.settle();
    await waitFor("the PUBRECs and the PUBACK", () => socket.acks().length === 3);
    assert.deepEqual(socket.acks(), ["pubrec 9", "pubrec 3", "puback 4"]);

    socket.push(Buffer.concat([gen({ cmd: "pubrel", messageId: 9 }), gen({ cmd: "pubrel", messageId: 3 })]));
    await waitFor("a commit that removes both ids", () => r.commits.length === 2);
    assert.deepEqual(r.commits[1]!.messages, []);
    assert.deepEqual(r.commits[1]!.qos2, { clearAll: false, clear: [9, 3], set: [] });
    assert.deepEqual(socket.acks().length, 3, "no PUBCOMP before the removal is committed");
    r.commits[1]!.settle();
    await waitFor("the PUBCOMPs", () => socket.acks().length === 5);
    assert.deepEqual(socket.acks().slice(3), ["pubcomp 9", "pubcomp 3"]);
    assert.equal(r.session.qos2.size, 0);
  },
);

test(
  "durable QoS2 ids: after a CONNACK without a session nothing is taken until the stored ids are removed",
  TIMEOUT,
  async (t) => {
    const r = rig(t, { durableQos2: true });
    r.session.restore([1, 2]);
    const { socket, passed } = r.connect();
    socket.push(Buffer.concat([connack(false), publish(1, "fresh", 2)]));
    await waitFor("the removal", () => r.commits.length === 1);
    assert.deepEqual(r.commits[0]!.messages, []);
    assert.deepEqual(r.commits[0]!.qos2, { clearAll: true, clear: [], set: [] });
    await waitFor("the CONNACK passed on", () => passed.length === 1);
    assert.equal(r.session.inflight, 0, "the PUBLISH waits for the removal");
    r.commits[0]!.settle();
    await waitFor("the PUBLISH taken, as a new message", () => r.commits.length === 2);
    assert.deepEqual(
      r.commits[1]!.messages.map((m) => m.payload.toString()),
      ["fresh"],
    );
    assert.deepEqual(r.commits[1]!.qos2, { clearAll: false, clear: [], set: [1] });
    r.commits[1]!.settle();
    await waitFor("its PUBREC", () => socket.acks().length === 1);
    assert.deepEqual(socket.acks(), ["pubrec 1"]);
  },
);
