/**
 * Protocol-buffer wire format, just what profile.proto needs: a bounds-checked reader over one
 * buffer (varints, tags, length-delimited ranges, skipping) and a growable writer. Nothing here
 * knows pprof; decode.ts / encode.ts do.
 *
 * Values are JS numbers. A varint above 2^53-1 (kernel addresses, negative int64s) is read
 * exactly as far as the wire is concerned (its bytes are consumed correctly) but returned as
 * `UNSAFE` (-1): callers treat such a value as "cannot be used" and copy the field through raw.
 */
import { GosymdError, truncated } from "../bytes/errors.js";

export const WT_VARINT = 0;
export const WT_FIXED64 = 1;
export const WT_LEN = 2;
export const WT_FIXED32 = 5;

/** Returned for varints whose value is not a safe integer (>= 2^53). */
export const UNSAFE = -1;

const FORMAT = "pprof";

export class WireReader {
  readonly buf: Uint8Array;
  pos: number;
  /** Exclusive end of the message being read. */
  end: number;
  /** What is being read, for errors ("profile", "mapping", ...). */
  what: string;

  constructor(buf: Uint8Array, pos = 0, end = buf.length, what = "profile") {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.what = what;
  }

  /** Unsigned varint (up to 10 bytes); UNSAFE when the value does not fit 53 bits. */
  varint(field = "varint"): number {
    const b = this.buf;
    let pos = this.pos;
    const end = this.end;
    // Fast path: one byte.
    if (pos < end) {
      const c = b[pos]!;
      if (c < 0x80) {
        this.pos = pos + 1;
        return c;
      }
    }
    let x = 0;
    let mul = 1;
    let unsafe = false;
    for (let i = 0; i < 10; i++, pos++) {
      if (pos >= end) throw truncated(FORMAT, `${this.what} ${field}`, this.pos);
      const c = b[pos]!;
      if (i === 9 && c > 1) throw corruptAt(this.what, field, this.pos, "varint overflows 64 bits");
      if (!unsafe) {
        x += (c & 0x7f) * mul;
        if (x > Number.MAX_SAFE_INTEGER) unsafe = true;
      } else if ((c & 0x7f) !== 0) {
        unsafe = true;
      }
      mul *= 128;
      if (c < 0x80) {
        this.pos = pos + 1;
        return unsafe ? UNSAFE : x;
      }
    }
    throw corruptAt(this.what, field, this.pos, "varint longer than 10 bytes");
  }

  /**
   * Next field key. Returns fieldNumber * 8 + wireType, validated: field number >= 1, wire type
   * one of varint, fixed64, length-delimited, fixed32 (groups are not used by profile.proto).
   */
  tag(): number {
    const at = this.pos;
    const t = this.varint("field key");
    if (t === UNSAFE || t > 0xffff_ffff) throw corruptAt(this.what, "field key", at, "field key too large");
    const wt = t & 7;
    if (t >>> 3 === 0) throw corruptAt(this.what, "field key", at, "field number 0");
    if (wt !== WT_VARINT && wt !== WT_FIXED64 && wt !== WT_LEN && wt !== WT_FIXED32) {
      throw corruptAt(this.what, "field key", at, `unsupported wire type ${wt}`);
    }
    return t;
  }

  /** For a length-delimited field: the payload's start; `pos` moves past it (read `end` via lenEnd). */
  lenStart(field: string): number {
    const at = this.pos;
    const n = this.varint(`${field} length`);
    if (n === UNSAFE || n > this.end - this.pos) {
      throw truncated(FORMAT, `${this.what} ${field}`, at, n === UNSAFE ? undefined : n);
    }
    const start = this.pos;
    this.pos += n;
    return start;
  }

  /** Skips the value of a field with wire type `wt` (the key already read). */
  skip(wt: number, field: string): void {
    switch (wt) {
      case WT_VARINT:
        this.varint(field);
        return;
      case WT_FIXED64:
        this.need(8, field);
        this.pos += 8;
        return;
      case WT_FIXED32:
        this.need(4, field);
        this.pos += 4;
        return;
      case WT_LEN:
        this.lenStart(field);
        return;
      default:
        throw corruptAt(this.what, field, this.pos, `unsupported wire type ${wt}`);
    }
  }

  private need(n: number, field: string): void {
    if (this.end - this.pos < n) throw truncated(FORMAT, `${this.what} ${field}`, this.pos, n);
  }

  /** Throws unless `wt` is the wire type profile.proto declares for this field. */
  expect(wt: number, want: number, field: string, at: number): void {
    if (wt !== want) {
      throw corruptAt(this.what, field, at, `wire type ${wt} where ${want} is expected`);
    }
  }
}

