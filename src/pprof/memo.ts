/**
 * Per-binary memo of resolved PCs, shared by every profile symbolized against that binary.
 * Continuous profilers send the same binaries' PCs over and over; remembering each PC's frames
 * (as small integers into a per-binary function registry) makes a warm profile cost a map lookup
 * per location instead of a pc-value table walk, and lets a profile map frames to its own
 * Function ids through an array instead of hashing names.
 *
 * Bounded: at most `maxPcs` PCs per binary (the PC part is dropped and refilled when full); the
 * function registry grows with the distinct functions seen, which the binary bounds. Held in a
 * WeakMap keyed by the GoBinary, so it goes when the binary does.
 */
import { Expansion, type PclnTable } from "../gopclntab/table.js";
import type { GoBinary } from "../symtab/api.js";
import { pclnTableOf } from "../symtab/binary.js";
import type { Frame } from "../symtab/types.js";

/** Entry header: frame count in the low 16 bits, plus these flags. */
export const NO_FILE = 1 << 16;
export const NO_LINE = 1 << 17;
export const COUNT_MASK = 0xffff;

export const DEFAULT_MAX_MEMO_PCS = 1 << 20;

interface FuncKey {
  gfid: number;
  file: string;
  startLine: number;
  next: FuncKey | undefined;
}

export class BinaryMemo {
  /** Registry of distinct (name, file, start line); names and files as string ids. */
  readonly fnName: number[] = [];
  readonly fnFile: number[] = [];
  readonly fnStartLine: number[] = [];
  /** Distinct strings (function names and files), and their UTF-8 bytes once asked for. */
  readonly strings: string[] = [];
  private readonly bytes: (Uint8Array | undefined)[] = [];
  private readonly stringIds = new Map<string, number>();
  private readonly byName = new Map<string, FuncKey>();
  /** pc → offset of its entry in `pool`, or -1 when the PC has no frames. */
  private readonly pcs: PcTable;
  /** Entries: [header, gfid0, line0, gfid1, line1, ...], innermost frame first. */
  pool = new Int32Array(1 << 12);
  private used = 0;

  private wrappers: WrapperCheck | undefined;

  constructor(
    readonly binary: GoBinary,
    private readonly maxPcs: number,
    /** Leave out wrapper frames as Go tracebacks and runtime/pprof do (see elideWrappers). */
    private readonly elide: boolean,
  ) {
    this.pcs = new PcTable(Math.max(1, maxPcs));
  }

  /** Entry offset for `pc`, resolving it on first sight; -1 when the binary has no frames for it. */
  lookup(pc: number): number {
    const off = this.pcs.get(pc);
    if (off !== MISSING) return off;
    let frames: readonly Frame[] = this.binary.resolve(pc).frames;
    if (this.elide && frames.length > 1) {
      this.wrappers ??= new WrapperCheck(this.binary);
      frames = this.wrappers.elide(pc, frames);
    }
    return this.add(pc, frames);
  }

  private add(pc: number, frames: readonly Frame[]): number {
    if (this.pcs.size >= this.maxPcs) {
      this.pcs.clear();
      this.used = 0;
    }
    const n = Math.min(frames.length, COUNT_MASK);
    if (n === 0) {
      this.pcs.set(pc, -1);
      return -1;
    }
    const need = 1 + 2 * n;
    if (this.used + need > this.pool.length) {
      const next = new Int32Array(Math.max(this.pool.length * 2, this.used + need));
      next.set(this.pool.subarray(0, this.used));
      this.pool = next;
    }
    const off = this.used;
    let header = n;
    for (let k = 0; k < n; k++) {
      const f = frames[k]!;
      const line = positiveInt32(f.line);
      if (f.file === "") header |= NO_FILE;
      if (line === 0) header |= NO_LINE;
      // The physical function's file is its declaration's (see declFile); an inlined frame's file
      // is its callee's already.
      const file = f.inlined ? f.file : this.declFile(f);
      this.pool[off + 1 + 2 * k] = this.func(f.function, file, positiveInt32(f.startLine));
      this.pool[off + 2 + 2 * k] = line;
    }
    this.pool[off] = header;
    this.used += need;
    this.pcs.set(pc, off);
    return off;
  }

  /** Physical function entry → the file it is declared in (the file at its entry). */
  private readonly declFiles = new Map<number, string>();

  /**
   * The file a physical frame's function is declared in. A profile keeps one file per function
   * (profile.proto's Function.filename), and a PC's own file can be another: at a few PCs the
   * compiler leaves an inlined callee's file and line in the tables while the inline tree says
   * nothing is inlined there (runtime.mallocgc at mcache.go:128, from getMCache). runtime/pprof
   * then reports malloc.go, the function's file; so do we. The file at the entry is the
   * declaration's: nothing is inlined at a function's first instruction.
   */
  private declFile(f: Frame): string {
    let file = this.declFiles.get(f.entry);
    if (file === undefined) {
      file = f.file;
      // Straight from the pclntab (a table-level fact; no lookup the binary would count).
      const tab = f.source === "pclntab" ? pclnTableOf(this.binary) : undefined;
      try {
        if (tab?.expand(f.entry, this.entryEx) && this.entryEx.entry === f.entry) {
          const outer = this.entryEx.file[this.entryEx.count - 1];
          if (outer !== undefined && outer !== "") file = outer;
        }
      } catch {
        // damaged tables: the PC's own file stands
      }
      if (this.declFiles.size >= this.maxPcs) this.declFiles.clear();
      this.declFiles.set(f.entry, file);
    }
    return file;
  }

