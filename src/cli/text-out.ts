/**
 * Bytes out for the CLI's text output: frames are written as UTF-8 straight into a buffer, with
 * no string built per line and no encoding pass after. Full buffers are handed to `emit` (and
 * never written to again, so a stream may hold on to them).
 *
 * Measured on 200,000 addresses (25 MB of output): building strings and encoding them cost about
 * a quarter of the CLI's time, most of it the garbage collector's.
 */

/** Bytes per buffer handed on (the pipe's size is 64 KiB on Linux). */
const PIECE = 1 << 16;

/** Strings `cached` keeps the bytes of (then it starts again). */
const MAX_CACHED = 1 << 16;

export class TextOut {
  private buf: Buffer = Buffer.allocUnsafe(PIECE);
  private pos = 0;

  /**
   * `emit` may return true to say it is done with the bytes (written out already): the buffer is
   * then filled again, instead of a new one taken. Fresh memory costs a page fault per 4 KiB
   * touched, which 25 MB of output turns into thousands.
   */
  constructor(private readonly emit: (bytes: Uint8Array) => unknown) {}

  /** Room for at least n more bytes (a larger buffer for a longer string). */
  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
  }

  /** Hands on what is buffered. */
  flush(): void {
    if (this.pos === 0) return;
    const done = this.emit(this.buf.subarray(0, this.pos));
    if (done !== true) this.buf = Buffer.allocUnsafe(PIECE);
    this.pos = 0;
  }

  /** Characters [start, end) of s, as UTF-8. */
  text(s: string, start = 0, end = s.length): void {
    const len = end - start;
    this.room(3 * len);
    const b = this.buf;
    let p = this.pos;
    for (let i = start; i < end; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        // Not ASCII: the encoder writes the whole range.
        this.pos += b.write(s.slice(start, end), this.pos, "utf8");
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  /** UTF-8 of the strings given to `cached`, by string (file names: a few thousand, repeated). */
  private readonly bytesOf = new Map<string, Uint8Array>();

  /** s, as UTF-8, for strings written again and again: encoded once, then copied. */
  cached(s: string): void {
    let b = this.bytesOf.get(s);
    if (b === undefined) {
      b = Buffer.from(s, "utf8");
      if (this.bytesOf.size >= MAX_CACHED) this.bytesOf.clear();
      this.bytesOf.set(s, b);
    }
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  byte(c: number): void {
    this.room(1);
    this.buf[this.pos++] = c;
  }

  /** A non-negative integer in decimal. */
  uint(v: number): void {
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER)) {
      this.text(String(v));
      return;
    }
    this.room(16);
    const b = this.buf;
    let digits = 1;
    for (let x = v; x >= 10; x = Math.floor(x / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    let x = v;
    do {
      const q = Math.floor(x / 10);
      b[--p] = 48 + (x - q * 10);
      x = q;
    } while (x > 0);
  }
}
