// The append traffic between the threads in its common shape, one typed array each way: a frame
// without new series definitions or marks goes to the worker as one buffer, and the outcomes of a
// commit that refused nothing come back as one Float64Array. Posting one small buffer costs about
// half of what the structured clone of a frame object with its transferred buffers costs, and a
// device that waits for each acknowledgement makes a frame of one or a few readings.
import type { AppendFrame, AppendOutcome } from "./wire.js";

/** id (low and high 32 bits), used, lengths, calls, awaitedCalls. */
const HEADER_WORDS = 6;
const TWO_32 = 2 ** 32;

/** A frame of `calls` (readings per call) whose readings are `body`, each `lengths[i]` bytes. */
export function packFrame(
  id: number,
  body: Uint8Array,
  lengths: readonly number[],
  calls: readonly { count: number }[],
  awaitedCalls: number,
): ArrayBuffer {
  const words = HEADER_WORDS + lengths.length + calls.length;
  const buf = new ArrayBuffer(words * 4 + body.length);
  const u32 = new Uint32Array(buf, 0, words);
  u32[0] = id % TWO_32;
  u32[1] = Math.floor(id / TWO_32);
  u32[2] = body.length;
  u32[3] = lengths.length;
  u32[4] = calls.length;
  u32[5] = awaitedCalls;
  let w = HEADER_WORDS;
  for (let i = 0; i < lengths.length; i++) u32[w++] = lengths[i]!;
  for (let i = 0; i < calls.length; i++) u32[w++] = calls[i]!.count;
  new Uint8Array(buf, words * 4).set(body);
  return buf;
}

export function unpackFrame(buf: ArrayBuffer): AppendFrame {
  const head = new Uint32Array(buf, 0, HEADER_WORDS);
  const nLengths = head[3]!;
  const nCalls = head[4]!;
  return {
    op: "append",
    id: head[1]! * TWO_32 + head[0]!,
    bytes: buf,
    offset: (HEADER_WORDS + nLengths + nCalls) * 4,
    used: head[2]!,
    lengths: new Uint32Array(buf, HEADER_WORDS * 4, nLengths),
    calls: new Uint32Array(buf, (HEADER_WORDS + nLengths) * 4, nCalls),
    series: [],
    awaitedCalls: head[5]!,
    marks: [],
  };
}

/** [id, calls, first of each call...] per frame; null when a call was refused (the object form carries why). */
export function packOutcomes(
  frames: readonly AppendFrame[],
  outcomes: readonly AppendOutcome[],
): Float64Array | null {
  let size = 0;
  for (let i = 0; i < frames.length; i++) {
    if (outcomes[i]!.errors.length > 0) return null;
    size += 2 + outcomes[i]!.firsts.length;
  }
  const out = new Float64Array(size);
  let w = 0;
  for (let i = 0; i < frames.length; i++) {
    const firsts = outcomes[i]!.firsts;
    out[w++] = frames[i]!.id;
    out[w++] = firsts.length;
    out.set(firsts, w);
    w += firsts.length;
  }
  return out;
}

export function unpackOutcomes(
  packed: Float64Array,
  each: (id: number, outcome: AppendOutcome) => void,
): void {
  for (let r = 0; r < packed.length;) {
    const id = packed[r]!;
    const n = packed[r + 1]!;
    each(id, { firsts: packed.subarray(r + 2, r + 2 + n), errors: [] });
    r += 2 + n;
  }
}
