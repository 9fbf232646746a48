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

/** n empty (PC, ref) slots. */
function newSlots(n: number): Float64Array {
  const s = new Float64Array(2 * n);
  for (let i = 0; i < s.length; i += 2) s[i] = EMPTY;
  return s;
}

export class Answers {
  /**
   * The index: open addressing with linear probing, at most half full, over one typed array of
   * (PC, packed ref) pairs — a lookup touches one cache line, not one in each of two arrays.
   * Unlike a Map of 100k+ entries it holds no objects for the GC to trace.
   */
  private slots = newSlots(INITIAL_SLOTS);
  private mask = INITIAL_SLOTS - 1;
  private count = 0;
  private readonly chunks: Uint8Array[] = [];
  private pos = CHUNK;

  get size(): number {
    return this.count;
  }

  /** Packed reference of the answer for `pc`, or undefined. */
  get(pc: number): number | undefined {
    const slots = this.slots;
    const mask = this.mask;
    let i = hash(pc) & mask;
    for (;;) {
      const k = slots[2 * i]!;
      if (k === pc) return slots[2 * i + 1]!;
      if (k === EMPTY) return undefined;
      i = (i + 1) & mask;
    }
  }

  private put(pc: number, ref: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.grow();
    const slots = this.slots;
    let i = hash(pc) & this.mask;
    for (;;) {
      const k = slots[2 * i]!;
      if (k === pc) {
        slots[2 * i + 1] = ref;
        return;
      }
      if (k === EMPTY) {
        slots[2 * i] = pc;
        slots[2 * i + 1] = ref;
        this.count++;
        return;
      }
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const old = this.slots;
    const n = 2 * (this.mask + 1);
    this.slots = newSlots(n);
    this.mask = n - 1;
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) {
      const k = old[i]!;
      if (k !== EMPTY) this.put(k, old[i + 1]!);
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
    return this.chunks.length * CHUNK + this.slots.length * 8;
  }

  clear(): void {
    this.slots = newSlots(INITIAL_SLOTS);
    this.mask = INITIAL_SLOTS - 1;
    this.count = 0;
    this.chunks.length = 0;
    this.pos = CHUNK;
  }
}
