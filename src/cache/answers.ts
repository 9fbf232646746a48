/**
 * Remembered answers of one binary: link-time PC → the encoded `Location` body (frames, reason;
 * everything but the address). Bodies live back to back in 1 MiB chunks (one Uint8Array per
 * answer would cost an ArrayBuffer each); the index maps a PC to a packed reference
 * (chunk, offset, length) held in one float64.
 */
const CHUNK = 1 << 20;
const LEN = 65536;
/** Bodies this long or longer are not remembered (deep inline chains with very long names). */
export const MAX_ANSWER_BYTES = LEN - 1;

const EMPTY = -1;
const INITIAL_SLOTS = 1024;

/** Spreads a PC (a safe integer) over the table; multiplicative hashing of both 32-bit halves. */
function hash(pc: number): number {
  return Math.imul((pc >>> 0) ^ Math.imul((pc / 4294967296) >>> 0, 0x85ebca6b), 0x9e3779b1) >>> 0;
}

export class Answers {
  /**
   * The index: open addressing with linear probing over two typed arrays (PC → packed ref), at
   * most half full. Unlike a Map of 100k+ entries it holds no objects for the GC to trace.
   */
  private keys = new Float64Array(INITIAL_SLOTS).fill(EMPTY);
  private vals = new Float64Array(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private readonly chunks: Uint8Array[] = [];
  private pos = CHUNK;

  get size(): number {
    return this.count;
  }

  /** Packed reference of the answer for `pc`, or undefined. */
  get(pc: number): number | undefined {
    const keys = this.keys;
    let i = hash(pc) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === pc) return this.vals[i]!;
      if (k === EMPTY) return undefined;
      i = (i + 1) & this.mask;
    }
  }

  private put(pc: number, ref: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    let i = hash(pc) & this.mask;
    for (;;) {
      const k = keys[i]!;
      if (k === pc) {
        this.vals[i] = ref;
        return;
      }
      if (k === EMPTY) {
        keys[i] = pc;
        this.vals[i] = ref;
        this.count++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const n = oldKeys.length * 2;
    this.keys = new Float64Array(n).fill(EMPTY);
    this.vals = new Float64Array(n);
    this.mask = n - 1;
    this.count = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      const k = oldKeys[i]!;
      if (k !== EMPTY) this.put(k, oldVals[i]!);
    }
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
    this.put(pc, (ci * CHUNK + at) * LEN + len);
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

  /** Bytes held (whole chunks and the index). */
  get bytes(): number {
    return this.chunks.length * CHUNK + this.keys.length * 16;
  }

  clear(): void {
    this.keys = new Float64Array(INITIAL_SLOTS).fill(EMPTY);
    this.vals = new Float64Array(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.count = 0;
    this.chunks.length = 0;
    this.pos = CHUNK;
  }
}
