// Where the JSON codec writes its text: straight into bytes, in a growable buffer reused from batch
// to batch, integers digit by digit. Turning a number into a string (V8's conversion of anything
// but a small integer) and then a long string into bytes cost more than the rest of the encoding
// together; on the usual path this does neither.

const MIN_CAPACITY = 64 * 1024;
/** A larger buffer is let go after the batch, so one huge batch does not hold memory forever. */
const KEEP_CAPACITY = 4 * 1024 * 1024;

export class ByteSink {
  private buf = Buffer.alloc(0);
  at = 0;

  /** Makes room for `n` more bytes. */
  room(n: number): void {
    if (this.at + n > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, this.buf.length * 2, this.at + n));
      this.buf.copy(next, 0, 0, this.at);
      this.buf = next;
    }
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  bytes(src: Uint8Array): void {
    const n = src.length;
    this.room(n);
    this.buf.set(src, this.at);
    this.at += n;
  }

  /** Text known to be ASCII (digits, base64, a number's text). */
  ascii(s: string): void {
    const n = s.length;
    this.room(n);
    if (n > 64) {
      this.at += this.buf.write(s, this.at, n, "latin1");
      return;
    }
    const buf = this.buf;
    const at = this.at;
    for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
    this.at = at + n;
  }

  /** Any well-formed text (JSON.stringify's output is). */
  utf8(s: string): void {
    this.room(s.length * 3);
    this.at += this.buf.write(s, this.at, "utf8");
  }

  /** 0 <= n < 2^31, an integer. */
  uint(n: number): void {
    let len = 1;
    for (let p = 10; len < 10 && n >= p; p *= 10) len++;
    this.room(len);
    this.digits(n, len);
  }

  /** The last `len` decimal digits of the integer n (0 <= n < 2^31), zero-padded; room is made. */
  digits(n: number, len: number): void {
    const buf = this.buf;
    let p = this.at + len;
    this.at = p;
    for (let i = 0; i < len; i++) {
      const q = (n / 10) | 0;
      buf[--p] = 48 + n - q * 10;
      n = q;
    }
  }

  /** A copy of what was written, and the sink emptied for the next batch. */
  take(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.at);
    this.buf.copy(out, 0, 0, this.at);
    this.at = 0;
    if (this.buf.length > KEEP_CAPACITY) this.buf = Buffer.alloc(0);
    return out;
  }
}
