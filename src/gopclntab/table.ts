/**
 * The decoded pclntab: function lookup by PC, names, files, lines and inline expansion for every
 * format generation (Go 1.2 → today), any quantum, pointer size and byte order.
 *
 * `parsePclntab` validates the header and the functab once (sorted entries, in-range offsets) and
 * copies the memory that holds the functions' inline-tree records (1.18+: the funcdata region from
 * gofunc to the end of its section; else the span from the lowest tree to the end of the highest),
 * so the table is self-contained: after loading it needs no file handle. In 1.16+ tables the
 * function names are kept as one latin1 string (`names`; a name is a slice of it) instead of bytes,
 * and the kept bytes start after them. Everything per function — where its inline tree starts,
 * whether its file table is a single step — is worked out on its first lookup, so opening costs
 * one pass over the functab. Per-function damage (a bad `_func` offset, a pc-value table that runs
 * off its region, an inline record outside the copied memory) is found lazily and reported per
 * lookup as a `corrupt` GosymdError, which callers turn into a "corrupt_tables" reason for that PC
 * only.
 */

import { constants as bufferConstants, isAscii } from "node:buffer";
import { GosymdError } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import type { PclntabVersion } from "../symtab/api.js";
import { type PclnHeader, parseHeader } from "./header.js";
import { type FuncLayout, funcLayout, goMinor } from "./layout.js";
import type { TextSection } from "./locate.js";
import { maxSteps, PcValueCache, pcvalue, pcvalueMax, resetWalkBudget } from "./pcvalue.js";

const FORMAT = "pclntab";

export interface ParseOptions {
  /** Link-time address of the table's first byte (for pre-1.18 funcdata alignment and for reading inline trees that live inside the table). */
  addr?: number;
  /** Link-time text start (runtime.text) for 1.18+ tables; defaults to the header's textStart field. */
  textStart?: number;
  /** Go version from buildinfo ("go1.14.2"); picks among the Go 1.2–1.15 layouts. */
  goVersion?: string;
  /** 1.18+: moduledata.gofunc, the base of funcdata offsets (needed for inline trees). */
  gofunc?: number;
  /**
   * 1.18+: link-time end of the memory that holds the funcdata from `gofunc` on (the end of its
   * section). With it the inline trees are read as that one region, without visiting every
   * function at open.
   */
  funcdataEnd?: number;
  /**
   * Store a private copy of the part of `bytes` lookups need (so a view into a larger buffer does
   * not keep that buffer alive). Without it the table keeps a view of `bytes`.
   */
  copy?: boolean;
  /**
   * 1.16+: keep funcnametab as one string (the default; a name is then a slice of it). false keeps
   * it as bytes and decodes each name, as for 1.2–1.15 tables (also what a funcnametab too large
   * for a string gets).
   */
  namesAsString?: boolean;
  /** 1.18+ split text (moduledata.textsectmap with more than one section). */
  textSections?: readonly TextSection[];
  /** Reads link-time virtual memory outside the table (inline trees); undefined when unreadable. */
  readMemory?: (addr: number, length: number) => Uint8Array | undefined;
}

/** Result buffer of `expand`: logical frames innermost first. Reused between calls. */
export class Expansion {
  count = 0;
  funcIndex = -1;
  /** Physical function entry (link-time). */
  entry = 0;
  /** Absolute offsets of the names in the table bytes (keys for `nameAt`). */
  readonly nameOff: number[] = [];
  readonly file: string[] = [];
  readonly line: number[] = [];
  readonly startLine: number[] = [];
  /** FuncID byte of each frame (−1 when the format records none). */
  readonly funcID: number[] = [];
}

function corruptAt(field: string, offset: number, what: string): GosymdError {
  return new GosymdError("corrupt", what, { format: FORMAT, field, offset });
}

const NO_FUNC = 0xffffffff;
/**
 * Stride of the per-function array `fn` (uint32 each): [0] entry offset from `base`, [1] absolute
 * offset of the `_func` record in `bytes` (NO_FUNC: a hole; NO_FUNC − 1: out of range), [2] pcfile
 * state (FILE_UNKNOWN until the first lookup, FILE_WALK, or the constant value + FILE_CONST), [3]
 * the end of that constant's pc range. One cache line serves a lookup's reads.
 */
const FN = 4;
const FILE_UNKNOWN = 0;
const FILE_WALK = 1;
const FILE_CONST = 3;
/** pc-value steps one lookup may take in all (real lookups take a few hundred; hostile tables are cut off). */
const LOOKUP_STEPS = 8_000_000;
const MAX_FILE_CACHE = 1 << 16;
const NON_ASCII = /[^\x00-\x7f]/;

export class PclnTable {
  /**
   * The table bytes lookups read, from `cut` on: offsets into it are table offsets − cut. In 1.16+
   * tables everything before `cut` is the header and funcnametab, whose names live in `names`.
   */
  private body: Uint8Array;
  /** Table offset of body[0]. */
  private readonly cut: number;
  /** The header bytes (table offsets 0 to funcnametab), for `bytes`. */
  private readonly head: Uint8Array;
  /**
   * 1.16+: funcnametab as one string, one character per byte (latin1), so a name is a slice of it
   * and the table keeps no second copy; names with bytes ≥ 0x80 are decoded as UTF-8 by `nameAt`.
   * "" for 1.2–1.15 tables, whose names are read from the bytes.
   */
  readonly names: string;
  /** Whether the names are in `names` (1.16+ by default) rather than read from the bytes. */
  readonly namesInString: boolean;
  /** Table offset of funcnametab (names[0]); 0 for 1.2–1.15, whose name offsets are table offsets. */
  readonly namesBase: number;
  /** 1.2–1.15 table: names anywhere in the table, a global filetab. */
  private readonly legacy: boolean;
  /** Sorted indexes of the characters ≥ 0x80 in `names` (undefined: too many to list). */
  private readonly nonAscii: Int32Array | undefined;
  /** Sub-table offsets in `body`. */
  private readonly pctab: number;
  private readonly pctabEnd: number;
  private readonly cutab: number;
  private readonly filetab: number;
  private readonly filetabEnd: number;
  readonly header: PclnHeader;
  readonly layout: FuncLayout;
  readonly nfunc: number;
  readonly textStart: number;
  readonly textSections: readonly TextSection[] | undefined;
  readonly addr: number;
  /** Link-time address that entry offsets are relative to (the first function's entry). */
  readonly base: number;
  /** Per-function lookup data, FN uint32 per function (see FN); entry nfunc is the end of the last one. */
  private readonly fn: Uint32Array;
  /** Bucket index: for each 2^shift bytes of text, the function containing its first byte. */
  private readonly buckets: Uint32Array;
  private readonly shift: number;
  /**
   * Inline-tree records. Normally a copy of the memory span [inlLo, inlLo + length) holding every
   * function's records, found from each function's funcdata on lookup; when that span could not
   * be read in one piece, the records packed per function with their offsets in `inlPacked`.
   */
  private inlBytes: Uint8Array;
  private inlView: DataView;
  private inlLo = 0;
  private inlPacked: Int32Array | undefined;
  /** gofunc (1.18+ funcdata base) the inline trees were read with. */
  private readonly gofunc: number | undefined;
  /** True when some function has an inline tree and it could be read. */
  readonly inlineTrees: boolean;
  /** Functions whose inline tree was announced but could not be read. */
  readonly inlineTreesMissing: number;

