import { GosymdError, truncated } from "./errors.js";

/**
 * A bounds-checked reader over a byte array. Every read checks the range and throws a
 * `truncated` GosymdError naming the format, field and absolute offset; nothing returns
 * `undefined` or clamps silently. Offsets are relative to `bytes`; `base` is added in errors so
 * they name the position in the whole file.
 *
 * 64-bit values are returned as JS numbers when they are exact (< 2^53); larger values throw
 * `unsupported` from `u64()` — use `u64big()` where such values are legal.
 */
export class Cursor {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly littleEndian: boolean;
  readonly format: string;
  /** Absolute file offset of bytes[0], used only for error messages. */
  readonly base: number;
  pos: number;

  constructor(bytes: Uint8Array, littleEndian: boolean, format: string, base = 0, pos = 0) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.littleEndian = littleEndian;
    this.format = format;
    this.base = base;
    this.pos = pos;
  }

  get length(): number {
    return this.bytes.length;
  }
  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  /** Throws unless [off, off+n) is inside the buffer. */
  check(off: number, n: number, field: string): void {
    if (
      !Number.isSafeInteger(off) ||
      !Number.isSafeInteger(n) ||
      off < 0 ||
      n < 0 ||
      off + n > this.bytes.length
    ) {
      throw truncated(this.format, field, this.base + (Number.isFinite(off) ? off : 0), n);
    }
  }

  u8At(off: number, field = "u8"): number {
    this.check(off, 1, field);
    return this.bytes[off]!;
  }
  u16At(off: number, field = "u16"): number {
    this.check(off, 2, field);
    return this.view.getUint16(off, this.littleEndian);
  }
  u32At(off: number, field = "u32"): number {
    this.check(off, 4, field);
    return this.view.getUint32(off, this.littleEndian);
  }
  i32At(off: number, field = "i32"): number {
    this.check(off, 4, field);
    return this.view.getInt32(off, this.littleEndian);
  }
  i16At(off: number, field = "i16"): number {
    this.check(off, 2, field);
    return this.view.getInt16(off, this.littleEndian);
  }
  u64bigAt(off: number, field = "u64"): bigint {
    this.check(off, 8, field);
    return this.view.getBigUint64(off, this.littleEndian);
  }
  u64At(off: number, field = "u64"): number {
    this.check(off, 8, field);
    const lo = this.view.getUint32(off + (this.littleEndian ? 0 : 4), this.littleEndian);
    const hi = this.view.getUint32(off + (this.littleEndian ? 4 : 0), this.littleEndian);
    if (hi >= 0x200000) {
      throw new GosymdError(
        "unsupported",
        `64-bit value 0x${(BigInt(hi) << 32n) | BigInt(lo)} is too large`,
        {
          format: this.format,
          field,
          offset: this.base + off,
        },
      );
    }
    return hi * 0x1_0000_0000 + lo;
  }
  /** Pointer-sized unsigned read. */
  ptrAt(off: number, ptrSize: number, field = "ptr"): number {
    return ptrSize === 8 ? this.u64At(off, field) : this.u32At(off, field);
  }

  u8(field?: string): number {
    const v = this.u8At(this.pos, field);
    this.pos += 1;
    return v;
  }
  u16(field?: string): number {
    const v = this.u16At(this.pos, field);
    this.pos += 2;
    return v;
  }
  u32(field?: string): number {
    const v = this.u32At(this.pos, field);
    this.pos += 4;
    return v;
  }
  i32(field?: string): number {
    const v = this.i32At(this.pos, field);
    this.pos += 4;
    return v;
  }
  u64(field?: string): number {
    const v = this.u64At(this.pos, field);
    this.pos += 8;
    return v;
  }
  u64big(field?: string): bigint {
    const v = this.u64bigAt(this.pos, field);
    this.pos += 8;
    return v;
  }
  ptr(ptrSize: number, field?: string): number {
    const v = this.ptrAt(this.pos, ptrSize, field);
    this.pos += ptrSize;
    return v;
  }
  skip(n: number, field = "padding"): void {
    this.check(this.pos, n, field);
    this.pos += n;
  }
  /** A view (no copy) of the next n bytes. */
  take(n: number, field = "bytes"): Uint8Array {
    this.check(this.pos, n, field);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  sliceAt(off: number, n: number, field = "bytes"): Uint8Array {
    this.check(off, n, field);
    return this.bytes.subarray(off, off + n);
  }

  /** Unsigned LEB128 (Go's binary.Uvarint), at most 10 bytes; values above 2^53 throw. */
  uvarint(field = "uvarint"): number {
    const r = readUvarint(this.bytes, this.pos);
    if (r < 0) throw truncated(this.format, field, this.base + this.pos);
    this.pos = uvarintEnd;
    return r;
  }

  /** NUL-terminated string at off, at most maxLen bytes (latin1-safe UTF-8 decode). */
  cstringAt(off: number, maxLen: number, field = "string"): string {
    this.check(off, 0, field);
    const end = this.bytes.indexOf(0, off);
    if (end < 0 || end - off > maxLen) {
      throw truncated(this.format, `${field} (unterminated string)`, this.base + off);
    }
    return decodeUtf8(this.bytes, off, end);
  }
}

/** Position after the last readUvarint; a module-level register avoids allocating a tuple per call. */
export let uvarintEnd = 0;

/**
 * Reads an unsigned LEB128 varint at `pos`. Returns the value (exact below 2^53), or -1 when the
 * buffer ends first or the encoding is longer than 10 bytes / overflows 2^53. Sets `uvarintEnd`.
 */
export function readUvarint(b: Uint8Array, pos: number): number {
  let x = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    const c = b[pos + i];
    if (c === undefined) return -1;
    x += (c & 0x7f) * mul;
    if (c < 0x80) {
      if (x > Number.MAX_SAFE_INTEGER) return -1;
      uvarintEnd = pos + i + 1;
      return x;
    }
    mul *= 128;
  }
  return -1;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
/** Decodes b[start:end); ASCII fast path avoids TextDecoder for the common case. */
export function decodeUtf8(b: Uint8Array, start: number, end: number): string {
  if (end - start < 64) {
    let ascii = true;
    for (let i = start; i < end; i++) {
      if (b[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) {
      let s = "";
      for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
      return s;
    }
  }
  return utf8.decode(b.subarray(start, end));
}
