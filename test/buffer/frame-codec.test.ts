// The packed forms of an append frame and of a commit's outcomes read back as they were written.
import assert from "node:assert/strict";
import { test } from "node:test";
import { packFrame, packOutcomes, unpackFrame, unpackOutcomes } from "../../buffer/frame-codec.js";
import type { AppendFrame, AppendOutcome } from "../../buffer/wire.js";

test("a packed frame unpacks to its id, readings, lengths, calls and awaited calls", () => {
  const body = Uint8Array.from({ length: 37 }, (_, i) => (i * 7) & 0xff);
  for (const id of [1, 2 ** 32 - 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
    const f = unpackFrame(packFrame(id, body, [10, 20, 7], [{ count: 2 }, { count: 1 }], 1));
    assert.equal(f.id, id);
    assert.deepEqual([...new Uint8Array(f.bytes, f.offset, f.used)], [...body]);
    assert.deepEqual([...f.lengths], [10, 20, 7]);
    assert.deepEqual([...f.calls], [2, 1]);
    assert.equal(f.awaitedCalls, 1);
    assert.deepEqual([f.series, f.marks], [[], []]);
  }
  const empty = unpackFrame(packFrame(3, new Uint8Array(0), [], [{ count: 0 }], 0));
  assert.deepEqual([empty.used, [...empty.lengths], [...empty.calls]], [0, [], [0]]);
});

test("outcomes without refusals pack into one array; one refusal keeps the object form", () => {
  const frames = [{ id: 4 }, { id: 2 ** 40 }] as AppendFrame[];
  const outcomes: AppendOutcome[] = [
    { firsts: Float64Array.of(100, 102), errors: [] },
    { firsts: Float64Array.of(103), errors: [] },
  ];
  const packed = packOutcomes(frames, outcomes)!;
  const back: [number, number[]][] = [];
  unpackOutcomes(packed, (id, o) => back.push([id, [...o.firsts]]));
  assert.deepEqual(back, [
    [4, [100, 102]],
    [2 ** 40, [103]],
  ]);
  outcomes[1]!.errors.push([0, { name: "BufferFullError", message: "full" }]);
  assert.equal(packOutcomes(frames, outcomes), null);
});
