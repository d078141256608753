// How readings are cut into chunk rows: at CHUNK_MAX readings, at CHUNK_MAX_BYTES of bodies, and
// where the sequence numbers stop being consecutive; every reading once, in order.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CHUNK_MAX, CHUNK_MAX_BYTES, ChunkWriter, lengthsOf } from "../../buffer/chunks.js";

interface Written {
  first: number;
  last: number;
  lengths: number[];
  body: number[];
}

function writer(): { w: ChunkWriter; rows: Written[] } {
  const rows: Written[] = [];
  const w = new ChunkWriter((first, last, lengths, body) =>
    rows.push({ first, last, lengths: [...lengthsOf(lengths)], body: [...body] }),
  );
  return { w, rows };
}

/** `n` readings of `size` bytes each; reading k's bytes are all k % 256. */
function run(n: number, size: number, from = 0): { lengths: Uint32Array; body: Uint8Array } {
  const body = new Uint8Array(n * size);
  for (let k = 0; k < n; k++) body.fill((from + k) % 256, k * size, (k + 1) * size);
  return { lengths: new Uint32Array(n).fill(size), body };
}

function assertCovers(rows: Written[], first: number, n: number, size: number): void {
  let next = first;
  for (const r of rows) {
    assert.equal(r.first, next);
    assert.equal(r.last - r.first + 1, r.lengths.length);
    r.lengths.forEach((len, i) => {
      assert.equal(len, size);
      assert.ok(r.body.slice(i * size, (i + 1) * size).every((b) => b === (r.first + i - first) % 256));
    });
    next = r.last + 1;
  }
  assert.equal(next, first + n);
}

test("small readings: chunks of CHUNK_MAX readings, the rest in a last one", () => {
  const { w, rows } = writer();
  const { lengths, body } = run(CHUNK_MAX * 2 + 7, 3);
  w.addRun(100, lengths, body);
  w.flush();
  assert.deepEqual(
    rows.map((r) => r.lengths.length),
    [CHUNK_MAX, CHUNK_MAX, 7],
  );
  assertCovers(rows, 100, CHUNK_MAX * 2 + 7, 3);
});

test("large readings: a chunk ends once its bodies reach CHUNK_MAX_BYTES (its last reading may go past it)", () => {
  const { w, rows } = writer();
  const size = 20_000;
  const { lengths, body } = run(10, size);
  w.addRun(1, lengths, body);
  const huge = run(1, CHUNK_MAX_BYTES * 2, 10);
  w.addRun(11, huge.lengths, huge.body);
  const after = run(1, 5, 11);
  w.addRun(12, after.lengths, after.body);
  w.flush();
  for (const r of rows) assert.ok(r.body.length - r.lengths[r.lengths.length - 1]! < CHUNK_MAX_BYTES);
  const withHuge = rows.findIndex((r) => r.last === 11);
  assert.equal(rows[withHuge]!.lengths.at(-1), CHUNK_MAX_BYTES * 2, "the huge reading ends its chunk");
  assert.deepEqual(
    rows.slice(withHuge + 1).map((r) => [r.first, r.last]),
    [[12, 12]],
  );
  assert.deepEqual(
    rows.flatMap((r) => r.lengths),
    [...Array<number>(10).fill(size), CHUNK_MAX_BYTES * 2, 5],
  );
  rows.forEach((r, i) => assert.equal(r.first, i === 0 ? 1 : rows[i - 1]!.last + 1));
});

test("runs added one after another share a chunk while their sequence numbers follow on, not across a gap", () => {
  const { w, rows } = writer();
  const a = run(5, 4);
  w.addRun(1, a.lengths, a.body);
  const b = run(5, 4, 5);
  w.addRun(6, b.lengths, b.body);
  const c = run(2, 4);
  w.addRun(20, c.lengths, c.body);
  w.flush();
  assert.deepEqual(
    rows.map((r) => [r.first, r.last]),
    [
      [1, 10],
      [20, 21],
    ],
  );
  assertCovers(rows.slice(0, 1), 1, 10, 4);
});
