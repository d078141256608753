// Little-endian byte readers and writers with bounds checks, shared by the wire generations.

/** A layout did not fit the bytes: truncated, too long, or a field out of range. */
export class LayoutError extends Error {
  override name = "LayoutError";
  /** The Iggy status a server answers with for this fault (InvalidCommand unless said otherwise). */
  constructor(
    message: string,
    readonly code = 3,
  ) {
    super(message);
  }
}

export class Reader {
  pos = 0;
  constructor(
    readonly buf: Buffer,
    readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number, field: string): number {
    if (this.pos + n > this.buf.length) {
      throw new LayoutError(
        `${this.what}: truncated at ${field} (needs ${n} bytes at ${this.pos}, has ${this.buf.length - this.pos})`,
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(field = "u8"): number {
    return this.buf.readUInt8(this.need(1, field));
  }
  u32(field = "u32"): number {
    return this.buf.readUInt32LE(this.need(4, field));
  }
  u64(field = "u64"): bigint {
    return this.buf.readBigUInt64LE(this.need(8, field));
  }
  u128(field = "u128"): bigint {
    const at = this.need(16, field);
    return this.buf.readBigUInt64LE(at) | (this.buf.readBigUInt64LE(at + 8) << 64n);
  }
  bytes(n: number, field = "bytes"): Buffer {
    const at = this.need(n, field);
    return this.buf.subarray(at, at + n);
  }
  /** Passes over n bytes that the reader does not need. */
  skip(n: number, field = "bytes"): void {
    this.need(n, field);
  }
  /** u8 length then UTF-8. */
  name(field = "name"): string {
    const len = this.u8(`${field} length`);
    return this.bytes(len, field).toString("utf8");
  }
  /** The reader must have consumed everything. */
  end(): void {
    if (this.remaining !== 0) {
      throw new LayoutError(`${this.what}: ${this.remaining} unexpected trailing bytes`);
    }
  }
}

export class Writer {
  private buf: Buffer;
  pos = 0;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Reserves n bytes and returns where they start; read `this.buf` only after calling it (it may grow). */
  private room(n: number): number {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(next, 0, 0, this.pos);
      this.buf = next;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf.writeUInt8(v, at);
    return this;
  }
  u32(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32LE(v, at);
    return this;
  }
  u64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
    return this;
  }
  u128(v: bigint): this {
    const at = this.room(16);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), at);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v >> 64n), at + 8);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.room(b.length);
    this.buf.set(b, at);
    return this;
  }
  /** Overwrites a u32 written earlier (a length known only later). */
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v, at);
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** A name on the wire: u8 length, 1..255 bytes of UTF-8. */
export function nameBytes(name: string, field: string): Buffer {
  const b = Buffer.from(name, "utf8");
  if (b.length < 1 || b.length > 255) {
    throw new RangeError(`${field} must be 1..255 bytes of UTF-8, got ${b.length}`);
  }
  return b;
}
