/**
 * HPACK (RFC 7541) header compression for the HTTP/2 server.
 *
 * - HpackDecoder: the per-connection decoder of request header blocks, with its dynamic table.
 * - encodeHeaders: a stateless encoder for response headers (static table only, no Huffman, no
 *   dynamic table: the peer's decoder state never changes, so encoded blocks can be built
 *   independently and in any order).
 *
 * Strings are latin1 ("binary") JavaScript strings: one char per byte, byte-preserving both ways.
 * Header names are returned as they were sent (the caller validates case and characters).
 *
 * Errors: malformed input throws GosymdError("invalid_argument", "HPACK: ...") — an HTTP/2
 * COMPRESSION_ERROR: the decoder state is then unspecified and the connection must be closed.
 * A header list larger than maxHeaderListSize throws GosymdError("limit_exceeded") only after the
 * whole block has been decoded, so the dynamic table stays in sync with the peer's encoder and
 * the connection can continue (e.g. reset the stream or answer 431).
 */
import { GosymdError } from "../bytes/errors.js";
import { huffmanDecode } from "./huffman.js";

/** RFC 7541 Appendix A: the static table. STATIC_TABLE[i - 1] is the entry of index i (1..61). */
export const STATIC_TABLE: readonly (readonly [name: string, value: string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

const STATIC_COUNT = 61;
/** 1-based: STATIC_NAMES[i] / STATIC_VALUES[i] for index i; slot 0 unused. */
const STATIC_NAMES: string[] = [""];
const STATIC_VALUES: string[] = [""];
/** name -> its first (lowest) static index; entries with the same name are contiguous. */
const STATIC_NAME_INDEX = new Map<string, number>();
for (const [name, value] of STATIC_TABLE) {
  STATIC_NAMES.push(name);
  STATIC_VALUES.push(value);
  if (!STATIC_NAME_INDEX.has(name)) STATIC_NAME_INDEX.set(name, STATIC_NAMES.length - 1);
}

/** RFC 7541 §4.1: the size of an entry is its name and value lengths in bytes plus 32. */
export const ENTRY_OVERHEAD = 32;

/** Integers above this are rejected (no HPACK quantity we accept comes near it). */
const MAX_INT = 0x7fffffff;
/** At most this many continuation bytes after the prefix (5 x 7 bits covers 2^31 - 1). */
const MAX_INT_CONTINUATION = 5;

export interface HpackDecoderOptions {
  /** Our advertised SETTINGS_HEADER_TABLE_SIZE: the ceiling for dynamic table size updates. */
  maxTableSize: number;
  /** Our SETTINGS_MAX_HEADER_LIST_SIZE: sum over fields of name + value + 32 bytes. */
  maxHeaderListSize: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * The decoder of one HTTP/2 connection's header blocks. Blocks must be decoded in the order they
 * were received (the dynamic table carries state from one block to the next).
 */
export class HpackDecoder {
  private readonly maxTableSize: number;
  private readonly maxHeaderListSize: number;
  /** The current maximum size of the dynamic table (changed by size updates, ≤ maxTableSize). */
  private capacity: number;
  /** The current size of the dynamic table (RFC 7541 §4.1). */
  private size = 0;
  /** Ring buffer of entries; length is a power of two. Newest entry is at (tail - 1) & mask. */
  private names: string[];
  private values: string[];
  private mask: number;
  private tail = 0;
  private count = 0;
  /** The block being decoded and the read position in it. */
  private buf: Buffer = EMPTY;
  private pos = 0;

  constructor(opts: HpackDecoderOptions) {
    for (const k of ["maxTableSize", "maxHeaderListSize"] as const) {
      const v = opts[k];
      if (!Number.isSafeInteger(v) || v < 0) {
        throw new GosymdError("invalid_argument", `HPACK: ${k} must be a non-negative integer, got ${v}`);
      }
    }
    this.maxTableSize = opts.maxTableSize;
    this.maxHeaderListSize = opts.maxHeaderListSize;
    this.capacity = opts.maxTableSize;
    this.names = new Array<string>(16).fill("");
    this.values = new Array<string>(16).fill("");
    this.mask = 15;
  }

  /** The current dynamic table size in bytes (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.size;
  }

  /** The current maximum dynamic table size (the last size update, or maxTableSize). */
  get tableCapacity(): number {
    return this.capacity;
  }

  /** A copy of the dynamic table, newest entry first (index 62 first). For tests and debugging. */
  dynamicTable(): [name: string, value: string][] {
    const out: [string, string][] = [];
    for (let i = 1; i <= this.count; i++) {
      const slot = (this.tail - i) & this.mask;
      out.push([this.names[slot]!, this.values[slot]!]);
    }
    return out;
  }

  /**
   * Decodes one complete header block (HEADERS + CONTINUATION fragments concatenated, padding
   * and priority removed) into a flat [name0, value0, name1, value1, ...] list.
   */
  decode(block: Uint8Array): string[] {
    const buf = Buffer.isBuffer(block)
      ? block
      : Buffer.from(block.buffer, block.byteOffset, block.byteLength);
    this.buf = buf;
    this.pos = 0;
    try {
      return this.decodeBlock(buf);
    } finally {
      this.buf = EMPTY; // do not retain the caller's memory
    }
  }

  private decodeBlock(buf: Buffer): string[] {
    const end = buf.length;
    const out: string[] = [];
    const limit = this.maxHeaderListSize;
    let listSize = 0;
    let over = false;
    let sawField = false;
    while (this.pos < end) {
      const b = buf[this.pos]!;
      let name: string;
      let value: string;
      if (b & 0x80) {
        // §6.1 Indexed Header Field.
        const at = this.pos;
        const index = this.int(0x7f);
        if (index === 0) throw malformed("index 0 in indexed header field", at);
        if (index <= STATIC_COUNT) {
          name = STATIC_NAMES[index]!;
          value = STATIC_VALUES[index]!;
        } else {
          const slot = this.dynamicSlot(index, at);
          name = this.names[slot]!;
          value = this.values[slot]!;
        }
      } else if (b & 0x40) {
        // §6.2.1 Literal Header Field with Incremental Indexing.
        name = this.literalName(0x3f);
        value = this.string();
        this.add(name, value);
      } else if (b & 0x20) {
        // §6.3 Dynamic Table Size Update: only before the first field of a block (§4.2).
        const at = this.pos;
        if (sawField) throw malformed("dynamic table size update after a header field", at);
        const n = this.int(0x1f);
        if (n > this.maxTableSize) {
          throw malformed(`dynamic table size update to ${n} exceeds the limit ${this.maxTableSize}`, at);
        }
        this.capacity = n;
        while (this.size > n) this.evict();
        continue;
      } else {
        // §6.2.2 Literal without Indexing (0000) and §6.2.3 Never Indexed (0001): 4-bit prefix.
        name = this.literalName(0x0f);
        value = this.string();
      }
      sawField = true;
      if (!over) {
        listSize += name.length + value.length + ENTRY_OVERHEAD;
        if (listSize > limit) over = true;
        else out.push(name, value);
      }
    }
    if (over) {
      // The whole block was decoded, so the dynamic table is consistent with the peer's.
      throw new GosymdError(
        "limit_exceeded",
        `HPACK: header list exceeds the maximum size of ${limit} bytes`,
        { format: "hpack", field: "header list" },
      );
    }
    return out;
  }

  /** Reads an integer with the given prefix mask (2^N - 1) starting at the current byte (§5.1). */
  private int(prefixMask: number): number {
    const buf = this.buf;
    let p = this.pos;
    let v = buf[p++]! & prefixMask;
    if (v < prefixMask) {
      this.pos = p;
      return v;
    }
    let mul = 1;
    for (let i = 0; ; i++) {
      if (p >= buf.length) throw malformed("integer runs past the end of the block", p);
      if (i >= MAX_INT_CONTINUATION) throw malformed("integer has too many continuation bytes", p);
      const c = buf[p++]!;
      v += (c & 0x7f) * mul;
      if (v > MAX_INT) throw malformed("integer exceeds 2^31-1", p - 1);
      if ((c & 0x80) === 0) break;
      mul *= 128;
    }
    this.pos = p;
    return v;
  }

  /** The name of a literal field: an index (with the given prefix), or 0 and a string literal. */
  private literalName(prefixMask: number): string {
    const at = this.pos;
    const index = this.int(prefixMask);
    if (index === 0) return this.string();
    if (index <= STATIC_COUNT) return STATIC_NAMES[index]!;
    return this.names[this.dynamicSlot(index, at)]!;
  }

  /** A string literal (§5.2): H bit, 7-bit prefix length, then raw or Huffman-coded bytes. */
  private string(): string {
    const buf = this.buf;
    const at = this.pos;
    if (at >= buf.length) throw malformed("block ends before a string literal", at);
    const huffman = buf[at]! & 0x80;
    const len = this.int(0x7f);
    const start = this.pos;
    const end = start + len;
    if (end > buf.length) {
      throw malformed(`string literal of ${len} bytes runs past the end of the block`, at);
    }
    this.pos = end;
    if (len === 0) return "";
    return huffman ? huffmanDecode(buf, start, end) : buf.toString("latin1", start, end);
  }

  /** The ring slot of a dynamic table index (62 = newest), or an error if out of range. */
  private dynamicSlot(index: number, at: number): number {
    const d = index - STATIC_COUNT;
    if (d > this.count) {
      throw malformed(`index ${index} is out of range (static 61 + dynamic ${this.count} entries)`, at);
    }
    return (this.tail - d) & this.mask;
  }

  /** Adds an entry (§4.4): evict oldest entries to make room; a too-large entry empties the table. */
  private add(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    if (entrySize > this.capacity) {
      while (this.count > 0) this.evict();
      return;
    }
    while (this.size + entrySize > this.capacity) this.evict();
    if (this.count === this.names.length) this.grow();
    const slot = this.tail;
    this.names[slot] = name;
    this.values[slot] = value;
    this.tail = (slot + 1) & this.mask;
    this.count++;
    this.size += entrySize;
  }

  /** Removes the oldest entry. */
  private evict(): void {
    const slot = (this.tail - this.count) & this.mask;
    this.size -= this.names[slot]!.length + this.values[slot]!.length + ENTRY_OVERHEAD;
    this.names[slot] = "";
    this.values[slot] = "";
    this.count--;
  }

  private grow(): void {
    const n = this.names.length * 2;
    const names = new Array<string>(n).fill("");
    const values = new Array<string>(n).fill("");
    // Copy oldest..newest to 0..count-1.
    for (let i = 0; i < this.count; i++) {
      const slot = (this.tail - this.count + i) & this.mask;
      names[i] = this.names[slot]!;
      values[i] = this.values[slot]!;
    }
    this.names = names;
    this.values = values;
    this.mask = n - 1;
    this.tail = this.count & this.mask;
  }
}

function malformed(what: string, offset: number): GosymdError {
  return new GosymdError("invalid_argument", `HPACK: ${what}`, { format: "hpack", offset });
}

/**
 * Encodes a flat [name0, value0, name1, value1, ...] list (lowercase names, latin1 values: chars
 * above 0xff are written as their low byte) statelessly: no dynamic table, no Huffman coding.
 * A field equal to a static entry is sent indexed; otherwise "literal without indexing" with an
 * indexed name when the name is in the static table, or a literal name.
 */
export function encodeHeaders(fields: readonly string[]): Buffer {
  const n = fields.length;
  if (n % 2 !== 0) {
    throw new GosymdError("invalid_argument", "HPACK: header list has a name without a value");
  }
  // Upper bound: per field at most 3 integers of 6 bytes (+1), plus the strings.
  let bound = 0;
  for (let i = 0; i < n; i++) bound += fields[i]!.length + 10;
  const out = Buffer.allocUnsafe(bound);
  let p = 0;
  for (let i = 0; i < n; i += 2) {
    const name = fields[i]!;
    const value = fields[i + 1]!;
    const first = STATIC_NAME_INDEX.get(name);
    if (first === undefined) {
      out[p++] = 0x00; // literal without indexing, new name
      p = writeString(out, p, name);
      p = writeString(out, p, value);
      continue;
    }
    let exact = 0;
    for (let j = first; j <= STATIC_COUNT && STATIC_NAMES[j] === name; j++) {
      if (STATIC_VALUES[j] === value) {
        exact = j;
        break;
      }
    }
    if (exact !== 0) {
      p = writeInt(out, p, 0x80, 0x7f, exact);
    } else {
      p = writeInt(out, p, 0x00, 0x0f, first);
      p = writeString(out, p, value);
    }
  }
  return out.subarray(0, p);
}

function writeInt(out: Buffer, p: number, flags: number, prefixMask: number, v: number): number {
  if (v < prefixMask) {
    out[p++] = flags | v;
    return p;
  }
  out[p++] = flags | prefixMask;
  v -= prefixMask;
  while (v >= 0x80) {
    out[p++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[p++] = v;
  return p;
}

function writeString(out: Buffer, p: number, s: string): number {
  p = writeInt(out, p, 0x00, 0x7f, s.length);
  if (s.length > 0) p += out.write(s, p, "latin1");
  return p;
}
