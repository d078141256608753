// Cuts a byte stream into frames of "fixed-size header + body whose length the header gives".
// Both wire generations frame this way (0.8: 8-byte header; 0.10: 256-byte header).
import { LayoutError } from "./bytes.js";

export interface Frame {
  header: Buffer;
  body: Buffer;
}

export class FrameAssembler {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: Buffer | null = null;
  private bodyLen = 0;

  /**
   * @param bodyLength reads the body length from a header; throws LayoutError when the header is bad.
   * @param maxBody a body longer than this is refused before any of it is buffered.
   */
  constructor(
    private readonly headerSize: number,
    private readonly bodyLength: (header: Buffer) => number,
    private readonly maxBody: number,
  ) {}

  /** Bytes held of a frame not yet complete. */
  get pending(): number {
    return this.buffered + (this.header ? this.header.length : 0);
  }

  /** Expected size of the frame being assembled, if its header has arrived. */
  get expecting(): number | null {
    return this.header ? this.headerSize + this.bodyLen : null;
  }

  private checkedLength(header: Buffer): number {
    const len = this.bodyLength(header);
    if (!Number.isInteger(len) || len < 0)
      throw new LayoutError(`frame header gives an invalid length ${len}`);
    if (len > this.maxBody) {
      throw new LayoutError(`frame body of ${len} bytes exceeds the limit of ${this.maxBody} bytes`);
    }
    return len;
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      while (at < n) {
        const c = this.chunks[0]!;
        const used = Math.min(c.length, n - at);
        c.copy(out, at, 0, used);
        at += used;
        if (used === c.length) this.chunks.shift();
        else this.chunks[0] = c.subarray(used);
      }
    }
    this.buffered -= n;
    return out;
  }

  /** Adds received bytes; returns every frame now complete. Throws LayoutError on a bad header. */
  push(chunk: Buffer): Frame[] {
    // The usual reply: one whole frame in one chunk, with nothing held; no copies, no bookkeeping.
    if (this.header === null && this.buffered === 0 && chunk.length >= this.headerSize) {
      const header = chunk.subarray(0, this.headerSize);
      const len = this.checkedLength(header);
      if (chunk.length === this.headerSize + len)
        return [{ header, body: len === 0 ? Buffer.alloc(0) : chunk.subarray(this.headerSize) }];
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Frame[] = [];
    for (;;) {
      if (!this.header) {
        if (this.buffered < this.headerSize) return out;
        const header = this.take(this.headerSize);
        const len = this.checkedLength(header);
        this.header = header;
        this.bodyLen = len;
      }
      if (this.buffered < this.bodyLen) return out;
      const body = this.bodyLen === 0 ? Buffer.alloc(0) : this.take(this.bodyLen);
      out.push({ header: this.header, body });
      this.header = null;
      this.bodyLen = 0;
    }
  }
}