export function corruptAt(what: string, field: string, offset: number, message: string): GosymdError {
  return new GosymdError("corrupt", `malformed profile: ${message}`, {
    format: FORMAT,
    field: `${what} ${field}`,
    offset,
  });
}

/** Bytes a varint of the (safe, non-negative) value takes. */
export function varintSize(v: number): number {
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x20_0000) return 3;
  if (v < 0x1000_0000) return 4;
  let n = 4;
  v = Math.floor(v / 0x1000_0000);
  while (v > 0) {
    n++;
    v = Math.floor(v / 128);
  }
  return n;
}

const utf8 = new TextEncoder();

/** Writes varint v (safe, non-negative) at b[p]; returns the position after it. */
function putVarint(b: Uint8Array, p: number, v: number): number {
  while (v > 0x7fff_ffff) {
    b[p++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}

/**
 * Writes into fixed-size blocks; full blocks (and large pass-through views) are handed to
 * `emit` in order. Small pass-through ranges are copied so the consumer sees few, large chunks.
 */
export class ChunkWriter {
  private block: Uint8Array;
  private pos = 0;
  /** Total bytes emitted or pending. */
  written = 0;

  constructor(
    private readonly emit: (chunk: Uint8Array) => void,
    private readonly blockSize = 1 << 20,
    /** Pass-through ranges at least this long are emitted as views instead of copied. */
    private readonly viewThreshold = 1 << 16,
  ) {
    this.block = new Uint8Array(blockSize);
  }

  /** Makes room for n contiguous bytes in the current block. */
  private reserve(n: number): void {
    if (this.block.length - this.pos >= n) return;
    this.flush();
    if (n > this.block.length) this.block = new Uint8Array(Math.max(n, this.blockSize));
  }

  /** Emits what the current block holds and starts a fresh one. */
  flush(): void {
    if (this.pos === 0) return;
    this.emit(this.block.subarray(0, this.pos));
    this.block = new Uint8Array(this.blockSize);
    this.pos = 0;
  }

  /** Appends src[start, end) — copied when short, emitted as a view when long. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.written += n;
    if (n >= this.viewThreshold) {
      this.flush();
      this.emit(src.subarray(start, end));
      return;
    }
    this.reserve(n);
    if (n <= 64) {
      // Short runs (fields of one message): a loop beats allocating a view.
      const b = this.block;
      let p = this.pos;
      for (let i = start; i < end; i++) b[p++] = src[i]!;
    } else {
      this.block.set(src.subarray(start, end), this.pos);
    }
    this.pos += n;
  }

  /** Unsigned varint of a safe non-negative integer. */
  varint(v: number): void {
    this.reserve(10);
    const p = putVarint(this.block, this.pos, v);
    this.written += p - this.pos;
    this.pos = p;
  }

  /** Field key. */
  key(field: number, wt: number): void {
    this.varint(field * 8 + wt);
  }

  /** Length-delimited bytes field. */
  bytesField(field: number, data: Uint8Array): void {
    this.key(field, WT_LEN);
    this.varint(data.length);
    const n = data.length;
    this.reserve(n);
    if (n <= 64) {
      const b = this.block;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = data[i]!;
    } else {
      this.block.set(data, this.pos);
    }
    this.pos += n;
    this.written += n;
  }

  /** Length-delimited UTF-8 string field. */
  stringField(field: number, s: string): void {
    const n = Buffer.byteLength(s, "utf8");
    this.key(field, WT_LEN);
    this.varint(n);
    this.reserve(n);
    const done = utf8.encodeInto(s, this.block.subarray(this.pos, this.pos + n)).written;
    this.pos += done;
    this.written += done;
  }

  /**
   * A pprof Line as field `field` of the enclosing message: {1: functionId, 2: line} (line
   * omitted when 0). Both are safe non-negative integers below 2^35.
   */
  lineField(field: number, functionId: number, line: number): void {
    const body = 1 + varintSize(functionId) + (line === 0 ? 0 : 1 + varintSize(line));
    this.reserve(32);
    const b = this.block;
    let p = this.pos;
    b[p++] = (field << 3) | WT_LEN;
    b[p++] = body; // < 128
    b[p++] = (1 << 3) | WT_VARINT;
    p = putVarint(b, p, functionId);
    if (line !== 0) {
      b[p++] = (2 << 3) | WT_VARINT;
      p = putVarint(b, p, line);
    }
    this.written += p - this.pos;
    this.pos = p;
  }

  /** Varint field, omitted when zero (proto3 default). */
  varintField(field: number, v: number): void {
    if (v === 0) return;
    this.key(field, WT_VARINT);
    this.varint(v);
  }
}
