// The adapter contract: what every protocol adapter promises, checked the same way for each protocol
// against its own simulator, through the entry its folder provides (protocols/<name>/contract.ts).
// The buffer here is the test's: it commits, holds or refuses each emit as a test says, and counts
// what it committed per device, so "acknowledged only after the commit" is a comparison of two counts
// taken after a round trip on the device's link, never a wait for something not to happen.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test, type TestContext } from "node:test";
import pino from "pino";
import { BufferFullError } from "../../buffer/errors.js";
import type { AdapterDeps, AdapterHealth, DeviceHealth, Emit, Reading } from "../../protocols/adapter.js";
import type { ContractEntry, ContractRig } from "../../protocols/contract-entry.js";
import { transitionMessage } from "../../protocols/device-state.js";
import { WAIT_LIMIT_MS, waitFor } from "../helpers/wait.js";

const TEST_TIMEOUT_MS = 60_000;
const DEVICES = 2;

interface LogCapture {
  deps: AdapterDeps;
  lines: Record<string, unknown>[];
  rejects: { reason: string; device?: string | undefined }[];
}

/** deps whose log writes JSON lines the test reads back. */
function capture(): LogCapture {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      cb();
    },
  });
  const rejects: LogCapture["rejects"] = [];
  return {
    lines,
    rejects,
    deps: {
      log: pino({ level: "debug" }, stream),
      reject: (reason, device) => rejects.push({ reason, device }),
    },
  };
}

type Verdict = "commit" | "hold" | "refuse";

interface EmitCall {
  readings: Reading[];
  verdict: Verdict;
  /** A held call: commits it and resolves its emit. */
  release?: () => void;
}

interface Rule {
  match: (readings: Reading[]) => boolean;
  verdict: Verdict;
}

/** The buffer as the adapter sees it, under the test's control. */
class TestBuffer {
  readonly calls: EmitCall[] = [];
  private readonly committed = new Map<string, number>();
  private readonly rules: Rule[] = [];
  private readonly waiters: { match: (c: EmitCall) => boolean; resolve: (c: EmitCall) => void }[] = [];

  readonly emit: Emit = (readings) => {
    const i = this.rules.findIndex((r) => r.match(readings));
    const verdict = i < 0 ? "commit" : this.rules.splice(i, 1)[0]!.verdict;
    const call: EmitCall = { readings: [...readings], verdict };
    let result: Promise<void>;
    if (verdict === "commit") {
      this.commit(readings);
      result = Promise.resolve();
    } else if (verdict === "refuse") {
      result = Promise.reject(
        new BufferFullError("max_bytes", "the buffer is full (max_bytes): refusing new readings"),
      );
    } else {
      result = new Promise<void>((resolve) => {
        call.release = () => {
          call.release = undefined;
          this.commit(readings);
          resolve();
        };
      });
    }
    this.calls.push(call);
    for (const w of this.waiters.filter((x) => x.match(call))) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve(call);
    }
    return result;
  };

  /** The next emit that holds the reading `value` of `device`'s `point` gets `verdict`. */
  next(device: string, point: string, value: number, verdict: Verdict): void {
    this.rules.push({ match: (rs) => rs.some((r) => holds(r, device, point, value)), verdict });
  }

  /** Readings of `device` committed so far. */
  committedOf(device: string): number {
    return this.committed.get(device) ?? 0;
  }

  /** The first emit (made already, or to come) that holds the reading `value` of `device`'s `point`. */
  call(device: string, point: string, value: number, verdict?: Verdict): Promise<EmitCall> {
    const match = (c: EmitCall): boolean =>
      (verdict === undefined || c.verdict === verdict) &&
      c.readings.some((r) => holds(r, device, point, value));
    const made = this.calls.find(match);
    if (made !== undefined) return Promise.resolve(made);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (c: EmitCall) => {
          clearTimeout(timer);
          resolve(c);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `timed out after ${WAIT_LIMIT_MS} ms waiting for an emit of ${device}/${point} = ${value}`,
          ),
        );
      }, WAIT_LIMIT_MS);
      this.waiters.push(waiter);
    });
  }

  /** Commits every held emit (a test that failed half-way leaves none pending for the adapter's stop). */
  releaseAll(): void {
    for (const c of this.calls) {
      const release = c.release;
      c.release = undefined;
      release?.();
    }
  }

  private commit(readings: Reading[]): void {
    for (const r of readings) this.committed.set(r.device, (this.committed.get(r.device) ?? 0) + 1);
  }
}