  private readonly dv: DataView;
  private readonly le: boolean;
  private readonly quantum: number;
  private readonly files = new Map<number, string>();
  /** Decoded copies of the pc-value tables of functions looked up again in a row (pc order). */
  private readonly pcCache = new PcValueCache();
  /** Function of the last `expand`, and whether this one is in it too (then tables are decoded). */
  private lastFunc = -1;
  private sameFunc = false;
  private wrapperId: number | undefined;
  /** Sink for the prefetching reads in `expand` (public so nothing treats the reads as dead). */
  touched = 0;
  /** File names by cutab index (1.16+) or filetab index (1.2–1.15), filled on first use. */
  private readonly fileByIndex: (string | undefined)[];
  private readonly buf: Buffer;

  constructor(input: Uint8Array, opts: ParseOptions = {}) {
    const h = parseHeader(input);
    this.header = h;
    // 1.16+: the names move to a string; the body starts at cutab (the header orders the regions).
    const legacy = h.version === "1.2";
    this.legacy = legacy;
    const inString =
      !legacy &&
      opts.namesAsString !== false &&
      h.funcnametabEnd - h.funcnametab <= bufferConstants.MAX_STRING_LENGTH;
    this.namesInString = inString;
    const cut = inString ? h.cutab : 0;
    this.cut = cut;
    let bytes = input.subarray(cut);
    this.body = bytes;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.head = input.slice(0, inString ? h.funcnametab : 0);
    this.namesBase = legacy ? 0 : h.funcnametab;
    if (inString) {
      const nb = input.subarray(h.funcnametab, h.funcnametabEnd);
      this.names = Buffer.from(nb.buffer, nb.byteOffset, nb.byteLength).toString("latin1");
      this.nonAscii = nonAsciiIndexes(nb, this.names);
    } else {
      this.names = "";
      this.nonAscii = new Int32Array(0);
    }
    this.pctab = h.pctab - cut;
    this.pctabEnd = h.pctabEnd - cut;
    this.cutab = h.cutab - cut;
    this.filetab = h.filetab - cut;
    this.filetabEnd = h.filetabEnd - cut;
    this.le = h.littleEndian;
    this.quantum = h.quantum;
    this.addr = opts.addr ?? 0;
    let minor = goMinor(opts.goVersion);
    if (h.version === "1.2" && minor === undefined) minor = guessLegacyMinor(input, h);
    this.layout = funcLayout(h.version, h.ptrSize, minor);
    this.nfunc = h.nfunc;
    const modern = h.version === "1.18" || h.version === "1.20";
    this.textStart = modern ? (opts.textStart ?? h.textStartField) : 0;

    // functab → fn, validated sorted.
    const n = h.nfunc;
    const fs = h.functabFieldSize;
    const fn = new Uint32Array(FN * (n + 1));
    fn[FN * n + 1] = NO_FUNC;
    const dv = this.dv;
    const le = this.le;
    const rd = (off: number): number => {
      if (fs === 4) return dv.getUint32(off, le);
      const lo = dv.getUint32(off + (le ? 0 : 4), le);
      const hi = dv.getUint32(off + (le ? 4 : 0), le);
      return hi * 0x1_0000_0000 + lo;
    };
    const textBase = modern ? this.textStart : 0;
    const sects =
      modern && opts.textSections !== undefined && opts.textSections.length > 1
        ? opts.textSections
        : undefined;
    this.textSections = sects;
    // Entry offsets map to addresses through the text sections when the text was split.
    const addrOf = (raw: number) =>
      sects === undefined ? raw + textBase : mapTextOffset(sects, raw, textBase);
    const functab = h.functab - cut;
    const first = addrOf(rd(functab));
    this.base = first;
    let extent = h.version === "1.2" ? bytes.length : functab + (2 * n + 1) * fs;
    const L = this.layout;
    const lastOff = functab + 2 * n * fs;
    let prev = 0;
    let lastFo = -1;
    const fast = fs === 4 && sects === undefined;
    const funcdataBase = h.funcdataBase - cut;
    const recordEnd = bytes.length - L.size;
    // Little-endian 4-byte fields on a little-endian host, 4-byte aligned: read the functab as
    // uint32s in a small function of its own (it runs once per function at open, mostly before
    // the optimizing compiler has seen it, where typed-array reads cost far less than DataView
    // calls).
    const at = bytes.byteOffset + functab;
    let done = false;
    if (fast && le && HOST_LE && at % 4 === 0) {
      const raw = new Uint32Array(bytes.buffer, at, 2 * n + 1);
      const r = fillFunctab(raw, fn, n, textBase - first, funcdataBase, recordEnd);
      if (r < -1) {
        const i = -2 - r;
        throw corruptAt("functab", functab + 8 * i + cut, `functab is not sorted at entry ${i}`);
      }
      lastFo = r;
      done = true;
    }
    for (let i = done ? n + 1 : 0, off = functab; i <= n; i++, off += 2 * fs) {
      // 4-byte fields without split text: the common case, kept free of closures (this loop runs
      // once per function at open, mostly before the optimizing compiler has seen it).
      const rel = fast ? dv.getUint32(off, le) + textBase - first : addrOf(rd(off)) - first;
      if (rel < prev || rel > 0xffffffff) {
        throw corruptAt("functab", off + cut, `functab is not sorted at entry ${i}`);
      }
      prev = rel;
      fn[FN * i] = rel;
      if (off === lastOff) break;
      const fo = fs === 4 ? dv.getUint32(off + 4, le) : rd(off + fs);
      if (fs === 4 ? fo === 0xffffffff : fo === 0xffffffff * 0x1_0000_0001) {
        fn[FN * i + 1] = NO_FUNC;
        continue;
      }
      const abs = funcdataBase + fo;
      if (abs > recordEnd) {
        // Out-of-range _func: that function becomes a lookup-time "corrupt".
        fn[FN * i + 1] = NO_FUNC - 1;
        continue;
      }
      fn[FN * i + 1] = abs;
      if (abs > lastFo) lastFo = abs;
    }
    if (lastFo >= 0 && h.version !== "1.2") {
      // Extent of the last record with its pcdata/funcdata arrays (1.16+: nothing we read lies
      // beyond; records follow the functab in function order). A record that claims more than
      // the kept bytes is reported when looked up.
      const np = dv.getUint32(lastFo + L.npcdata, le);
      const nfd =
        L.nfuncdataSize === 1 ? bytes[lastFo + L.nfuncdata]! : dv.getUint32(lastFo + L.nfuncdata, le);
      const e = lastFo + L.size + 4 * np + (L.funcdataIsOffset ? 4 : h.ptrSize * 2) * nfd + 8;
      if (e > extent) extent = Math.min(e, bytes.length);
    }
    if (!Number.isSafeInteger(this.base + fn[FN * n]!))
      throw corruptAt("functab", h.functab, "functab entries out of range");
    this.fn = fn;

    // Bucket index over the text: about two functions per bucket.
    const span = fn[FN * n]!;
    let shift = 4;
    // About two functions per bucket (measured faster than fewer, larger buckets).
    while (shift < 20 && span / 2 ** shift > Math.max(n, 1) / 2) shift++;
    this.shift = shift;
    this.buckets = fillBuckets(fn, n, Math.floor(span / 2 ** shift) + 1, shift);

    this.fileByIndex = new Array<string | undefined>(
      h.version === "1.2" ? h.nfiles : (h.cutabEnd - h.cutab) >>> 2,
    ).fill(undefined);

    // Inline trees.
    this.gofunc = opts.gofunc;
    this.inlBytes = new Uint8Array(0);
    this.inlView = new DataView(this.inlBytes.buffer);
    const r = this.loadInlineTrees(opts);
    this.inlineTrees = r.loaded > 0;
    this.inlineTreesMissing = r.missing;

    // Keep only what lookups read: Go 1.26+ tables end with funcdata (stack maps...) we never use.
    const owns = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    if (extent < bytes.length || (opts.copy === true && !owns)) {
      bytes = opts.copy === true ? bytes.slice(0, extent) : bytes.subarray(0, extent);
      this.body = bytes;
      this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /**
   * The table's bytes from its first byte, as the header's offsets index them, up to the end of
   * the last `_func` record. In 1.16+ tables this is rebuilt on each call (the names are kept as a
   * string): for occasional raw reads; lookups use the accessors.
   */
  get bytes(): Uint8Array {
    if (this.cut === 0) return this.body;
    const out = Buffer.alloc(this.cut + this.body.length);
    out.set(this.head, 0);
    out.write(this.names, this.namesBase, "latin1");
    out.set(this.body, this.cut);
    return out;
  }

  get version(): PclntabVersion {
    return this.header.version;
  }

  /** Bytes held: the table, the index arrays, the inline records and the file-name cache (estimated). */
  get memoryBytes(): number {
    let strings = 0;
    for (const f of this.files.values()) strings += 64 + f.length;
    return (
      this.body.byteLength +
      this.head.byteLength +
      this.names.length +
      this.fn.byteLength +
      this.buckets.byteLength +
      this.inlBytes.byteLength +
      (this.inlPacked?.byteLength ?? 0) +
      8 * this.fileByIndex.length +
      strings
    );
  }

  /** Index of the function containing pc, or −1 (outside the table, or a hole). */
  findFunc(pc: number): number {
    const n = this.nfunc;
    const x = pc - this.base;
    const o = this.fn;
    if (n === 0 || !(x >= 0) || !(x < o[FN * n]!)) return -1;
    // x < 2^32 (checked above): a shift, not a float division (which cost more than the rest).
    const b = x >>> this.shift;
    const bk = this.buckets;
    let lo = bk[b]!;
    // The answer lies between this bucket's first function and the next bucket's (dense runs of
    // small functions put dozens in one bucket): a step or two, else a binary search between them.
    if (o[FN * lo + FN]! <= x) {
      lo++;
      if (o[FN * lo + FN]! <= x) {
        let hi = b + 1 < bk.length ? bk[b + 1]! + 1 : n;
        while (hi - lo > 1) {
          const mid = (lo + hi) >>> 1;
          if (o[FN * mid]! <= x) lo = mid;
          else hi = mid;
        }
      }
    }
    return o[FN * lo + 1] === NO_FUNC ? -1 : lo;
  }

  entry(i: number): number {
    return this.base + this.fn[FN * i]!;
  }
  end(i: number): number {
    return this.base + this.fn[FN * i + FN]!;
  }

  /** Table offset of function i's `_func` record, or ≥ 0xfffffffe when it has none. */
  funcRecordOffset(i: number): number {
    const fo = this.fn[FN * i + 1]!;
    return fo >= NO_FUNC - 1 ? fo : fo + this.cut;
  }

  /** Offset of the `_func` of function i, checked. */
  private funcOff(i: number): number {
    const fo = this.fn[FN * i + 1]!;
    if (fo >= NO_FUNC - 1) {
      throw corruptAt("functab", this.header.functab, `function ${i} has no valid _func record`);
    }
    return fo;
  }

  private u32(off: number, field: string): number {
    if (off + 4 > this.body.length) throw corruptAt(field, off + this.cut, `${field} is outside the table`);
    return this.dv.getUint32(off, this.le);
  }

  /** Name of function i. */
  funcName(i: number): string {
    return this.nameAt(this.funcNameOff(i));
  }

  /** Absolute name offset of function i (key for nameAt). */
  funcNameOff(i: number): number {
    const fo = this.funcOff(i);
    return this.namesBase + this.dv.getInt32(fo + this.layout.nameOff, this.le);
  }

  /** The NUL-terminated function name at a table offset (not cached: callers cache). */
  nameAt(abs: number): string {
    if (!this.namesInString) {
      if (this.legacy) return this.cstring(abs, 0, this.body.length, "function name");
      const h = this.header;
      return this.cstring(abs, h.funcnametab, h.funcnametabEnd, "funcnametab");
    }
    const len = this.nameLength(abs);
    const s = abs - this.namesBase;
    if (len >= 0) return this.names.slice(s, s + len);
    const raw = this.names.slice(s, s + ~len);
    return Buffer.from(raw, "latin1").toString("utf8");
  }

  /**
   * When `namesInString`: the length of the name at table offset `abs` (a key from `funcNameOff` or an
   * Expansion), so that names.slice(abs − namesBase, + length) is the name; ~length when the name
   * has bytes ≥ 0x80 (then `nameAt` decodes it as UTF-8). Throws a `corrupt` GosymdError.
   */
  nameLength(abs: number): number {
    const names = this.names;
    const s = abs - this.namesBase;
    if (!(s >= 0 && s < names.length)) {
      throw corruptAt("funcnametab", abs, "funcnametab offset is outside its region");
    }
    const e = names.indexOf("\0", s);
    if (e < 0 || e - s > Limits.maxStringBytes) {
      throw corruptAt("funcnametab", abs, "unterminated string in funcnametab");
    }
    const na = this.nonAscii;
    let wide = false;
    if (na === undefined) wide = NON_ASCII.test(names.slice(s, e));
    else if (na.length > 0) {
      let lo = 0;
      let hi = na.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (na[mid]! < s) lo = mid + 1;
        else hi = mid;
      }
      wide = lo < na.length && na[lo]! < e;
    }
    // The same arithmetic either way (x ^ 0 = x, x ^ −1 = ~x): a rare non-ASCII name must not
    // reach an operation the optimizing compiler has never seen run.
    return (e - s) ^ -(wide ? 1 : 0);
  }

  /** A NUL-terminated UTF-8 string at body offset `off` within [lo, hi). */
  private cstring(off: number, lo: number, hi: number, field: string): string {
    if (!Number.isSafeInteger(off) || off < lo || off >= hi) {
      throw corruptAt(field, off + this.cut, `${field} offset is outside its region`);
    }
    const end = this.buf.indexOf(0, off);
    if (end < 0 || end >= hi || end - off > Limits.maxStringBytes) {
      throw corruptAt(field, off + this.cut, `unterminated string in ${field}`);
    }
    return this.buf.toString("utf8", off, end);
  }

  /** File name for a pcfile value of function at _func offset fo ("" when unknown). */
  private fileName(fo: number, fileno: number): string {
    if (this.legacy) return this.globalFileName(fileno);
    if (fileno < 0) return "";
    const idx = this.dv.getUint32(fo + this.layout.cuOffset, this.le) + fileno;
    const byIdx = this.fileByIndex;
    if (idx >= byIdx.length) throw corruptAt("cutab", fo + this.cut, "cutab index out of range");
    const c = byIdx[idx];
    if (c !== undefined) return c;
    const fileoff = this.dv.getUint32(this.cutab + 4 * idx, this.le);
    const f =
      fileoff === 0xffffffff ? "" : this.fileString(this.filetab + fileoff, this.filetab, this.filetabEnd);
    byIdx[idx] = f;
    return f;
  }

  /** pcfile value of function i at pc offset `off`. */
  private fileno(i: number, pcfile: number, off: number): number {
    let c = this.fn[FN * i + 2]!;
    if (c === FILE_UNKNOWN) c = this.classifyFileTable(i, pcfile);
    if (c === FILE_WALK) return this.pcv(pcfile, off);
    return off < this.fn[FN * i + 3]! ? c - FILE_CONST : -1;
  }

  /**
   * On a function's first lookup: is its pcfile table a single step (one value up to some pc,
   * then the end; the padding after the code is not covered)? About a third of the functions of a
   * large binary are (one source file, nothing inlined from another); their later lookups skip the
   * walk. Records value and end in `fn`; returns the state.
   */
  private classifyFileTable(i: number, tab: number): number {
    const fn = this.fn;
    let state = FILE_WALK;
    if (tab === 0) {
      state = FILE_CONST - 1;
      fn[FN * i + 3] = 0xffffffff;
    } else {
      const b = this.body;
      const end = this.pctabEnd;
      const p = this.pctab + tab;
      // One-byte value delta, a one- or two-byte pc delta, then the end marker.
      const uv = b[p]!;
      if (p + 2 < end && uv !== 0 && uv < 0x80) {
        let pcd = b[p + 1]!;
        let stop = p + 2;
        if (pcd >= 0x80) {
          // Two-byte pc delta (functions of 128 bytes to 16 KiB).
          const c2 = b[p + 2]!;
          pcd = c2 < 0x80 && p + 3 < end ? (pcd & 0x7f) | (c2 << 7) : 0;
          stop = p + 3;
        }
        const v = (-1 + ((-(uv & 1) ^ (uv >>> 1)) | 0)) | 0;
        if (pcd !== 0 && b[stop] === 0 && v >= -1) {
          state = v + FILE_CONST;
          fn[FN * i + 3] = pcd * this.quantum;
        }
      }
    }
    fn[FN * i + 2] = state;
    return state;
  }

  /** 1.2–1.11: file name by global filetab index (inline records of 1.9–1.11). */
  private globalFileName(fileno: number): string {
    if (fileno <= 0 || fileno >= this.header.nfiles) return "";
    const c = this.fileByIndex[fileno];
    if (c !== undefined) return c;
    const off = this.u32(this.filetab + 4 * fileno, "filetab");
    const f = this.fileString(off, 0, this.body.length);
    this.fileByIndex[fileno] = f;
    return f;
  }

  private fileString(abs: number, lo: number, hi: number): string {
    const c = this.files.get(abs);
    if (c !== undefined) return c;
    const s = this.cstring(abs, lo, hi, "filetab");
    if (this.files.size >= MAX_FILE_CACHE) this.files.clear();
    this.files.set(abs, s);
    return s;
  }

  /** Value of a pc-value table (pctab-relative offset `tab`) at pc offset `off` from the entry. */
  private pcv(tab: number, off: number): number {
    if (tab === 0) return -1;
    const start = this.pctab + tab;
    if (start >= this.pctabEnd) {
      throw corruptAt("pctab", start + this.cut, "pc-value table offset outside pctab");
    }
    return this.sameFunc
      ? this.pcCache.value(this.body, start, this.pctabEnd, off, this.quantum, this.cut)
      : pcvalue(this.body, start, this.pctabEnd, off, this.quantum, this.cut);
  }

  /** pcdata table `k` of the function at fo, or 0 when absent. */
  private pcdataTab(fo: number, k: number): number {
    const L = this.layout;
    if (k < 0) return 0;
    const np = this.dv.getUint32(fo + L.npcdata, this.le);
    if (k >= np) return 0;
    return this.u32(fo + L.size + 4 * k, "_func.pcdata");
  }

  /** The pctab offset of function i's line table (0: the function has none). */
  lineTableOffset(i: number): number {
    return this.dv.getUint32(this.funcOff(i) + this.layout.pcln, this.le);
  }

  /** SP delta at pc (pcsp table), −1 when absent; for unwinders. */
  spDelta(i: number, pc: number): number {
    const fo = this.funcOff(i);
    resetWalkBudget(LOOKUP_STEPS);
    return this.pcv(this.dv.getUint32(fo + this.layout.pcsp, this.le), pc - this.entry(i));
  }

  /**
   * Value of pcdata table `k` (PCDATA_* index of this Go version; see `layout`) of function i at
   * pc, −1 when the function has no such table or it does not cover pc.
   */
  pcdata(i: number, k: number, pc: number): number {
    const fo = this.funcOff(i);
    resetWalkBudget(LOOKUP_STEPS);
    return this.pcv(this.pcdataTab(fo, k), pc - this.entry(i));
  }

  /** FuncID byte (meaning depends on the Go version; §1.8). −1 when the layout has none. */
  funcID(i: number): number {
    const L = this.layout;
    if (L.funcID < 0) return -1;
    const fo = this.funcOff(i);
    return L.funcIDSize === 1 ? this.body[fo + L.funcID]! : this.dv.getUint32(fo + L.funcID, this.le);
  }

  /** FuncFlag byte (1.17+), 0 before. */
  funcFlag(i: number): number {
    const L = this.layout;
    if (L.flag < 0) return 0;
    return this.body[this.funcOff(i) + L.flag]!;
  }

  /** startLine of function i (1.20+), 0 before (and for a negative value: like lines, never below 0). */
  startLine(i: number): number {
    const L = this.layout;
    if (L.startLine < 0) return 0;
    return Math.max(this.dv.getInt32(this.funcOff(i) + L.startLine, this.le), 0);
  }

  /**
   * Expands pc into logical frames, innermost first, into `out`. Returns false when pc is in no
   * function. Throws a `corrupt` GosymdError when that function's tables are damaged.
   */
  expand(pc: number, out: Expansion): boolean {
    out.count = 0;
    resetWalkBudget(LOOKUP_STEPS);
    const i = this.findFunc(pc);
    out.funcIndex = i;
    if (i < 0) return false;
    this.sameFunc = i === this.lastFunc;
    this.lastFunc = i;
    const fo = this.funcOff(i);
    const L = this.layout;
    const dv = this.dv;
    const le = this.le;
    const fn = this.fn;
    const entry = this.base + fn[FN * i]!;
    out.entry = entry;
    // The _func's own entry must agree with the functab.
    const fe =
      L.entrySize === 4
        ? this.textSections === undefined
          ? dv.getUint32(fo, le) + this.textStart
          : mapTextOffset(this.textSections, dv.getUint32(fo, le), this.textStart)
        : L.entrySize === 8
          ? dv.getUint32(fo + (le ? 0 : 4), le) + dv.getUint32(fo + (le ? 4 : 0), le) * 0x1_0000_0000
          : 0;
    if (fe !== entry) {
      throw corruptAt("_func.entry", fo + this.cut, `function ${i}: _func entry disagrees with functab`);
    }
    const size = fn[FN * i + FN]! - fn[FN * i]!;
    const pcfile = dv.getUint32(fo + L.pcfile, le);
    const pcln = dv.getUint32(fo + L.pcln, le);
    const npcdata = dv.getUint32(fo + L.npcdata, le);
    if (fo + L.size + 4 * npcdata > this.body.length) {
      throw corruptAt("_func.npcdata", fo + this.cut, `function ${i}: pcdata array runs past the table`);
    }
    let off = pc - entry;
    let inlTab =
      this.inlineTrees && L.pcdataInlTreeIndex < npcdata
        ? dv.getUint32(fo + L.size + 4 * L.pcdataInlTreeIndex, le)
        : 0;
    // Touch the first byte of each table before walking any: the three (likely) cache misses then
    // overlap instead of queueing one after another.
    const b = this.body;
    const pt = this.pctab;
    this.touched =
      (b[pt + pcln] ?? 0) +
      (fn[FN * i + 2]! < FILE_CONST - 1 ? (b[pt + pcfile] ?? 0) : 0) +
      (b[pt + inlTab] ?? 0);
    const inlBase = inlTab === 0 ? -1 : this.inlineBase(i, fo);
    if (inlBase < 0) inlTab = 0;
    let n = 0;
    if (inlTab !== 0) {
      // Records must lie inside the copied span (damaged indexes are caught here).
      const last = this.inlBytes.length - L.inlRecordSize;
      const iv = this.inlView;
      const rs = L.inlRecordSize;
      let ix = this.pcv(inlTab, off);
      if (L.inl === "old16") {
        let file = this.fileName(fo, this.fileno(i, pcfile, off));
        let line = this.pcv(pcln, off);
        while (ix >= 0) {
          const r = inlBase + ix * rs;
          if (r > last || n >= Limits.maxInlineDepth) {
            throw corruptAt("inline tree", fo, `function ${i}: inline index ${ix} out of range`);
          }
          out.nameOff[n] = iv.getInt32(r + 12, le);
          out.file[n] = file;
          out.line[n] = Math.max(line, 0);
          out.startLine[n] = 0;
          out.funcID[n] = -1;
          n++;
          file = this.globalFileName(iv.getInt32(r + 4, le));
          line = iv.getInt32(r + 8, le);
          ix = iv.getInt32(r, le);
        }
        out.nameOff[n] = this.namesBase + dv.getInt32(fo + L.nameOff, le);
        out.file[n] = file;
        out.line[n] = Math.max(line, 0);
        out.startLine[n] = 0;
        out.funcID[n] = this.physFuncID(fo);
        out.count = n + 1;
        return true;
      }
      const nb = this.namesBase;
      while (ix >= 0) {
        const r = inlBase + ix * rs;
        if (r > last || n >= Limits.maxInlineDepth) {
          throw corruptAt("inline tree", fo, `function ${i}: inline index ${ix} out of range`);
        }
        let nameOff: number;
        let parentPc: number;
        let sl = 0;
        let fid: number;
        if (L.inl === "new16") {
          fid = iv.getUint8(r);
          nameOff = iv.getInt32(r + 4, le);
          parentPc = iv.getInt32(r + 8, le);
          sl = iv.getInt32(r + 12, le);
        } else {
          fid = iv.getUint8(r + 2);
          nameOff = iv.getInt32(r + 12, le);
          parentPc = iv.getInt32(r + 16, le);
        }
        const line = this.pcv(pcln, off);
        out.nameOff[n] = nb + nameOff;
        out.file[n] = this.fileName(fo, this.fileno(i, pcfile, off));
        out.line[n] = Math.max(line, 0);
        out.startLine[n] = Math.max(sl, 0);
        out.funcID[n] = fid;
        n++;
        if (parentPc < 0 || parentPc >= size) {
          throw corruptAt(
            "inline tree",
            fo,
            `function ${i}: inline parentPc ${parentPc} outside the function`,
          );
        }
        off = parentPc;
        const next = this.pcv(inlTab, off);
        // A parent always has a smaller index than its callee (the compiler appends parents
        // first). Some toolchains leave parentPc 0 for calls whose code was optimized away; the
        // chain then cannot be followed (the runtime itself would loop): stop at the physical frame.
        if (next >= ix) break;
        ix = next;
      }
    }
    const line = this.pcv(pcln, off);
    out.nameOff[n] = this.namesBase + dv.getInt32(fo + L.nameOff, le);
    out.file[n] = this.fileName(fo, this.fileno(i, pcfile, off));
    out.line[n] = Math.max(line, 0);
    out.startLine[n] = L.startLine >= 0 ? Math.max(dv.getInt32(fo + L.startLine, le), 0) : 0;
    out.funcID[n] = this.physFuncID(fo);
    out.count = n + 1;
    return true;
  }

  private physFuncID(fo: number): number {
    const L = this.layout;
    if (L.funcID < 0) return -1;
    return L.funcIDSize === 1 ? this.body[fo + L.funcID]! : this.dv.getUint32(fo + L.funcID, this.le);
  }

  /**
   * The FuncID value that marks compiler-generated wrappers in this binary (the enumeration
   * differs between Go versions): runtime.deferreturn's, the wrapper ID from Go 1.14 on; in Go
   * 1.12–1.13 deferreturn is an ordinary function (FuncID 0) and runtime.call32's (a reflectcall
   * frame, a wrapper since 1.12) is used instead. 0 is funcID_normal in every version, never the
   * wrapper ID (Go ≤ 1.11 has none: all but a few special runtime functions are 0). −1 when the
   * table records no wrapper FuncID or has neither function. Found once, lazily.
   */
  wrapperFuncID(): number {
    if (this.wrapperId === undefined) {
      this.wrapperId = -1;
      if (this.layout.funcID >= 0) {
        for (const name of ["runtime.deferreturn", "runtime.call32"]) {
          const id = this.funcIDByName(name);
          if (id > 0) {
            this.wrapperId = id;
            break;
          }
        }
      }
    }
    return this.wrapperId;
  }

  /** FuncID of the function with this name (found in the name bytes, confirmed by a `_func`), −1 if none. */
  private funcIDByName(name: string): number {
    const L = this.layout;
    const needle = `${name}\0`;
    const inString = this.namesInString;
    const text = inString ? this.names : this.buf;
    const lo = inString || this.legacy ? 0 : this.header.funcnametab;
    const hi = inString || this.legacy ? text.length : this.header.funcnametabEnd;
    for (let at = text.indexOf(needle, lo); at >= 0 && at < hi; at = text.indexOf(needle, at + 1)) {
      // In funcnametab a name starts after a NUL (or at the region start). 1.2–1.15 tables put
      // each name after its `_func` record, so there only the record's name offset confirms it.
      if (
        !this.legacy &&
        at !== lo &&
        (inString ? this.names.charCodeAt(at - 1) !== 0 : this.body[at - 1] !== 0)
      )
        continue;
      const nameOff = inString ? at : at - this.namesBase;
      for (let i = 0; i < this.nfunc; i++) {
        const fo = this.fn[FN * i + 1]!;
        if (fo >= NO_FUNC - 1) continue;
        if (this.dv.getInt32(fo + L.nameOff, this.le) === nameOff) return this.physFuncID(fo);
      }
      if (!this.legacy) break;
    }
    return -1;
  }

  /** Funcdata slot k of the function at fo as a link-time address, or undefined when absent. */
  private funcdataAddr(fo: number, k: number, gofunc: number | undefined): number | undefined {
    const L = this.layout;
    const dv = this.dv;
    const le = this.le;
    const nfd = L.nfuncdataSize === 1 ? this.body[fo + L.nfuncdata]! : dv.getUint32(fo + L.nfuncdata, le);
    if (k < 0 || k >= nfd) return undefined;
    const npcdata = dv.getUint32(fo + L.npcdata, le);
    let p = fo + L.size + 4 * npcdata;
    if (L.funcdataIsOffset) {
      const at = p + 4 * k;
      if (at + 4 > this.body.length) {
        throw corruptAt("_func.funcdata", fo + this.cut, "funcdata runs past the table");
      }
      const v = dv.getUint32(at, le);
      if (v === 0xffffffff || gofunc === undefined) return undefined;
      return gofunc + v;
    }
    const ps = this.header.ptrSize;
    if (ps === 8 && ((this.addr + this.cut + p) & 4) !== 0) p += 4;
    const at = p + ps * k;
    if (at + ps > this.body.length) {
      throw corruptAt("_func.funcdata", fo + this.cut, "funcdata runs past the table");
    }
    const v =
      ps === 4
        ? dv.getUint32(at, le)
        : dv.getUint32(at + (le ? 0 : 4), le) + dv.getUint32(at + (le ? 4 : 0), le) * 0x1_0000_0000;
    return v === 0 ? undefined : v;
  }

  /**
   * Where function i's inline records start in `inlBytes`, or −1 when it has none that could be
   * read (it is then answered without inlined frames, as when its tree is missing).
   */
  private inlineBase(i: number, fo: number): number {
    const packed = this.inlPacked;
    if (packed !== undefined) return packed[i]!;
    const a = this.funcdataAddr(fo, this.layout.funcdataInlTree, this.gofunc);
    if (a === undefined) return -1;
    const rel = a - this.inlLo;
    return rel >= 0 && rel < this.inlBytes.length ? rel : -1;
  }

  /**
   * Copies the memory that holds the inline trees: the span from the lowest tree to the end of
   * the highest (sized by walking that one function's InlTreeIndex table). The trees of all
   * functions lie together (the go:func.* area, or the table's tail in Go 1.26+), so the span is
   * little more than the records themselves (about 1.4x, measured) and nothing is walked per
   * function at open. When the span cannot be read in one piece, or is implausibly large, every
   * function's tree is sized and copied on its own (`loadPackedInlineTrees`).
   */
  private loadInlineTrees(opts: ParseOptions): { loaded: number; missing: number } {
    const L = this.layout;
    if (L.inl === "none" || L.funcdataInlTree < 0) return { loaded: 0, missing: 0 };
    if (L.funcdataIsOffset && opts.gofunc !== undefined && opts.funcdataEnd !== undefined) {
      // 1.18+: every funcdata lies in [gofunc, end of its section); when that region is small
      // (it is go:func.*, a fraction of the table, unless the section holds much else) keep it
      // whole: a function's tree is found from its funcdata offset on lookup.
      const lo = opts.gofunc;
      const len = opts.funcdataEnd - lo;
      const table = this.cut + this.body.length;
      if (len > 0 && len <= table / 2 + (1 << 20)) {
        const span = this.readSpan(lo, len, opts);
        if (span !== undefined) {
          this.inlBytes = span;
          this.inlView = new DataView(span.buffer, span.byteOffset, span.byteLength);
          this.inlLo = lo;
          return { loaded: 1, missing: 0 };
        }
      }
    }
    const n = this.nfunc;
    const fn = this.fn;
    const k = L.funcdataInlTree;
    let missing = 0;
    let loaded = 0;
    let lo = Number.POSITIVE_INFINITY;
    let top = -1;
    let topFunc = -1;
    for (let i = 0; i < n; i++) {
      const fo = fn[FN * i + 1]!;
      if (fo >= NO_FUNC - 1) continue;
      let a: number | undefined;
      try {
        if (this.pcdataTab(fo, L.pcdataInlTreeIndex) === 0) continue;
        a = this.funcdataAddr(fo, k, opts.gofunc);
        if (a === undefined) {
          // Announced but unreadable (1.18+ with no gofunc known)?
          if (L.funcdataIsOffset && opts.gofunc === undefined && this.hasFuncdata(fo, k)) missing++;
          continue;
        }
      } catch (e) {
        if (e instanceof GosymdError) continue; // that function's lookups report the damage
        throw e;
      }
      loaded++;
      if (a < lo) lo = a;
      if (a > top) {
        top = a;
        topFunc = i;
      }
    }
    if (loaded === 0) return { loaded: 0, missing };
    // The highest tree's length: its largest index + 1 records.
    let max = -1;
    try {
      const fo = fn[FN * topFunc + 1]!;
      const start = this.pctab + this.pcdataTab(fo, L.pcdataInlTreeIndex);
      if (start < this.pctabEnd) {
        const size = fn[FN * topFunc + FN]! - fn[FN * topFunc]!;
        max = pcvalueMax(this.body, start, this.pctabEnd, size, this.quantum, 1 << 20, this.cut);
      }
    } catch (e) {
      if (!(e instanceof GosymdError)) throw e;
    }
    if (max === -2) missing++; // never-ending table: that tree stays outside the span
    const hi = top + Math.max(max + 1, 0) * L.inlRecordSize;
    const len = hi - lo;
    // Real spans are a small fraction of the table; a larger one is damage or an odd layout.
    const span = len > 0 && len <= this.body.length + (1 << 20) ? this.readSpan(lo, len, opts) : undefined;
    if (span === undefined) return this.loadPackedInlineTrees(opts);
    this.inlBytes = span;
    this.inlView = new DataView(span.buffer, span.byteOffset, span.byteLength);
    this.inlLo = lo;
    return { loaded, missing };
  }

  /** [lo, lo + len) of link-time memory: from the table when it lies there, else through readMemory. */
  private readSpan(lo: number, len: number, opts: ParseOptions): Uint8Array | undefined {
    const bodyAddr = this.addr + this.cut;
    if (this.addr !== 0 && lo >= bodyAddr && lo + len <= bodyAddr + this.body.length) {
      const from = lo - bodyAddr;
      return opts.copy === true ? this.body.slice(from, from + len) : this.body.subarray(from, from + len);
    }
    let span: Uint8Array | undefined;
    try {
      span = opts.readMemory?.(lo, len);
    } catch (e) {
      if (!(e instanceof GosymdError)) throw e;
    }
    return span !== undefined && span.length === len ? span : undefined;
  }

  /**
   * Fallback of `loadInlineTrees`: for every function with an inline tree, size it by walking its
   * InlTreeIndex table (max index + 1), then copy that many records into one buffer.
   */
  private loadPackedInlineTrees(opts: ParseOptions): { loaded: number; missing: number } {
    const L = this.layout;
    const rs = L.inlRecordSize;
    const n = this.nfunc;
    const fn = this.fn;
    let missing = 0;
    const addrs = new Float64Array(n);
    const counts = new Int32Array(n);
    let total = 0;
    // Real tables are walked about once each; allow generously more, never unboundedly more.
    let budget = 4 * (this.pctabEnd - this.pctab) + 1_000_000;
    const maxTotal = this.body.length + (1 << 20);
    for (let i = 0; i < n; i++) {
      const fo = fn[FN * i + 1]!;
      if (fo >= NO_FUNC - 1) continue;
      let a: number | undefined;
      let max: number;
      try {
        a = this.funcdataAddr(fo, L.funcdataInlTree, opts.gofunc);
        if (a === undefined) {
          if (L.funcdataIsOffset && opts.gofunc === undefined && this.hasFuncdata(fo, L.funcdataInlTree))
            missing++;
          continue;
        }
        const tab = this.pcdataTab(fo, L.pcdataInlTreeIndex);
        if (tab === 0) continue;
        const start = this.pctab + tab;
        if (start >= this.pctabEnd) continue;
        const size = fn[FN * i + FN]! - fn[FN * i]!;
        max = pcvalueMax(this.body, start, this.pctabEnd, size, this.quantum, budget, this.cut);
        budget -= maxSteps;
        if (max === -2) {
          // Hostile tables (shared, never-ending runs): stop reading inline trees, keep the rest.
          missing += 1;
          break;
        }
      } catch (e) {
        if (e instanceof GosymdError) continue;
        throw e;
      }
      if (max < 0) continue;
      const len = (max + 1) * rs;
      if (total + len > maxTotal) {
        // Real inline trees are a small fraction of the table; do not let a hostile one balloon.
        missing++;
        break;
      }
      total += len;
      addrs[i] = a;
      counts[i] = max + 1;
    }
    const buf = new Uint8Array(total);
    const packed = new Int32Array(n).fill(-1);
    let o = 0;
    let loaded = 0;
    for (let i = 0; i < n; i++) {
      const count = counts[i]!;
      if (count === 0) continue;
      const len = count * rs;
      let rec: Uint8Array | undefined;
      try {
        rec = opts.readMemory?.(addrs[i]!, len);
      } catch (e) {
        if (!(e instanceof GosymdError)) throw e;
      }
      if (rec === undefined || rec.length !== len) {
        missing++;
        continue;
      }
      buf.set(rec, o);
      packed[i] = o;
      o += len;
      loaded++;
    }
    this.inlBytes = o === total ? buf : buf.slice(0, o);
    this.inlView = new DataView(this.inlBytes.buffer, this.inlBytes.byteOffset, this.inlBytes.byteLength);
    this.inlPacked = packed;
    return { loaded, missing };
  }

  private hasFuncdata(fo: number, k: number): boolean {
    const L = this.layout;
    const nfd =
      L.nfuncdataSize === 1 ? this.body[fo + L.nfuncdata]! : this.dv.getUint32(fo + L.nfuncdata, this.le);
    if (k >= nfd) return false;
    const npcdata = this.dv.getUint32(fo + L.npcdata, this.le);
    const at = fo + L.size + 4 * npcdata + 4 * k;
    return at + 4 <= this.body.length && this.dv.getUint32(at, this.le) !== 0xffffffff;
  }

  /** Bytes of the copied inline records. */
  get inlineBytes(): number {
    return this.inlBytes.byteLength;
  }
}

const HOST_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** For each 2^shift bytes of text, the function containing its first byte (a function of its own: see fillFunctab). */
function fillBuckets(fn: Uint32Array, n: number, nb: number, shift: number): Uint32Array {
  const buckets = new Uint32Array(nb);
  const size = 2 ** shift;
  for (let b = 0, i = 0, start = 0; b < nb; b++, start += size) {
    while (i + 1 < n && fn[FN * (i + 1)]! <= start) i++;
    buckets[b] = i;
  }
  return buckets;
}

/**
 * The common functab pass (see the constructor): raw [entryoff, funcoff] pairs → fn. Returns the
 * largest `_func` offset (−1: none), or −2 − i when entry i is out of order.
 */
function fillFunctab(
  raw: Uint32Array,
  fn: Uint32Array,
  n: number,
  delta: number,
  funcdataBase: number,
  recordEnd: number,
): number {
  let prev = 0;
  let lastFo = -1;
  for (let i = 0; i <= n; i++) {
    const rel = raw[2 * i]! + delta;
    if (rel < prev || rel > 0xffffffff) return -2 - i;
    prev = rel;
    fn[FN * i] = rel;
    if (i === n) break;
    const fo = raw[2 * i + 1]!;
    if (fo === 0xffffffff) {
      fn[FN * i + 1] = NO_FUNC;
      continue;
    }
    const abs = funcdataBase + fo;
    if (abs > recordEnd) {
      fn[FN * i + 1] = NO_FUNC - 1;
      continue;
    }
    fn[FN * i + 1] = abs;
    if (abs > lastFo) lastFo = abs;
  }
  return lastFo;
}

/**
 * Indexes of the bytes ≥ 0x80 in `b` (whose latin1 decoding is `text`), found 64 KiB at a time
 * (real tables have a handful, from '·' in generated names); undefined past 64Ki of them.
 */
function nonAsciiIndexes(b: Uint8Array, text: string): Int32Array | undefined {
  const out: number[] = [];
  const CHUNK = 1 << 16;
  for (let at = 0; at < b.length; at += CHUNK) {
    const end = Math.min(at + CHUNK, b.length);
    if (isAscii(b.subarray(at, end))) continue;
    const re = /[^\x00-\x7f]/g;
    const part = text.slice(at, end);
    for (let m = re.exec(part); m !== null; m = re.exec(part)) {
      if (out.length >= 1 << 16) return undefined;
      out.push(at + m.index);
    }
  }
  return Int32Array.from(out);
}

/**
 * Without a Go version (Go ≤ 1.12 binaries carry no buildinfo), tell the Go 1.2–1.15 `_func`
 * layouts apart from the data. Returns 10, 11, 12 or undefined (= the 1.13–1.15 default):
 * - 1.2–1.11 (int32 nfuncdata at E+28: a small count for every function) vs 1.12–1.15 (u8 funcID
 *   at E+28, u8 nfuncdata at E+31);
 * - in 1.2–1.11, whether E+8 holds a FuncID (11) or, in every function, the constant 0x1234567
 *   the linker wrote into the old frame-size field (10: no FuncID). Seen on real binaries: go1.7.3,
 *   go1.9.x and go1.10 write the constant, go1.10.2 and go1.11.x FuncIDs;
 * - in 1.12–1.15, 1.12 (PCDATA 1 / FUNCDATA 2 inline tree) vs 1.13+ (PCDATA 2 / FUNCDATA 4): Go
 *   1.13+ gives a function a PCDATA 2 table only with its inline tree, so such functions have ≥ 5
 *   funcdata; 1.12's PCDATA 2 is the register map, which most functions have while few have 5
 *   funcdata (measured: 12% of them in a go1.12.9 binary, 100% in go1.13.x ones).
 */
function guessLegacyMinor(b: Uint8Array, h: PclnHeader): number | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = h.littleEndian;
  const E = h.ptrSize;
  const n = h.nfunc;
  let seen = 0;
  let old = true;
  let placeholder = 0;
  let pc2 = 0;
  let pc2fd5 = 0;
  for (let i = 0; i < n; i++) {
    const off = h.functab + (2 * i + 1) * E;
    const fo = E === 4 ? dv.getUint32(off, le) : dv.getUint32(off + (le ? 0 : 4), le);
    if (fo + E + 32 > b.length) continue;
    seen++;
    if (old && dv.getUint32(fo + E + 28, le) > 64) old = false;
    if (dv.getUint32(fo + E + 8, le) === 0x1234567) placeholder++;
    const npcdata = dv.getUint32(fo + E + 24, le);
    if (npcdata > 2 && fo + E + 32 + 12 <= b.length && dv.getUint32(fo + E + 32 + 8, le) !== 0) {
      pc2++;
      if (b[fo + E + 31]! >= 5) pc2fd5++;
    }
  }
  if (seen === 0) return undefined;
  if (old) return placeholder === seen ? 10 : 11;
  return pc2 > 0 && pc2fd5 * 2 < pc2 ? 12 : undefined;
}

/**
 * The runtime's textAddr: an entry offset inside text section k lives at its base + (off − vaddr);
 * the end of the last section counts as inside it. Offsets in no section fall back to text + off.
 */
export function mapTextOffset(sects: readonly TextSection[], off: number, text: number): number {
  for (let k = 0; k < sects.length; k++) {
    const s = sects[k]!;
    if ((off >= s.vaddr && off < s.end) || (k === sects.length - 1 && off === s.end))
      return s.base + off - s.vaddr;
  }
  return text + off;
}

export function parsePclntab(bytes: Uint8Array, opts: ParseOptions = {}): PclnTable {
  return new PclnTable(bytes, opts);
}