  private readonly entryEx = new Expansion();

  private func(name: string, file: string, startLine: number): number {
    const head = this.byName.get(name);
    for (let e = head; e !== undefined; e = e.next) {
      if (e.file === file && e.startLine === startLine) return e.gfid;
    }
    const gfid = this.fnName.length;
    this.fnName.push(this.string(name));
    this.fnFile.push(this.string(file));
    this.fnStartLine.push(startLine);
    this.byName.set(name, { gfid, file, startLine, next: head });
    return gfid;
  }

  /** UTF-8 of string `sid` (cached: every profile writes the same names). */
  utf8(sid: number): Uint8Array {
    let b = this.bytes[sid];
    if (b === undefined) {
      b = encoder.encode(this.strings[sid]!);
      this.bytes[sid] = b;
    }
    return b;
  }

  private string(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }
}

const MISSING = -2;
const EMPTY = -1;

/**
 * Open-addressing hash table from PCs (safe non-negative integers) to int32 values, keys and
 * values interleaved in one array so a lookup touches one cache line.
 */
class PcTable {
  private slots: Float64Array;
  private mask: number;
  size = 0;

  constructor(private readonly maxEntries: number) {
    this.slots = PcTable.empty(1 << 12);
    this.mask = (1 << 12) - 1;
  }

  private static empty(cap: number): Float64Array {
    const a = new Float64Array(2 * cap);
    for (let i = 0; i < a.length; i += 2) a[i] = EMPTY;
    return a;
  }

  private slot(pc: number): number {
    const lo = pc >>> 0;
    const hi = (pc / 0x1_0000_0000) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value for pc, or MISSING. */
  get(pc: number): number {
    const a = this.slots;
    for (let i = this.slot(pc); ; i = (i + 1) & this.mask) {
      const k = a[2 * i]!;
      if (k === pc) return a[2 * i + 1]!;
      if (k === EMPTY) return MISSING;
    }
  }

  set(pc: number, v: number): void {
    const cap = this.mask + 1;
    if ((this.size + 1) * 2 > cap && cap < 2 * this.maxEntries + 2) this.grow();
    const a = this.slots;
    for (let i = this.slot(pc); ; i = (i + 1) & this.mask) {
      const k = a[2 * i]!;
      if (k === EMPTY) {
        a[2 * i] = pc;
        a[2 * i + 1] = v;
        this.size++;
        return;
      }
      if (k === pc) {
        a[2 * i + 1] = v;
        return;
      }
    }
  }

  clear(): void {
    const a = this.slots;
    for (let i = 0; i < a.length; i += 2) a[i] = EMPTY;
    this.size = 0;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = PcTable.empty(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) {
      const k = old[i]!;
      if (k !== EMPTY) this.set(k, old[i + 1]!);
    }
  }
}

function positiveInt32(n: number): number {
  return Number.isInteger(n) && n > 0 && n <= 0x7fff_ffff ? n : 0;
}

/**
 * Which frames are compiler-generated wrappers. Frame.wrapper when the resolver sets it;
 * otherwise, for the physical frame, the pclntab FuncID compared with the wrapper FuncID (whose
 * number changes between Go releases, but is always runtime.deferreturn's).
 */
class WrapperCheck {
  private readonly table: PclnTable | undefined;
  private readonly wrapperId: number;

  constructor(binary: GoBinary) {
    this.table = pclnTableOf(binary);
    let id = -1;
    const t = this.table;
    if (t !== undefined) {
      try {
        for (let i = 0; i < t.nfunc; i++) {
          if (t.funcName(i) === "runtime.deferreturn") {
            id = t.funcID(i);
            break;
          }
        }
      } catch {
        id = -1; // damaged names: do not guess
      }
    }
    this.wrapperId = id > 0 ? id : -1;
  }

  private isWrapper(f: Frame, k: number, n: number, pc: number): boolean {
    if (f.wrapper !== undefined) return f.wrapper;
    if (k !== n - 1 || this.wrapperId < 0 || this.table === undefined) return false;
    try {
      const i = this.table.findFunc(pc);
      return i >= 0 && this.table.funcID(i) === this.wrapperId;
    } catch {
      return false;
    }
  }

  /**
   * `frames` without wrapper frames, as runtime tracebacks show them — unless that would leave
   * nothing (a PC inside a bare wrapper still gets its one frame).
   */
  elide(pc: number, frames: readonly Frame[]): readonly Frame[] {
    const n = frames.length;
    let kept: Frame[] | undefined;
    for (let k = 0; k < n; k++) {
      const f = frames[k]!;
      if (this.isWrapper(f, k, n, pc)) kept ??= frames.slice(0, k);
      else kept?.push(f);
    }
    return kept === undefined || kept.length === 0 ? frames : kept;
  }
}

const encoder = new TextEncoder();
const memos = new WeakMap<GoBinary, { elide?: BinaryMemo; keep?: BinaryMemo }>();

/** The memo of `binary` for one wrapper policy (created on first use). */
export function memoFor(binary: GoBinary, maxPcs = DEFAULT_MAX_MEMO_PCS, elideWrappers = true): BinaryMemo {
  let pair = memos.get(binary);
  if (pair === undefined) {
    pair = {};
    memos.set(binary, pair);
  }
  const key = elideWrappers ? "elide" : "keep";
  let m = pair[key];
  if (m === undefined) {
    m = new BinaryMemo(binary, maxPcs, elideWrappers);
    pair[key] = m;
  }
  return m;
}