function holds(r: Reading, device: string, point: string, value: number): boolean {
  return r.device === device && r.point === point && r.value === value;
}

/** Closes the rig, held emits released first; a close that does not finish fails the test instead of hanging it. */
async function closeRig(rig: ContractRig, buffer: TestBuffer): Promise<void> {
  buffer.releaseAll();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      rig.close(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the rig did not close within ${WAIT_LIMIT_MS} ms`)),
          WAIT_LIMIT_MS,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface Started {
  rig: ContractRig;
  buffer: TestBuffer;
  log: LogCapture;
}

async function startedRig(t: TestContext, entry: ContractEntry): Promise<Started> {
  const log = capture();
  const buffer = new TestBuffer();
  const rig = await entry.setup({ devices: DEVICES, deps: log.deps });
  t.after(() => closeRig(rig, buffer));
  await rig.start(buffer.emit);
  return { rig, buffer, log };
}

/** The device produces `value`; resolves once it is committed and the device has every acknowledgement due. */
async function collect({ rig, buffer }: Started, device: string, value: number): Promise<void> {
  const point = rig.readOnly(device);
  rig.produce(device, value);
  await buffer.call(device, point, value, "commit");
  await waitFor(
    `${device}'s acknowledgements to catch up with its commits (${rig.acks(device)} of ${buffer.committedOf(device)})`,
    () => rig.acks(device) === buffer.committedOf(device),
  );
}

function healthOf(rig: ContractRig, device: string): DeviceHealth {
  const h = rig.adapter.health().devices.find((d) => d.device === device);
  assert.ok(h, `health() has no entry for ${device}`);
  return h;
}

/** One shape for every protocol: its name, each configured device once, and an error exactly when down. */
function assertHealthShape(protocol: string, rig: ContractRig, health: AdapterHealth, stage: string): void {
  assert.equal(health.protocol, protocol, `${stage}: protocol`);
  assert.deepEqual(
    health.devices.map((d) => d.device).sort(),
    [...rig.devices].sort(),
    `${stage}: each configured device once`,
  );
  for (const d of health.devices) {
    const where = `${stage}: ${d.device}`;
    assert.deepEqual(
      Object.keys(d).sort(),
      d.up ? ["device", "since", "up"] : ["device", "error", "since", "up"],
      `${where}: ${JSON.stringify(d)}`,
    );
    assert.equal(typeof d.up, "boolean", where);
    assert.ok(Number.isFinite(d.since) && d.since > 0 && d.since <= Date.now(), `${where}: since ${d.since}`);
    if (!d.up) assert.ok(typeof d.error === "string" && d.error.length > 0, `${where}: error ${d.error}`);
  }
}

/** Handles that keep the event loop alive (sockets, servers, timers, child processes), by kind. */
function activeResources(): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) out.set(r, (out.get(r) ?? 0) + 1);
  return out;
}

function extraResources(before: Map<string, number>): string[] {
  const extra: string[] = [];
  for (const [kind, n] of activeResources())
    if (n > (before.get(kind) ?? 0)) extra.push(`${kind} x${n - (before.get(kind) ?? 0)}`);
  return extra;
}

function transitions(log: LogCapture, protocol: string, device: string, to: "up" | "down"): number {
  const msg = transitionMessage(protocol, to);
  return log.lines.filter((l) => l.msg === msg && l.device === device).length;
}

