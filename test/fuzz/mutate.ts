/**
 * Mutators. Byte inputs get havoc-style stacks of: bit/byte flips, interesting integers written at
 * structure fields (header words, counts, offsets, sizes) or at aligned positions inside regions,
 * same-length varint rewrites in varint streams (pc-value tables, protobuf), pointer rewrites in
 * process memory (self-loops, other pointers), chunk duplication/deletion/insertion, splicing with
 * another input of the same kind, dictionary tokens in text regions, and truncation at structure
 * boundaries. Text inputs (crash logs) get line-aware mutations instead.
 */
import type { Rng } from "./rng.js";
import type { Field, Region, Shape } from "./shape.js";

export interface Parent {
  bytes: Uint8Array;
  shape: Shape;
}

export interface MutateOptions {
  maxLen: number;
  /** Byte tokens for text regions and random insertion. */
  dictionary?: readonly Uint8Array[];
}

const I8 = [0, 1, 2, 0x7f, 0x80, 0xfe, 0xff];
const I16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff];
const I32 = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 1000, 1024, 4096, 0x7fff, 0x8000,
  0xffff, 0x10000, 0x100000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];
const I64 = [
  0n,
  1n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 53n) + 1n,
  (1n << 63n) - 1n,
  1n << 63n,
  (1n << 64n) - 1n,
];

function maxOf(size: number): bigint {
  return (1n << BigInt(size * 8)) - 1n;
}

function readField(dv: DataView, f: Field): bigint {
  switch (f.size) {
    case 1:
      return BigInt(dv.getUint8(f.off));
    case 2:
      return BigInt(dv.getUint16(f.off, f.le));
    case 4:
      return BigInt(dv.getUint32(f.off, f.le));
    default:
      return dv.getBigUint64(f.off, f.le);
  }
}

function writeField(dv: DataView, f: Field, v: bigint): void {
  const x = ((v % (maxOf(f.size) + 1n)) + (maxOf(f.size) + 1n)) % (maxOf(f.size) + 1n);
  switch (f.size) {
    case 1:
      dv.setUint8(f.off, Number(x));
      break;
    case 2:
      dv.setUint16(f.off, Number(x), f.le);
      break;
    case 4:
      dv.setUint32(f.off, Number(x), f.le);
      break;
    default:
      dv.setBigUint64(f.off, x, f.le);
  }
}

/** An interesting value for a field of `size` bytes, given its current value and the input length. */
function interesting(r: Rng, size: number, cur: bigint, len: number, other: bigint | undefined): bigint {
  const L = BigInt(len);
  switch (r.int(10)) {
    case 0:
      return cur + BigInt(r.range(1, 16));
    case 1:
      return cur - BigInt(r.range(1, 16));
    case 2:
      return [L, L - 1n, L + 1n, L / 2n, L * 2n, cur + L][r.int(6)]!;
    case 3:
      return other ?? cur ^ (1n << BigInt(r.int(size * 8)));
    case 4:
      return cur ^ (1n << BigInt(r.int(size * 8)));
    case 5:
      return [cur * 2n, cur / 2n, cur * 8n, -cur, cur << 16n][r.int(5)]!;
    case 6:
      return maxOf(size) - BigInt(r.int(4));
    default:
      if (size === 1) return BigInt(r.pick(I8));
      if (size === 2) return BigInt(r.pick(I16));
      if (size === 4) return BigInt(r.pick(I32));
      return r.chance(0.5) ? r.pick(I64) : BigInt(r.pick(I32));
  }
}

function pickRegion(r: Rng, regions: readonly Region[]): Region | undefined {
  if (regions.length === 0) return undefined;
  let total = 0;
  for (const g of regions) total += g.weight ?? 1;
  let x = r.float() * total;
  for (const g of regions) {
    x -= g.weight ?? 1;
    if (x < 0) return g;
  }
  return regions[regions.length - 1];
}

