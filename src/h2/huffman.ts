/**
 * The HPACK Huffman code (RFC 7541 Appendix B) and a table-driven decoder for it.
 *
 * The decoder is a finite-state machine that consumes 4 bits at a time (the approach of nghttp2):
 * its states are the 256 internal nodes of the code tree, and for each (state, nibble) a
 * precomputed transition gives the next state and at most one emitted symbol (every code is at
 * least 5 bits long, so 4 bits cannot complete two symbols). The table (256 x 16 entries) is
 * built once at module load from the code lengths and codes below.
 *
 * RFC 7541 §5.2 errors are rejected: the EOS symbol inside the data, padding longer than 7 bits,
 * and padding that is not the most significant bits of EOS (all 1-bits).
 */
import { GosymdError } from "../bytes/errors.js";

/** The code of each symbol 0..256 (256 is EOS), right-aligned, from RFC 7541 Appendix B. */
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8, 0xffffea,
  0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed, 0xfffffee, 0xfffffef,
  0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7,
  0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, 0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa,
  0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, 0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c,
  0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
  0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0,
  0x1ffc, 0x3ffc, 0x22, 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, 0x27, 0x6, 0x74, 0x75, 0x28, 0x29,
  0x2a, 0x7, 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd,
  0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, 0x3fffd6, 0x7fffda,
  0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0,
  0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6,
  0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea,
  0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0,
  0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5,
  0x3fffe6, 0x7ffff1, 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3,
  0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9,
  0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7,
  0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, 0x7ffffeb,
  0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee, 0x3fffffff,
];
/** The length in bits of each symbol's code (RFC 7541 Appendix B). */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

const EOS = 256;
/** Transition entry layout: bits 0-7 next state, bits 8-15 emitted symbol, then flags. */
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/** transitions[(state << 4) | nibble] */
const transitions = new Uint32Array(256 * 16);
/** accepting[state]: ending the string in this state is valid (≤ 7 bits of all-1 padding). */
const accepting = new Uint8Array(256);

buildDecoder();

function buildDecoder(): void {
  // The code tree: internal nodes are 0..255 (0 is the root); a child is either an internal node
  // (>= 0) or a leaf, stored as ~symbol (< 0). -0x7fffffff marks "not yet assigned".
  const UNSET = -0x7fffffff;
  const child = new Int32Array(256 * 2).fill(UNSET);
  const depth = new Uint8Array(256);
  const allOnes = new Uint8Array(256);
  allOnes[0] = 1;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym]!;
    const len = HUFFMAN_CODE_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = node * 2 + bit;
      const c = child[slot]!;
      if (i === 0) {
        if (c !== UNSET) throw bug(`code of symbol ${sym} is not prefix-free`);
        child[slot] = ~sym;
      } else if (c === UNSET) {
        if (nodes >= 256) throw bug("too many internal nodes");
        const n = nodes++;
        child[slot] = n;
        depth[n] = depth[node]! + 1;
        allOnes[n] = allOnes[node]! & bit;
        node = n;
      } else {
        if (c < 0) throw bug(`code of symbol ${sym} is not prefix-free`);
        node = c;
      }
    }
  }
  if (nodes !== 256) throw bug(`code tree has ${nodes} internal nodes, want 256`);
  for (let s = 0; s < 256; s++) {
    if (child[2 * s] === UNSET || child[2 * s + 1] === UNSET) throw bug("code tree is incomplete");
    accepting[s] = allOnes[s]! && depth[s]! <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = s;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const c = child[node * 2 + ((nibble >> i) & 1)]!;
        if (c >= 0) {
          node = c;
          continue;
        }
        const sym = ~c;
        if (sym === EOS) {
          entry = FAIL;
          break;
        }
        if (entry & EMIT) throw bug("two symbols in one nibble");
        entry = EMIT | (sym << 8);
        node = 0;
      }
      transitions[(s << 4) | nibble] = entry | (entry & FAIL ? 0 : node);
    }
  }
}

function bug(msg: string): GosymdError {
  return new GosymdError("internal", `HPACK Huffman table: ${msg}`);
}

/** Reused output buffer (decoding is synchronous, so one per process is enough). */
let scratch = Buffer.allocUnsafe(256);

/**
 * Decodes the Huffman-coded bytes b[start, end) and returns them as a latin1 string (one char per
 * decoded byte). Throws GosymdError("invalid_argument") for invalid codes or padding.
 */
export function huffmanDecode(b: Uint8Array, start: number, end: number): string {
  // Every code is at least 5 bits: at most 8/5 output bytes per input byte.
  const max = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < max) scratch = Buffer.allocUnsafe(Math.max(max, scratch.length * 2));
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = b[i]!;
    let t = transitions[(state << 4) | (byte >> 4)]!;
    if (t & FAIL) throw eosError(i);
    if (t & EMIT) out[n++] = (t >> 8) & 0xff;
    state = t & 0xff;
    t = transitions[(state << 4) | (byte & 0x0f)]!;
    if (t & FAIL) throw eosError(i);
    if (t & EMIT) out[n++] = (t >> 8) & 0xff;
    state = t & 0xff;
  }
  if (!accepting[state]) {
    throw new GosymdError(
      "invalid_argument",
      "HPACK: invalid Huffman padding (longer than 7 bits or not all 1-bits)",
      { format: "hpack", field: "huffman string", offset: end },
    );
  }
  return out.toString("latin1", 0, n);
}

function eosError(offset: number): GosymdError {
  return new GosymdError("invalid_argument", "HPACK: EOS symbol in Huffman-coded string", {
    format: "hpack",
    field: "huffman string",
    offset,
  });
}
