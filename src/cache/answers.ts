/**
 * Remembered answers of one binary: link-time PC → the encoded `Location` body (frames, reason;
 * everything but the address). Bodies live back to back in 1 MiB chunks (one Uint8Array per
 * answer would cost an ArrayBuffer each); the index maps a PC to a packed reference
 * (chunk, offset, length) held in one JS number.
 */
const CHUNK = 1 << 20;
const LEN = 65536;
/** Bodies this long or longer are not remembered (deep inline chains with very long names). */
export const MAX_ANSWER_BYTES = LEN - 1;

export class Answers {
  private readonly index = new Map<number, number>();
  private readonly chunks: Uint8Array[] = [];
  private pos = CHUNK;

  get size(): number {
    return this.index.size;
  }

  /** Packed reference of the answer for `pc`, or undefined. */
  get(pc: number): number | undefined {
    return this.index.get(pc);
  }

  /** Stores `src[0, len)` for `pc`; returns the bytes newly allocated (0 or one chunk). */
  add(pc: number, src: Uint8Array, len: number): number {
    if (len > MAX_ANSWER_BYTES || this.chunks.length >= LEN) return 0;
    let allocated = 0;
    if (this.pos + len > CHUNK) {
      this.chunks.push(new Uint8Array(CHUNK));
      this.pos = 0;
      allocated = CHUNK;
    }
    const ci = this.chunks.length - 1;
    const chunk = this.chunks[ci]!;
    const at = this.pos;
    chunk.set(len === src.length ? src : src.subarray(0, len), at);
    this.pos += len;
    this.index.set(pc, (ci * CHUNK + at) * LEN + len);
    return allocated;
  }

  /** Length of a referenced body. */
  static lengthOf(ref: number): number {
    return ref % LEN;
  }

  /** First byte of a referenced body (0x12 when it has frames). */
  firstByte(ref: number): number {
    const abs = Math.floor(ref / LEN);
    return this.chunks[Math.floor(abs / CHUNK)]![abs % CHUNK]!;
  }

  /** Copies a referenced body into `dst` at `at`; returns its length. */
  copyTo(ref: number, dst: Uint8Array, at: number): number {
    const len = ref % LEN;
    const abs = Math.floor(ref / LEN);
    const chunk = this.chunks[Math.floor(abs / CHUNK)]!;
    const off = abs % CHUNK;
    // A view + set (memcpy) beats a byte loop from ~32 bytes on; bodies are ~100-500 bytes.
    dst.set(chunk.subarray(off, off + len), at);
    return len;
  }

  /** Bytes held (whole chunks). */
  get bytes(): number {
    return this.chunks.length * CHUNK;
  }

  clear(): void {
    this.index.clear();
    this.chunks.length = 0;
    this.pos = CHUNK;
  }
}
