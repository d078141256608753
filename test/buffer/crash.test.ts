// A child appends and forwards as fast as it can and is killed with SIGKILL at a random point,
// counted in its operations (not in time, so the work done does not depend on the machine's speed),
// again and again on the same directory. After each kill the buffer is reopened and checked against
// what the child said was done: every append that resolved is still there or was confirmed
// (released) or dead-lettered; nothing confirmed comes back; batches left unconfirmed come back
// first, in order, identical; readings keep their order; the file is never found corrupt.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { readFileSync, rmSync } from "node:fs";
import { test } from "node:test";
import { openBuffer } from "../../buffer/index.js";
import { digest, identity, parseLine, type Line } from "./fixtures/crash-protocol.js";
import { quiet, scratch } from "./helpers.js";

const CHILD = join(import.meta.dirname, "fixtures", "crash-child.js");
const SEQUENCES = 4;
const KILLS_PER_SEQUENCE = 16;

class Model {
  /** seq → "device|value" of every reading known to be committed. */
  readonly content = new Map<number, string>();
  readonly released = new Set<number>();
  /** In a batch whose release was asked for: confirmed to Iggy, so it may be gone without an R line. */
  readonly releaseAsked = new Set<number>();
  readonly deadLettered = new Set<number>();
  readonly batches = new Map<number, { first: number; last: number; digest: string }>();
  resolvedAppends = 0;
  leases = 0;
  resends = 0;

  private put(seq: number, value: string, where: string): void {
    const before = this.content.get(seq);
    assert.ok(
      before === undefined || before === value,
      `${where}: seq ${seq} holds ${value}, earlier ${before}`,
    );
    this.content.set(seq, value);
  }

  private batch(id: number, first: number, last: number, d: string, where: string): void {
    const known = this.batches.get(id);
    if (known)
      assert.deepStrictEqual(
        { first, last, digest: d },
        known,
        `${where}: batch ${id} is not identical when handed out again`,
      );
    else this.batches.set(id, { first, last, digest: d });
  }

  /** What the children said, for the failure message. */
  readonly trace: string[] = [];

  apply(l: Line): void {
    this.trace.push(JSON.stringify(l));
    switch (l.kind) {
      case "A":
        this.resolvedAppends++;
        for (let s = l.first; s <= l.last; s++)
          this.put(s, `${l.device}|${l.counter + s - l.first}`, "append");
        break;
      case "L":
        this.leases++;
        assert.equal(l.count, l.last - l.first + 1, "a batch is a contiguous range, each reading once");
        this.batch(l.id, l.first, l.last, l.digest, "child lease");
        break;
      case "r":
      case "R": {
        const b = this.batches.get(l.id)!;
        for (let s = b.first; s <= b.last; s++) (l.kind === "R" ? this.released : this.releaseAsked).add(s);
        break;
      }
      case "D": {
        const b = this.batches.get(l.id)!;
        for (let s = b.first; s <= b.last; s++) this.deadLettered.add(s);
        break;
      }
    }
  }

  /** Reopens the buffer the way a restarted gateway would and checks it against the model. */
  async verify(dir: string, rand: () => number): Promise<void> {
    this.trace.push("(killed; reopened)");
    const b = await openBuffer({ dir, log: quiet });
    try {
      const s = await b.stats();
      assert.equal(s.quarantinedThisRun, 0, "a killed process never leaves a file that looks corrupt");
      const seen = new Set<number>();
      const leased: number[] = [];
      let resending = true;
      let previousFirst = -Infinity;
      for (;;) {
        const batch = await b.lease({ maxReadings: 1 + Math.floor(rand() * 500) });
        if (batch === null) break;
        assert.ok(batch.firstSeq > previousFirst, "batches come in sequence order");
        previousFirst = batch.firstSeq;
        if (batch.attempts > 1) {
          assert.ok(resending, "unconfirmed batches of the crashed run come before any new batch");
          this.resends++;
        } else resending = false;
        assert.equal(batch.lastSeq - batch.firstSeq + 1, batch.readings.length);
        this.batch(batch.id, batch.firstSeq, batch.lastSeq, digest(batch.readings), "lease after the crash");
        batch.readings.forEach((r, i) => {
          const seq = batch.firstSeq + i;
          assert.ok(!this.released.has(seq), `seq ${seq} was confirmed and released, yet is here again`);
          assert.ok(!seen.has(seq));
          seen.add(seq);
          this.put(seq, identity(r), "lease after the crash");
        });
        leased.push(batch.id);
      }
      for (const e of await b.listDeadLetters()) {
        for (const r of await b.readDeadLetter(e.id)) {
          this.put(r.seq, identity(r.reading!), "dead letter");
          this.deadLettered.add(r.seq);
        }
      }
      await b.purgeDeadLetters("all");
      const lost = [...this.content.keys()].filter(
        (q) =>
          !seen.has(q) && !this.released.has(q) && !this.releaseAsked.has(q) && !this.deadLettered.has(q),
      );
      if (lost.length > 0) {
        const q = lost[0]!;
        const batch = [...this.batches].find(([, v]) => v.first <= q && q <= v.last)?.[0];
        const story = batch === undefined ? [] : this.trace.filter((x) => x.includes(String(batch)));
        const ranges: string[] = [];
        for (const x of lost.sort((a, b) => a - b)) {
          const lastRange = ranges[ranges.length - 1]?.split("-");
          if (lastRange && Number(lastRange[1]) === x - 1) ranges[ranges.length - 1] = `${lastRange[0]}-${x}`;
          else ranges.push(`${x}-${x}`);
        }
        assert.fail(
          `${lost.length} readings whose append resolved are gone (${dir}: ${ranges.join(", ")}), first seq ${q} (${this.content.get(q)}); its batch: ${story.join(" ")}`,
        );
      }
      // Per device, the counter grows with the sequence number: order is kept.
      const last = new Map<string, number>();
      for (const seq of [...this.content.keys()].sort((x, y) => x - y)) {
        const [device, value] = this.content.get(seq)!.split("|");
        const v = Number(value);
        assert.ok((last.get(device!) ?? -1) < v, `order broken for ${device} at seq ${seq}`);
        last.set(device!, v);
      }
      // Confirm some, leave the rest unconfirmed for the next child to resend.
      for (const id of leased) {
        if (rand() < 0.5) continue;
        await b.release(id);
        const batch = this.batches.get(id)!;
        for (let q = batch.first; q <= batch.last; q++) this.released.add(q);
      }
    } finally {
      await b.close();
    }
  }
}

