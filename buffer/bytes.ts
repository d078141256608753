// Little-endian byte strings written front to back and read back with bounds checks: the
// primitives of the stored reading format (varints up to 2^53, uint48, floats, 64-bit integers, text).

/** Thrown when stored bytes do not decode; the buffer dead-letters such a reading. */
export class DecodeError extends Error {}

const encoder = new TextEncoder();

/** A growable byte string written front to back. */
export class ByteWriter {
  bytes: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.bytes = new Uint8Array(initialSize);
    this.view = new DataView(this.bytes.buffer);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.pos));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.bytes[this.pos++] = v;
  }

  varint(v: number): void {
    this.ensure(8);
    const b = this.bytes;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }

  uint48(v: number): void {
    this.ensure(6);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.view.setUint16(this.pos + 4, Math.floor(v / 0x1_0000_0000), true);
    this.pos += 6;
  }

  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  f32(v: number): void {
    this.ensure(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
  }

  i64(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.pos, v, true);
    this.pos += 8;
  }

  u64(v: bigint): void {
    this.ensure(8);
    this.view.setBigUint64(this.pos, v, true);
    this.pos += 8;
  }

  raw(data: Uint8Array): void {
    this.varint(data.length);
    this.ensure(data.length);
    this.bytes.set(data, this.pos);
    this.pos += data.length;
  }

  /** Varint byte length, then UTF-8. The caller has checked the string is well formed. */
  str(s: string): void {
    const n = s.length;
    this.ensure(n + 5);
    const start = this.pos;
    this.varint(n);
    const b = this.bytes;
    let p = this.pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = start;
        this.utf8(s);
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  private utf8(s: string): void {
    const len = Buffer.byteLength(s, "utf8");
    this.varint(len);
    this.ensure(len);
    encoder.encodeInto(s, this.bytes.subarray(this.pos, this.pos + len));
    this.pos += len;
  }
}

/** Reads what ByteWriter wrote; every read checks the bounds, so truncated input throws DecodeError. */
export class ByteReader {
  readonly view: DataView;
  private readonly text: Buffer;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    public end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  private need(n: number): void {
    if (this.pos + n > this.end) throw new DecodeError("stored reading is truncated");
  }

  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    throw new DecodeError("stored varint is too long");
  }

  uint48(): number {
    this.need(6);
    const v = this.view.getUint32(this.pos, true) + this.view.getUint16(this.pos + 4, true) * 0x1_0000_0000;
    this.pos += 6;
    return v;
  }

  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  f32(): number {
    this.need(4);
    const v = this.view.getFloat32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  str(): string {
    const len = this.varint();
    this.need(len);
    const s = this.text.toString("utf8", this.pos, this.pos + len);
    this.pos += len;
    return s;
  }

  /** A copy, so a decoded reading does not pin the whole batch's memory. */
  raw(): Uint8Array {
    const len = this.varint();
    this.need(len);
    const out = this.bytes.slice(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  skipStr(): void {
    this.skip(this.varint());
  }
}