/** A position to mutate: usually inside a region of the shape, sometimes anywhere. */
function pickPos(r: Rng, b: Uint8Array, shape: Shape): number {
  const valid = shape.regions.filter((g) => g.end <= b.length && g.start < g.end);
  if (valid.length > 0 && r.chance(0.8)) {
    const g = pickRegion(r, valid)!;
    return g.start + r.int(g.end - g.start);
  }
  return r.int(b.length);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Writes `v` as a varint of exactly `n` bytes (non-minimal encodings are legal LEB128). */
function writeVarintN(b: Uint8Array, at: number, n: number, v: bigint): void {
  let x = v < 0n ? (1n << 64n) + v : v;
  for (let i = 0; i < n; i++) {
    const low = Number(x & 0x7fn);
    x >>= 7n;
    b[at + i] = i < n - 1 ? low | 0x80 : low;
  }
}

function encodeVarint(v: bigint): Uint8Array {
  let x = v < 0n ? (1n << 64n) + v : v;
  const out: number[] = [];
  do {
    const low = Number(x & 0x7fn);
    x >>= 7n;
    out.push(x > 0n ? low | 0x80 : low);
  } while (x > 0n && out.length < 10);
  return Uint8Array.from(out);
}

/** Start of the varint containing `pos` (the byte after the previous terminator). */
function varintStart(b: Uint8Array, pos: number, lo: number): number {
  let p = pos;
  while (p > lo && (b[p - 1]! & 0x80) !== 0 && pos - p < 10) p--;
  return p;
}
function varintEnd(b: Uint8Array, start: number): number {
  let p = start;
  while (p < b.length && (b[p]! & 0x80) !== 0 && p - start < 10) p++;
  return Math.min(b.length, p + 1);
}

function varintValue(r: Rng, cur: bigint, len: number): bigint {
  switch (r.int(6)) {
    case 0:
      return cur + BigInt(r.range(1, 8));
    case 1:
      return cur > 0n ? cur - 1n : 0n;
    case 2:
      return BigInt(len + r.range(-2, 2));
    case 3:
      // Zig-zag extremes (pc-value deltas are zig-zag encoded).
      return [1n, 2n, 0xfffffffen, 0xffffffffn, 0x1fffffffen][r.int(5)]!;
    default:
      return r.chance(0.5) ? r.pick(I64) : BigInt(r.pick(I32));
  }
}

function readVarintBig(b: Uint8Array, s: number, e: number): bigint {
  let x = 0n;
  for (let i = e - 1; i >= s; i--) x = (x << 7n) | BigInt(b[i]! & 0x7f);
  return x;
}

type Op = (r: Rng, b: Uint8Array, p: Parent, other: Parent | undefined, o: MutateOptions) => Uint8Array;

const flipBit: Op = (r, b, p) => {
  if (b.length === 0) return b;
  const at = pickPos(r, b, p.shape);
  b[at]! ^= 1 << r.int(8);
  return b;
};

const setByte: Op = (r, b, p) => {
  if (b.length === 0) return b;
  const n = r.small(8);
  const at = pickPos(r, b, p.shape);
  for (let i = 0; i < n && at + i < b.length; i++) b[at + i] = r.chance(0.5) ? r.pick(I8) : r.int(256);
  return b;
};

const fieldValue: Op = (r, b, p) => {
  const fs = p.shape.fields.filter((f) => f.off + f.size <= b.length);
  if (fs.length === 0) return setByte(r, b, p, undefined, { maxLen: b.length });
  const f = r.pick(fs);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cur = readField(dv, f);
  const o = r.pick(fs);
  const other = o.off + o.size <= b.length ? readField(dv, o) : undefined;
  writeField(dv, f, interesting(r, f.size, cur, b.length, other));
  return b;
};

/** An interesting 4- or 8-byte integer at an aligned position inside a region. */
const alignedInt: Op = (r, b, p) => {
  const size = r.chance(0.5) ? 4 : 8;
  if (b.length < size) return b;
  let at = pickPos(r, b, p.shape);
  at = Math.min(at - (at % size), b.length - size);
  const f: Field = { off: at, size, le: r.chance(0.8) };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  writeField(dv, f, interesting(r, size, readField(dv, f), b.length, undefined));
  return b;
};

const varint: Op = (r, b, p) => {
  let s: number;
  let e: number;
  const known = p.shape.varints.filter(([, ve]) => ve <= b.length);
  if (known.length > 0 && r.chance(0.7)) {
    [s, e] = r.pick(known);
  } else {
    const regs = p.shape.regions.filter((g) => g.kind === "varint" && g.end <= b.length && g.end > g.start);
    if (regs.length === 0) return setByte(r, b, p, undefined, { maxLen: b.length });
    const g = pickRegion(r, regs)!;
    s = varintStart(b, g.start + r.int(g.end - g.start), g.start);
    e = varintEnd(b, s);
  }
  const v = varintValue(r, readVarintBig(b, s, e), b.length);
  if (r.chance(0.8)) {
    writeVarintN(b, s, e - s, v);
    return b;
  }
  // Re-encode minimally (the length of the stream changes).
  return concat(b.subarray(0, s), encodeVarint(v), b.subarray(e));
};

/** Rewrites a pointer-sized word of process memory: a self-loop, another pointer, a nearby address. */
const memoryWord: Op = (r, b, p) => {
  const regs = p.shape.regions.filter((g) => g.kind === "words" && g.end <= b.length && g.end > g.start);
  if (regs.length === 0) return alignedInt(r, b, p, undefined, { maxLen: b.length });
  const g = pickRegion(r, regs)!;
  const ps = g.ptrSize ?? 8;
  let at = g.start + r.int(g.end - g.start);
  at -= (at - g.start) % ps;
  if (at + ps > b.length) return b;
  const le = g.le ?? true;
  const f: Field = { off: at, size: ps, le };
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const cur = readField(dv, f);
  const selfAddr = BigInt((g.vaddr ?? 0) + (at - g.start));
  let v: bigint;
  switch (r.int(7)) {
    case 0:
      v = selfAddr; // points at itself: lists become cycles
      break;
    case 1:
      v = selfAddr - BigInt(ps * r.range(1, 8));
      break;
    case 2: {
      // Another word of any memory region (often a pointer elsewhere).
      const o = r.pick(regs);
      const oa = o.start + r.int(Math.max(1, Math.floor((o.end - o.start) / ps))) * ps;
      v = oa + ps <= b.length ? readField(dv, { off: oa, size: ps, le }) : cur;
      break;
    }
    case 3:
      v = cur + BigInt(ps * r.range(-4, 4));
      break;
    case 4:
      v = BigInt((r.pick(regs).vaddr ?? 0) + r.int(4096));
      break;
    default:
      v = interesting(r, ps, cur, b.length, undefined);
  }
  writeField(dv, f, v);
  return b;
};

const copyChunk: Op = (r, b, p) => {
  if (b.length < 2) return b;
  const n = Math.min(r.small(r.chance(0.8) ? 64 : 4096), b.length - 1);
  const from = r.int(b.length - n);
  const to = Math.min(pickPos(r, b, p.shape), b.length - n);
  b.copyWithin(to, from, from + n);
  return b;
};

const insertChunk: Op = (r, b, p, _o, opt) => {
  const room = opt.maxLen - b.length;
  if (room <= 0 || b.length === 0) return b;
  const n = Math.min(r.small(r.chance(0.8) ? 64 : 8192), room, b.length);
  const from = r.int(b.length - n + 1);
  const to = pickPos(r, b, p.shape);
  const chunk = new Uint8Array(b.subarray(from, from + n));
  if (r.chance(0.2)) chunk.fill(r.chance(0.5) ? 0 : 0xff);
  return concat(b.subarray(0, to), chunk, b.subarray(to));
};

const deleteChunk: Op = (r, b, p) => {
  if (b.length < 2) return b;
  const at = pickPos(r, b, p.shape);
  const n = Math.min(r.small(r.chance(0.8) ? 64 : 8192), b.length - at);
  return concat(b.subarray(0, at), b.subarray(at + n));
};

const fillChunk: Op = (r, b, p) => {
  if (b.length === 0) return b;
  const at = pickPos(r, b, p.shape);
  const n = Math.min(r.small(256), b.length - at);
  b.fill(r.pick([0, 0xff, 0x80, 0x41]), at, at + n);
  return b;
};

const truncate: Op = (r, b, p) => {
  if (b.length < 2) return b;
  const bs = p.shape.boundaries.filter((x) => x < b.length);
  const at = bs.length > 0 && r.chance(0.7) ? r.pick(bs) + r.range(-3, 3) : r.int(b.length);
  return b.subarray(0, Math.max(0, Math.min(b.length - 1, at)));
};

const splice: Op = (r, b, _p, other, opt) => {
  if (other === undefined || other.bytes.length === 0 || b.length === 0) return b;
  const ob = other.bytes;
  if (r.chance(0.5)) {
    // Overwrite a chunk with the other input's bytes at the same offset (keeps structure aligned).
    const at = r.int(Math.min(b.length, ob.length));
    const n = Math.min(r.small(4096), b.length - at, ob.length - at);
    b.set(ob.subarray(at, at + n), at);
    return b;
  }
  // Head of this one, tail of the other.
  const cut = r.int(Math.min(b.length, ob.length));
  const out = concat(b.subarray(0, cut), ob.subarray(cut));
  return out.length > opt.maxLen ? out.subarray(0, opt.maxLen) : out;
};

const dictionary: Op = (r, b, p, _o, opt) => {
  const dict = opt.dictionary;
  if (dict === undefined || dict.length === 0 || b.length === 0) return setByte(r, b, p, undefined, opt);
  const tok = r.pick(dict);
  const texts = p.shape.regions.filter((g) => g.kind === "text" && g.end <= b.length && g.end > g.start);
  let at: number;
  if (texts.length > 0 && r.chance(0.8)) {
    const g = r.pick(texts);
    at = g.start + r.int(g.end - g.start);
  } else at = pickPos(r, b, p.shape);
  const pos = Math.min(at, b.length - 1);
  if (r.chance(0.6)) {
    b.set(tok.subarray(0, b.length - pos), pos); // overwrite: offsets elsewhere stay valid
    return b;
  }
  if (b.length + tok.length > opt.maxLen) return b;
  return concat(b.subarray(0, pos), tok, b.subarray(pos));
};

const spanOp: Op = (r, b, p, _o, opt) => {
  const spans = p.shape.spans.filter(([, e]) => e <= b.length);
  if (spans.length === 0) return deleteChunk(r, b, p, undefined, opt);
  const [s, e] = r.pick(spans);
  const k = r.int(3);
  if (k === 0) return concat(b.subarray(0, s), b.subarray(e)); // drop a record
  if (k === 1 && b.length + (e - s) <= opt.maxLen) {
    // duplicate it (possibly many times)
    const times = Math.min(r.small(64), Math.floor((opt.maxLen - b.length) / Math.max(1, e - s)));
    const parts = [b.subarray(0, e)];
    for (let i = 0; i < times; i++) parts.push(b.subarray(s, e));
    parts.push(b.subarray(e));
    return concat(...parts);
  }
  // move it to the end
  return concat(b.subarray(0, s), b.subarray(e), b.subarray(s, e));
};

interface Weighted {
  op: Op;
  w: number;
}

function opsFor(shape: Shape, hasOther: boolean, hasDict: boolean): Weighted[] {
  const hasVarint = shape.varints.length > 0 || shape.regions.some((g) => g.kind === "varint");
  const hasWords = shape.regions.some((g) => g.kind === "words");
  const ops: Weighted[] = [
    { op: flipBit, w: 8 },
    { op: setByte, w: 8 },
    { op: fieldValue, w: shape.fields.length > 0 ? 20 : 0 },
    { op: alignedInt, w: 8 },
    { op: varint, w: hasVarint ? 14 : 0 },
    { op: memoryWord, w: hasWords ? 16 : 0 },
    { op: copyChunk, w: 4 },
    { op: insertChunk, w: 3 },
    { op: deleteChunk, w: 3 },
    { op: fillChunk, w: 2 },
    { op: truncate, w: 2 },
    { op: splice, w: hasOther ? 4 : 0 },
    { op: dictionary, w: hasDict ? 5 : 0 },
    { op: spanOp, w: shape.spans.length > 0 ? 6 : 0 },
  ];
  return ops.filter((o) => o.w > 0);
}

function pickOp(r: Rng, ops: Weighted[]): Op {
  let total = 0;
  for (const o of ops) total += o.w;
  let x = r.float() * total;
  for (const o of ops) {
    x -= o.w;
    if (x < 0) return o.op;
  }
  return ops[ops.length - 1]!.op;
}

/** A mutated copy of `parent` (1 to 6 stacked mutations). */
export function mutateBytes(
  r: Rng,
  parent: Parent,
  other: Parent | undefined,
  opt: MutateOptions,
): Uint8Array {
  const ops = opsFor(parent.shape, other !== undefined, (opt.dictionary?.length ?? 0) > 0);
  // A copy (Buffer#slice would return a view: the parent would be mutated in place).
  let b: Uint8Array = new Uint8Array(parent.bytes);
  const n = r.chance(0.5) ? 1 : r.range(2, 6);
  for (let i = 0; i < n; i++) {
    b = pickOp(r, ops)(r, b, parent, other, opt);
    if (b.length > opt.maxLen) b = b.subarray(0, opt.maxLen);
  }
  return b;
}

// ---------------------------------------------------------------------------------------------
// Text (crash logs)

const NUMBERS = [
  "0",
  "-1",
  "1",
  "4294967295",
  "4294967296",
  "9007199254740993",
  "18446744073709551615",
  "99999999999999999999999999",
  "0x0",
  "0xffffffffffffffff",
  "0x10000000000000000",
  "0x",
  "0x7fffffffffffffff",
  "1e400",
  "NaN",
  "",
];

export const CRASH_TOKENS = [
  "goroutine ",
  "goroutine 1 [running]:",
  "goroutine 18446744073709551615 [select, 99999999 minutes]:",
  "goroutine 7 gp=0xc000007c00 m=nil [chan receive, locked to thread]:",
  " [running]:",
  "panic: ",
  "panic: runtime error: invalid memory address or nil pointer dereference",
  " [recovered]",
  " [recovered, repanicked]",
  "fatal error: ",
  "fatal error: concurrent map writes",
  "runtime: out of memory",
  "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]",
  "[signal ",
  "created by ",
  " in goroutine ",
  "...additional frames elided...",
  "...9999999999 frames elided...",
  "\t",
  "\t/usr/local/go/src/runtime/panic.go:",
  ".go:",
  " +0x",
  " fp=0xc000 sp=0xc000 pc=0x401000",
  "(...)",
  "({0x4b5a7e?, 0x0?})",
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ":",
  "WARNING: DATA RACE",
  "Previous write at 0x00c000 by goroutine 7:",
  "==================",
  "SIGQUIT: quit",
  "PC=0x46e3a3 m=0 sigcode=0",
  "rax    0x0",
  "exit status 2",
  "labels: {",
  '"',
  "\\n",
  "\\t",
  '\\"',
  "\\u00",
  "\\u0000",
  "\r",
  "\u0000",
  "\ud800",
  "\ufffd",
  "stderr F ",
  "2024-01-01T00:00:00.000000000Z stderr F ",
  '{"log":"',
  '","stream":"stderr"}',
  'msg="',
  "runtime.gopark(",
  "runtime.main()",
  "main.main()",
  "runtime.throw({",
  "sync.(*Mutex).Lock(...)",
  "example.com/x.(*T[...]).M.func1.2()",
  "Killed",
  "Out of memory: Killed process 1234 (svc)",
  "testing.tRunner(",
  "panic: test timed out after 10m0s",
  "running tests:",
];

const PREFIXES = [
  "2024-01-01T00:00:00.123Z stderr F ",
  "2024-01-01T00:00:00Z stdout P ",
  "shop-7d9f8c6b5-x2k4q shop ",
  "Jan  1 00:00:00 host app[123]: ",
  "[pod/x] ",
  "E0101 00:00:00.000000       1 main.go:1] ",
  "\t",
  " ",
  "> ",
];

/** Line-aware mutation of crash text. */
export function mutateText(r: Rng, text: string, other: string | undefined, maxChars: number): string {
  let lines = text.split("\n");
  // Characters so far, kept up to date by the operations that can grow the text a lot.
  let size = text.length;
  const n = r.chance(0.5) ? 1 : r.range(2, 6);
  for (let k = 0; k < n; k++) {
    const i = r.int(lines.length);
    const line = lines[i] ?? "";
    switch (r.int(17)) {
      case 0:
        lines.splice(i, r.small(8));
        break;
      case 1: {
        const m = r.small(8);
        const block = lines.slice(i, i + m);
        const blockLen = block.reduce((a, l) => a + l.length + 1, 0);
        const want = r.chance(0.9) ? r.small(4) : r.small(5000);
        const times = Math.min(want, Math.floor(Math.max(0, maxChars - size) / Math.max(1, blockLen)));
        for (let t = 0; t < times; t++) lines.splice(i, 0, ...block);
        size += times * blockLen;
        break;
      }
      case 2: {
        const j = r.int(lines.length);
        lines[i] = lines[j] ?? "";
        lines[j] = line;
        break;
      }
      case 3:
        lines[i] = line.slice(0, r.int(line.length + 1));
        break;
      case 4: {
        // Replace one number in the line.
        const nums = [...line.matchAll(/0x[0-9a-fA-F]+|\d+/g)];
        if (nums.length === 0) break;
        const m = r.pick(nums);
        lines[i] = line.slice(0, m.index) + r.pick(NUMBERS) + line.slice(m.index! + m[0].length);
        break;
      }
      case 5: {
        const p = r.pick(PREFIXES);
        if (r.chance(0.5) && size + lines.length * p.length < maxChars) {
          lines = lines.map((l) => p + l);
          size += lines.length * p.length;
        } else lines[i] = p + line;
        break;
      }
      case 6:
      case 7: {
        const at = r.int(line.length + 1);
        const tok = r.pick(CRASH_TOKENS);
        lines[i] = line.slice(0, at) + tok + line.slice(r.chance(0.5) ? at : at + r.small(16));
        break;
      }
      case 8: {
        if (other === undefined) break;
        const ol = other.split("\n");
        const s = r.int(ol.length);
        lines.splice(i, 0, ...ol.slice(s, s + r.small(64)));
        break;
      }
      case 9: {
        // A block of lines escaped into one JSON string (a logger wrapped it).
        const m = r.small(32);
        const block = lines.slice(i, i + m).join("\n");
        const json = r.chance(0.5)
          ? JSON.stringify({ level: "error", msg: block })
          : JSON.stringify(block).slice(1, r.chance(0.8) ? -1 : undefined);
        lines.splice(i, m, json);
        break;
      }
      case 10:
        lines[i] = line.startsWith("\t") ? line.slice(1) : `\t${line}`;
        break;
      case 11: {
        if (line.length === 0) break;
        const want = r.small(r.chance(0.9) ? 8 : 20_000);
        const k = Math.max(1, Math.min(want, Math.floor(Math.max(0, maxChars - size) / line.length)));
        lines[i] = line.repeat(k);
        size += (k - 1) * line.length;
        break;
      }
      case 12:
        lines = lines.slice(0, i);
        break;
      case 13:
        lines.splice(i, 0, r.pick(CRASH_TOKENS) + r.pick(NUMBERS));
        break;
      case 14:
        lines[i] = line.replace(/\t/g, "    ");
        break;
      case 15: {
        // Raw character damage.
        const cs = line.split("");
        for (let t = 0; t < r.small(8); t++) {
          const at = r.int(cs.length + 1);
          cs.splice(at, r.int(3), String.fromCharCode(r.chance(0.8) ? r.int(128) : r.int(0x10000)));
        }
        lines[i] = cs.join("");
        break;
      }
      default: {
        const sep = r.pick(["\r\n", "\r", "\n\n", "\\n"]);
        const s = r.int(lines.length);
        const m = r.small(64);
        lines.splice(s, m, lines.slice(s, s + m).join(sep));
      }
    }
    if (lines.length > 200_000) lines = lines.slice(0, 200_000);
  }
  const out = lines.join("\n");
  return out.length > maxChars ? out.slice(0, maxChars) : out;
}
