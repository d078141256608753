// The burst the client-mode tests and the benchmark's checks share: four mosquitto_pub publishers,
// each sending 0..1999 on its own topic, a sentinel message behind them, and the verdict on what
// the buffer holds afterwards (missing, stored twice, out of order).
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import type { ReadingBuffer } from "../../buffer/index.js";
import type { Reading } from "../../protocols/adapter.js";
import { run, tempDir, type Mosquitto } from "./helpers.js";

export const PUBLISHERS = 4;
export const PER_PUBLISHER = 2000;
export const TOTAL = PUBLISHERS * PER_PUBLISHER;
export const TIMEOUT = { timeout: 240_000 };
export const TOPIC = "burst/+device/seq";

/** Four `mosquitto_pub -l` publishers, each sending 0..PER_PUBLISHER-1 on burst/pK/seq. */
export function publishBurst(t: TestContext, m: Mosquitto, qos: 1 | 2): Promise<void> {
  const dir = tempDir(t, "burst-");
  const lines = join(dir, "lines");
  writeFileSync(lines, Array.from({ length: PER_PUBLISHER }, (_, i) => `${i}\n`).join(""));
  const one = async (k: number) => {
    const r = await run(
      "sh",
      ["-c", `mosquitto_pub -h 127.0.0.1 -p ${m.port} -q ${qos} -i pub${k} -t burst/p${k}/seq -l < ${lines}`],
      120_000,
    );
    assert.equal(r.code, 0, `publisher ${k}: ${r.stderr}`);
  };
  return Promise.all(Array.from({ length: PUBLISHERS }, (_, k) => one(k + 1))).then(() => undefined);
}

/** After the burst: one message on another topic, which Mosquitto queues behind everything before it. */
export async function sentinel(m: Mosquitto, qos: 1 | 2): Promise<void> {
  const r = await run("mosquitto_pub", [
    "-h",
    "127.0.0.1",
    "-p",
    String(m.port),
    "-q",
    String(qos),
    "-t",
    "burst/end/seq",
    "-m",
    "1",
  ]);
  assert.equal(r.code, 0, r.stderr);
}

export async function readAll(buffer: ReadingBuffer): Promise<Reading[]> {
  const out: Reading[] = [];
  for (;;) {
    const batch = await buffer.lease({ maxReadings: 10_000 });
    if (batch === null) return out;
    out.push(...batch.readings);
    await buffer.release(batch.id);
  }
}

export interface Verdict {
  missing: number;
  duplicates: number;
  outOfOrder: number;
}

/** Per publisher: every value present; first occurrences ascending; how many came twice. */
export function check(readings: Reading[]): Verdict {
  let missing = 0;
  let duplicates = 0;
  let outOfOrder = 0;
  for (let k = 1; k <= PUBLISHERS; k++) {
    const seen = new Set<number>();
    let last = -1;
    for (const r of readings) {
      if (r.device !== `p${k}`) continue;
      const v = r.value as number;
      if (seen.has(v)) {
        duplicates++;
        continue;
      }
      if (v < last) outOfOrder++;
      last = v;
      seen.add(v);
    }
    missing += PER_PUBLISHER - seen.size;
  }
  return { missing, duplicates, outOfOrder };
}

/**
 * Message ids Mosquitto had sent PUBREL for (with no PUBCOMP logged) when it terminated, and sent
 * again as PUBLISH after its restart.
 */
export function publishAfterPubrel(log: string, clientId: string): number {
  const end = log.indexOf("terminating");
  const before = log.slice(0, end);
  const owed = new Set<number>();
  for (const line of before.split("\n")) {
    const rel = new RegExp(`Sending PUBREL to ${clientId} \\(m(\\d+)\\)`).exec(line);
    if (rel) owed.add(Number(rel[1]));
    const comp = new RegExp(`Received PUBCOMP from ${clientId} \\(Mid: (\\d+)`).exec(line);
    if (comp) owed.delete(Number(comp[1]));
  }
  const again = new Set<number>();
  const re = new RegExp(`Sending PUBLISH to ${clientId} \\(d1, q2, r\\d, m(\\d+)`, "g");
  for (const x of log.slice(end).matchAll(re)) if (owed.has(Number(x[1]))) again.add(Number(x[1]));
  return again.size;
}

export const dropNotice = /Outgoing messages are being dropped/;