/** Defines the contract's tests for one protocol (call inside a describe). */
export function contractSuite(protocol: string, entry: ContractEntry): void {
  const opts = { timeout: TEST_TIMEOUT_MS };

  test("a reading is acknowledged to its device only after the buffer committed it", opts, async (t) => {
    const s = await startedRig(t, entry);
    const { rig, buffer } = s;
    const [device, other] = rig.devices as [string, string];
    const point = rig.readOnly(device);
    await collect(s, device, 1);

    buffer.next(device, point, 2, "hold");
    rig.produce(device, 2);
    const held = await buffer.call(device, point, 2);
    assert.equal(held.verdict, "hold");
    await rig.roundTrip(device);
    assert.equal(
      rig.acks(device),
      buffer.committedOf(device),
      "while its commit is pending the device has no acknowledgement of the reading, though the round trip after it came back",
    );
    await collect(s, other, 3); // one device's pending commit holds up no other device

    const committedBefore = buffer.committedOf(device);
    held.release!();
    await waitFor(
      `the acknowledgement after the commit (${rig.acks(device)} of ${buffer.committedOf(device)})`,
      () => rig.acks(device) === buffer.committedOf(device),
    );
    assert.ok(buffer.committedOf(device) > committedBefore);
  });

  test(
    "a refused append is not acknowledged, is counted, and the device's later readings go on",
    opts,
    async (t) => {
      const s = await startedRig(t, entry);
      const { rig, buffer } = s;
      const device = rig.devices[0]!;
      const point = rig.readOnly(device);
      await collect(s, device, 1);
      const refusedBefore = rig.refusals();

      buffer.next(device, point, 2, "refuse");
      rig.produce(device, 2);
      await buffer.call(device, point, 2, "refuse");
      await waitFor("the refusal counted", () => rig.refusals() === refusedBefore + 1);
      await rig.roundTrip(device);
      assert.ok(
        rig.acks(device) <= buffer.committedOf(device),
        `acknowledged ${rig.acks(device)} readings, committed ${buffer.committedOf(device)}: the refused one was acknowledged`,
      );

      await collect(s, device, 3);
      assert.equal(rig.acks(device), buffer.committedOf(device), "every acknowledged reading is committed");
      assert.equal(rig.refusals(), refusedBefore + 1, "one refusal, counted once");
    },
  );

  test("stop without start, start, stop and stop again are safe and leave no handle open", opts, async () => {
    const before = activeResources();
    const log = capture();
    const buffer = new TestBuffer();

    const idle = await entry.setup({ devices: DEVICES, deps: log.deps });
    try {
      await idle.adapter.stop();
      await idle.adapter.stop();
    } finally {
      await closeRig(idle, buffer);
    }

    const rig = await entry.setup({ devices: DEVICES, deps: log.deps });
    try {
      const ready = activeResources();
      await rig.start(buffer.emit);
      await collect({ rig, buffer, log }, rig.devices[0]!, 1);
      await rig.stopDevices();
      await rig.adapter.stop();
      await rig.adapter.stop();
      await waitFor(
        `the adapter's handles to be closed once it stopped (open: ${extraResources(ready).join(", ")})`,
        () => extraResources(ready).length === 0,
      );
    } finally {
      await closeRig(rig, buffer);
    }
    await waitFor(
      `every handle opened since to be closed (open: ${extraResources(before).join(", ")})`,
      () => extraResources(before).length === 0,
    );
  });

  test(
    "health() reports each configured device once, in the shape every protocol shares",
    opts,
    async (t) => {
      const log = capture();
      const buffer = new TestBuffer();
      const rig = await entry.setup({ devices: DEVICES, deps: log.deps });
      t.after(() => closeRig(rig, buffer));
      assertHealthShape(protocol, rig, rig.adapter.health(), "before start");
      await rig.start(buffer.emit);
      assertHealthShape(protocol, rig, rig.adapter.health(), "started");
      const s = { rig, buffer, log };
      let value = 1;
      for (const device of rig.devices) {
        await collect(s, device, value++);
        await waitFor(`${device} up`, () => healthOf(rig, device).up);
      }
      assertHealthShape(protocol, rig, rig.adapter.health(), "all up");

      const [away, stays] = rig.devices as [string, string];
      rig.misbehave(stays);
      await waitFor(`${stays}'s error counted`, () => log.rejects.some((r) => r.device === stays));
      await rig.roundTrip(stays);
      assertHealthShape(protocol, rig, rig.adapter.health(), "one answering with an error");
      assert.equal(healthOf(rig, stays).up, true, `${stays} answers: it is up`);

      await rig.goAway(away);
      await waitFor(`${away} down`, () => !healthOf(rig, away).up);
      assertHealthShape(protocol, rig, rig.adapter.health(), "one down");
      assert.equal(healthOf(rig, stays).up, true, `${stays} is not affected`);

      await rig.adapter.stop();
      assertHealthShape(protocol, rig, rig.adapter.health(), "stopped");
    },
  );

  test(
    "a write outside the declared range, or to a point without write, is refused before it reaches the device; one inside is delivered",
    opts,
    async (t) => {
      const s = await startedRig(t, entry);
      const { rig } = s;
      const device = rig.devices[0]!;
      const { point, min, max } = rig.writable(device);
      const readOnly = rig.readOnly(device);
      const write = rig.adapter.write?.bind(rig.adapter);
      assert.ok(write, `the ${protocol} adapter has no write()`);
      await collect(s, device, 1);
      await rig.roundTrip(device);
      const seen = rig.writesSeen(device);

      for (const value of [max + 1, min - 1]) {
        await assert.rejects(write({ device, point }, value), (e: Error) => {
          for (const part of [point, String(value), String(min), String(max)]) {
            assert.ok(e.message.includes(part), `"${e.message}" should name ${part}`);
          }
          return true;
        });
      }
      await assert.rejects(write({ device, point: readOnly }, min), (e: Error) => {
        assert.match(e.message, /not writable/);
        assert.ok(e.message.includes(readOnly), `"${e.message}" should name the point ${readOnly}`);
        return true;
      });
      await rig.roundTrip(device);
      assert.equal(rig.writesSeen(device), seen, "no refused write reached the device");

      const inside = Math.round((min + max) / 2);
      await write({ device, point }, inside);
      await waitFor(
        `the write of ${inside} to reach ${device}/${point}`,
        () => rig.writesSeen(device) === seen + 1 && rig.valueOf(device, point) === inside,
      );
    },
  );

  test(
    "a device that goes away and returns is recovered, and logged once per transition",
    opts,
    async (t) => {
      const s = await startedRig(t, entry);
      const { rig, log } = s;
      const [device, other] = rig.devices as [string, string];
      await collect(s, device, 1);
      await collect(s, other, 1);
      await waitFor("both devices up", () => healthOf(rig, device).up && healthOf(rig, other).up);
      const downs = transitions(log, protocol, device, "down");
      const ups = transitions(log, protocol, device, "up");
      const otherLines = transitions(log, protocol, other, "down") + transitions(log, protocol, other, "up");

      await rig.goAway(device);
      await waitFor(`${device} down`, () => !healthOf(rig, device).up);
      await waitFor(
        `attempts on ${device}'s link while it is away (${rig.attemptsWhileAway(device)} of 3)`,
        () => rig.attemptsWhileAway(device) >= 3,
      );
      const away = healthOf(rig, device);
      assert.equal(away.up, false, "still down after the attempts");
      assert.equal(
        transitions(log, protocol, device, "down"),
        downs + 1,
        "one down line, however many attempts",
      );
      assert.equal(transitions(log, protocol, device, "up"), ups, "no up line while away");

      await rig.comeBack(device);
      await collect(s, device, 2);
      await waitFor(`${device} up again`, () => healthOf(rig, device).up);
      assert.equal(transitions(log, protocol, device, "down"), downs + 1, "one down line");
      assert.equal(transitions(log, protocol, device, "up"), ups + 1, "one up line");
      assert.ok(healthOf(rig, device).since >= away.since, "since: the time of the last transition");
      assert.equal(
        transitions(log, protocol, other, "down") + transitions(log, protocol, other, "up"),
        otherLines,
        `${other} had no transition`,
      );
      assert.equal(healthOf(rig, other).up, true);
    },
  );
}
