// Readings are stored in chunks: one row holds a run of readings with consecutive rowids (up to
// CHUNK_MAX), their body lengths and their bodies back to back. A lease reads and a release
// deletes a few rows per thousand readings instead of one each. Batch edges are always chunk
// edges (a lease splits the chunk its batch ends in), so a recorded batch is a range of whole rows.

/** Readings per chunk at most: bounds what one split rewrites. */
export const CHUNK_MAX = 256;
/** A chunk ends once its bodies reach this size, so large readings make small chunks. */
export const CHUNK_MAX_BYTES = 64 * 1024;

/** [first rowid, last rowid, body lengths (u32 little-endian), bodies]. */
export type ChunkRow = [number, number, Uint8Array, Uint8Array];

if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1)
  throw new Error("the buffer stores body lengths little-endian and runs only on little-endian machines");

export function lengthsOf(blob: Uint8Array): Uint32Array {
  const out = new Uint32Array(blob.length >> 2);
  new Uint8Array(out.buffer).set(blob);
  return out;
}

export function lengthsBlob(lengths: Uint32Array): Uint8Array {
  return new Uint8Array(lengths.buffer, lengths.byteOffset, lengths.byteLength);
}

/** Calls `fn` with each reading of a chunk row: its rowid and its body. */
export function eachReading(
  [first, , lengths, body]: ChunkRow,
  fn: (rowid: number, body: Uint8Array) => void,
): void {
  let off = 0;
  lengthsOf(lengths).forEach((len, i) => {
    fn(first + i, body.subarray(off, off + len));
    off += len;
  });
}

/** Consecutive readings of one chunk: rowids first.. first + lengths.length - 1. */
export interface Piece {
  first: number;
  lengths: Uint32Array;
  body: Uint8Array;
  /** Whether the piece starts where its row starts (false for the rest of a split chunk). */
  rowStart: boolean;
}

export function pieceOf([first, , lengths, body]: ChunkRow): Piece {
  return { first, lengths: lengthsOf(lengths), body, rowStart: true };
}

/** The first `k` readings of a piece, and the rest. */
export function splitPiece(p: Piece, k: number): [Piece, Piece] {
  let bytes = 0;
  for (let i = 0; i < k; i++) bytes += p.lengths[i]!;
  return [
    {
      first: p.first,
      lengths: p.lengths.subarray(0, k),
      body: p.body.subarray(0, bytes),
      rowStart: p.rowStart,
    },
    {
      first: p.first + k,
      lengths: p.lengths.subarray(k),
      body: p.body.subarray(bytes),
      rowStart: false,
    },
  ];
}

/** Stored readings in rowid order, packed as the worker hands them over. */
export interface Packed {
  rowids: Float64Array;
  lengths: Uint32Array;
  bytes: Uint8Array;
}

export function packPieces(pieces: Piece[]): Packed {
  let n = 0;
  let size = 0;
  for (const p of pieces) {
    n += p.lengths.length;
    size += p.body.length;
  }
  const rowids = new Float64Array(n);
  const lengths = new Uint32Array(n);
  const bytes = new Uint8Array(size);
  let i = 0;
  let off = 0;
  for (const p of pieces) {
    lengths.set(p.lengths, i);
    for (let k = 0; k < p.lengths.length; k++) rowids[i + k] = p.first + k;
    i += p.lengths.length;
    bytes.set(p.body, off);
    off += p.body.length;
  }
  return { rowids, lengths, bytes };
}

/**
 * The readings of one transaction on their way into chunk rows: added in rowid order, written
 * whenever CHUNK_MAX are gathered, their bodies reach CHUNK_MAX_BYTES or the rowids stop being
 * consecutive, and by `flush`.
 */
export class ChunkWriter {
  private first = 0;
  private lengths = new Uint32Array(CHUNK_MAX);
  private parts: Uint8Array[] = [];
  private n = 0;
  private size = 0;

  constructor(
    private readonly write: (first: number, last: number, lengths: Uint8Array, body: Uint8Array) => void,
  ) {}

  /** Readings with rowids from `rowid` on: their lengths and their bodies back to back. */
  addRun(rowid: number, lengths: Uint32Array, body: Uint8Array): void {
    let i = 0;
    let off = 0;
    while (i < lengths.length) {
      if (this.n > 0 && rowid + i !== this.first + this.n) this.flush();
      if (this.n === 0) this.first = rowid + i;
      const room = Math.min(CHUNK_MAX - this.n, lengths.length - i);
      let take = 0;
      let bytes = 0;
      while (take < room && this.size + bytes < CHUNK_MAX_BYTES) {
        const len = lengths[i + take]!;
        this.lengths[this.n + take] = len;
        bytes += len;
        take++;
      }
      this.parts.push(body.subarray(off, off + bytes));
      this.n += take;
      this.size += bytes;
      i += take;
      off += bytes;
      if (this.n === CHUNK_MAX || this.size >= CHUNK_MAX_BYTES) this.flush();
    }
  }

  flush(): void {
    if (this.n === 0) return;
    const body = new Uint8Array(this.size);
    let off = 0;
    for (const p of this.parts) off += (body.set(p, off), p.length);
    this.write(this.first, this.first + this.n - 1, lengthsBlob(this.lengths.subarray(0, this.n)), body);
    this.n = 0;
    this.size = 0;
    this.parts = [];
  }
}