/**
 * Where a child is killed: on its nth event of a kind ("o": opening the buffer, "A": an append
 * resolved, "r": a release about to be committed).
 */
interface KillPoint {
  event: "o" | "A" | "r";
  n: number;
}

/** A seeded linear congruential generator of numbers in [0, 1). */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Children still running, killed when the test ends whatever its outcome. */
const running = new Set<ChildProcess>();

/**
 * Runs the child until its kill point, then applies the lines it wrote (a line cut off by the kill is
 * not claimed); the log must hold every append the child announced on stdout.
 */
function runChild(
  dir: string,
  run: number,
  seed: number,
  sync: string,
  commitMaxRows: number,
  kill: KillPoint,
  model: Model,
): Promise<void> {
  const log = `${dir}.ops`;
  rmSync(log, { force: true });
  let announcedAppends = 0;
  return new Promise<void>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [CHILD, dir, log, String(run), String(seed), sync, String(commitMaxRows)],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    running.add(child);
    let stderr = "";
    let seen = 0;
    child.stderr.on("data", (c: Buffer) => void (stderr += c.toString()));
    child.stdout.on("data", (c: Buffer) => {
      for (const event of c.toString("latin1")) {
        if (event === "A") announcedAppends++;
        if (event === kill.event && ++seen === kill.n) child.kill("SIGKILL");
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      running.delete(child);
      if (signal !== "SIGKILL") reject(new Error(`crash child ended by itself (${code}): ${stderr}`));
      else resolve();
    });
  }).then(() => {
    let text = "";
    try {
      text = readFileSync(log, "utf8");
    } catch {
      return; // killed before it opened its log
    }
    const lines = text.split("\n");
    lines.pop();
    const appendsBefore = model.resolvedAppends;
    for (const line of lines) model.apply(parseLine(line));
    assert.ok(
      model.resolvedAppends - appendsBefore >= announcedAppends,
      `run ${run}: the child announced ${announcedAppends} resolved appends, its log holds ${model.resolvedAppends - appendsBefore}`,
    );
  });
}

test(`buffer survives ${SEQUENCES * KILLS_PER_SEQUENCE} SIGKILLs at random points of a heavy append/forward loop`, async (t) => {
  t.after(() => {
    for (const child of running) child.kill("SIGKILL");
  });
  const root = scratch(t, "buffer-crash-");
  const totals = { resolvedAppends: 0, leases: 0, resends: 0, readings: 0, appendsBeforeKill: 0 };
  // Two sequences at a time, each on its own directory: one child appends while the other's buffer is verified.
  const sequence = async (n: number) => {
    // Kill points and child seeds from one generator, the verifier's choices from another: the kill
    // points are the same on every run whatever the children got done.
    const rand = prng(0x9e3779b9 + n * 7919);
    const verifierRand = prng(0x85ebca6b + n * 104729);
    const dir = join(root, `seq-${n}`);
    const model = new Model();
    const sync = n % 2 === 0 ? "full" : "normal";
    for (let run = 0; run < KILLS_PER_SEQUENCE; run++) {
      // Kills land anywhere from the open and its recovery to well into the loop. The kill is
      // sent on an event and arrives a moment later, wherever the child then is: often inside a
      // commit, since six appenders and a forwarder keep the store busy.
      const p = rand();
      const kill: KillPoint =
        p < 0.1
          ? { event: "o", n: 1 }
          : p < 0.3
            ? { event: "r", n: 1 + Math.floor(rand() * 15) }
            : { event: "A", n: 1 + Math.floor(rand() * 60) };
      if (kill.event === "A") totals.appendsBeforeKill += kill.n;
      const commitMaxRows = 1 + Math.floor(rand() * 400);
      await runChild(dir, run, Math.floor(rand() * 2 ** 31), sync, commitMaxRows, kill, model);
      await model.verify(dir, verifierRand);
    }
    totals.resolvedAppends += model.resolvedAppends;
    totals.leases += model.leases;
    totals.resends += model.resends;
    totals.readings += model.content.size;
  };
  for (let n = 0; n < SEQUENCES; n += 2) await Promise.all([sequence(n), sequence(n + 1)]);
  t.diagnostic(
    `${totals.appendsBeforeKill} appends asked for before the kills; ${totals.resolvedAppends} resolved appends (${totals.readings} readings), ${totals.leases} leases by the children, ${totals.resends} batches resent after a kill`,
  );
  assert.ok(totals.appendsBeforeKill > 1000, "the kill points ask for real work before the kill");
  assert.ok(totals.resolvedAppends >= totals.appendsBeforeKill, "the children did that work");
  assert.ok(totals.resends > 10, "kills left unconfirmed batches that were resent");
});
