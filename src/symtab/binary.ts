/**
 * `openBinary`: the one place that composes the layers — container (object) → build IDs →
 * buildinfo → pclntab (locate + parse) → container symbols — into a `GoBinary`.
 *
 * Loading copies what lookups need (the pclntab, the inline-tree records, the non-Go function
 * symbols, the segment ranges) and keeps no reference to the file: `openBinaryFile` closes its
 * file before returning; `openBinary` leaves the caller's source open (the caller owns it) and
 * keeps no reference to it either, so `close()` has nothing left to release — unless asked for
 * `lazySymbols` (the CLI's one-shot use), when the container's symbols are read on first need and
 * the file stays open until `close()`. `resolve` never
 * throws for an address; damaged tables of one function give that PC the reason "corrupt_tables".
 *
 * Lookups are allocation-light: a function name is a slice of the table's one names string (made
 * per frame and never retained), found through 8 bytes per function of typed arrays that also
 * hold its interned package and module attribution, so a warm lookup costs the pc-value walks
 * plus the returned Frame objects and the GC has no per-name objects to trace. `memoryBytes`
 * counts the table copy (names as a string), the index arrays, the inline-tree memory and the
 * caches: 1.14x the pclntab on the buf CLI and 1.41x on a PIE cmd/go once every function has been
 * looked up (measured).
 */

import { readBuildInfo } from "../buildinfo/buildinfo.js";
import type { BuildInfo } from "../buildinfo/types.js";
import { GosymdError } from "../bytes/errors.js";
import { type ByteSource, FileSource } from "../bytes/source.js";
import { type LocatedPclntab, locatePclntab } from "../gopclntab/locate.js";
import { Expansion, type PclnTable, parsePclntab } from "../gopclntab/table.js";
import { computeBuildIds } from "../object/buildid.js";
import { openObject } from "../object/open.js";
import type { ObjectFile } from "../object/types.js";
import type { BinaryInfo, GoBinary, OpenOptions, PclntabInfo } from "./api.js";
import { fastPackagePath, ModuleIndex, packagePathOf } from "./pkgpath.js";
import { buildSymbolFallback, lazySymbolFallback, type SymbolFallback } from "./symbols.js";
import { type Frame, type FrameLines, type Resolution, setFrameName } from "./types.js";

/** Frames as `FrameLines` (what `frameLines` gives for an address outside the bulk path); their count. */
export function frameLinesOf(frames: readonly Frame[], out: FrameLines): number {
  for (let k = 0; k < frames.length; k++) {
    setFrameName(out, k, frames[k]!.function);
    out.file[k] = frames[k]!.file;
    out.line[k] = frames[k]!.line;
  }
  return frames.length;
}

/** Package and module of a package path, interned: one object per package. */
interface PkgInfo {
  packagePath: string;
  modulePath: string;
  moduleVersion: string;
}

const MAX_SYM_NAME_CACHE = 1 << 16;
/** Packages interned at most (real binaries have a few thousand); beyond, computed per lookup. */
const MAX_PACKAGES = 1 << 16;
/** Package id of a name whose code is known but whose package has not been worked out yet. */
const PKG_PENDING = -2;
/** Decoded names kept as strings (names with bytes ≥ 0x80, and every name of 1.2–1.15 tables). */
const MAX_NAME_STRINGS = 1 << 16;

/**
 * What lookups remember about the names of inlined frames, keyed by the name's table offset: the
 * same two numbers as `LoadedBinary.fnNames` (name code, package id), in an open-addressing table
 * of typed arrays (linear probing) that doubles as it fills, up to a cap where it starts over.
 */
class NameIndex {
  private keys: Int32Array;
  vals: Int32Array;
  private mask: number;
  private filled = 0;

  /**
   * Sized so that a table's inlined names (measured: an eighth to a quarter of its function count)
   * fit without growing: growing mid-run sends the optimized lookup code back to the interpreter.
   */
  constructor(funcs: number) {
    let cap = 1024;
    while (cap < funcs / 2 && cap < 1 << 20) cap *= 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.vals = new Int32Array(2 * cap);
    this.mask = cap - 1;
  }

  private static hash(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> 7;
  }

  /** Slot of key (values at vals[2 * slot], vals[2 * slot + 1]), or −1. */
  get(key: number): number {
    const m = this.mask;
    const keys = this.keys;
    for (let slot = NameIndex.hash(key) & m; ; slot = (slot + 1) & m) {
      const k = keys[slot]!;
      if (k === key) return slot;
      if (k === -1) return -1;
    }
  }

  /** Stores key's values; returns its slot (valid until the next `set`), −1 for keys it cannot hold. */
  set(key: number, code: number, pkg: number): number {
    if (key < 0 || key > 0x7fffffff) return -1;
    if (2 * (this.filled + 1) > this.keys.length) this.grow();
    const m = this.mask;
    const keys = this.keys;
    let slot = NameIndex.hash(key) & m;
    while (keys[slot] !== -1 && keys[slot] !== key) slot = (slot + 1) & m;
    if (keys[slot] === -1) this.filled++;
    keys[slot] = key;
    this.vals[2 * slot] = code;
    this.vals[2 * slot + 1] = pkg;
    return slot;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    const cap = oldKeys.length < 1 << 22 ? oldKeys.length * 2 : oldKeys.length;
    this.keys = new Int32Array(cap).fill(-1);
    this.vals = new Int32Array(2 * cap);
    this.mask = cap - 1;
    this.filled = 0;
    if (cap === oldKeys.length) return; // at the cap: start over
    for (let s = 0; s < oldKeys.length; s++) {
      const k = oldKeys[s]!;
      if (k !== -1) this.set(k, oldVals[2 * s]!, oldVals[2 * s + 1]!);
    }
  }

  get memoryBytes(): number {
    return this.keys.byteLength + this.vals.byteLength;
  }
}

class LoadedBinary implements GoBinary {
  readonly info: BinaryInfo;
  readonly table: PclnTable | undefined;
  private readonly modules: ModuleIndex;
  private readonly syms: SymbolFallback;
  /** Loaded ranges [start, end) pairs, sorted, for outside_binary vs no_symbol. */
  private readonly ranges: Float64Array;
  /**
   * Per function: [2i] its name's code — 0 not yet seen, len + 1 when the name is
   * `table.names.slice(off, off + len)` (a slice allocated per frame, so no name string is
   * retained), −1 when it is kept in `nameStrings` — and [2i + 1] its package id in `pkgs` (−1:
   * not interned). Typed arrays, 8 bytes a function, nothing for the GC to trace.
   */
  private readonly fnNames: Int32Array;
  /** The same for the names of inlined frames, by name offset. */
  private readonly inlNames: NameIndex;
  private readonly nameStrings = new Map<number, string>();
  private readonly symNames = new Map<string, PkgInfo>();
  /** Interned package and module info (a few thousand packages), by id and by package path. */
  private readonly pkgs: PkgInfo[] = [];
  private readonly pkgIds = new Map<string, number>();
  private readonly ex = new Expansion();

  constructor(
    info: BinaryInfo,
    table: PclnTable | undefined,
    modules: ModuleIndex,
    syms: SymbolFallback,
    ranges: Float64Array,
    private readonly onClose?: () => void,
  ) {
    this.info = info;
    this.table = table;
    this.modules = modules;
    this.syms = syms;
    this.ranges = ranges;
    this.fnNames = new Int32Array(2 * (table?.nfunc ?? 0));
    this.inlNames = new NameIndex(table?.nfunc ?? 0);
  }

  get memoryBytes(): number {
    let n = (this.table?.memoryBytes ?? 0) + this.syms.memoryBytes + this.ranges.byteLength;
    n += this.fnNames.byteLength + this.inlNames.memoryBytes;
    for (const v of this.nameStrings.values()) n += 64 + v.length;
    n += (this.pkgs.length + this.symNames.size) * 160;
    return n;
  }

  close(): void {
    this.onClose?.();
  }

  private wrapperId: number | undefined;

  private initWrapperId(t: PclnTable): number {
    try {
      this.wrapperId = t.wrapperFuncID();
    } catch (e) {
      if (!(e instanceof GosymdError)) throw e;
      this.wrapperId = -1;
    }
    return this.wrapperId;
  }

  /**
   * The name code (see `fnNames`) of frame k of the `n` in `this.ex`, name at table offset `off`:
   * the physical frame's remembered by function index, inlined frames' by name offset, learned on
   * first sight. With `wantPkg` its package id is learned too and left in `framePkg`; the text
   * path (`frameLines`) leaves it pending. Throws a GosymdError for a damaged name.
   */
  private frameName(k: number, n: number, off: number, wantPkg: boolean): number {
    let vals: Int32Array;
    let at: number;
    if (k === n - 1) {
      vals = this.fnNames;
      at = 2 * this.ex.funcIndex;
      if (vals[at] === 0) {
        vals[at] = this.nameCode(off);
        vals[at + 1] = PKG_PENDING;
      }
    } else {
      const idx = this.inlNames;
      let slot = idx.get(off);
      if (slot < 0) slot = idx.set(off, this.nameCode(off), PKG_PENDING);
      if (slot < 0) {
        // A key the index cannot hold: worked out each time.
        const code = this.nameCode(off);
        this.framePkg = wantPkg ? this.pkgId(this.nameOf(code, off)) : PKG_PENDING;
        return code;
      }
      vals = idx.vals;
      at = 2 * slot;
    }
    const code = vals[at]!;
    if (wantPkg && vals[at + 1] === PKG_PENDING) vals[at + 1] = this.pkgId(this.nameOf(code, off));
    this.framePkg = vals[at + 1]!;
    return code;
  }

  /** Package id of the last `frameName` (−1: not interned). */
  private framePkg = -1;

  /** The code of the name at `abs` (see `fnNames`) without working out its package. */
  private nameCode(abs: number): number {
    const t = this.table!;
    if (t.namesInString) {
      const len = t.nameLength(abs);
      if (len >= 0) return len + 1;
    }
    this.nameString(abs);
    return -1;
  }

  /** The name for a code from `fnNames`/`inlNames` at table offset `off`. */
  private nameOf(code: number, off: number): string {
    const t = this.table!;
    return code > 0 ? t.names.slice(off - t.namesBase, off - t.namesBase + code - 1) : this.nameString(off);
  }

  frameLines(pc: number, out: FrameLines): number {
    const t = this.table;
    if (t !== undefined && Number.isSafeInteger(pc) && pc >= 0) {
      const ex = this.ex;
      try {
        if (t.expand(pc, ex)) {
          const n = ex.count;
          for (let k = 0; k < n; k++) {
            const off = ex.nameOff[k]!;
            const code = this.frameName(k, n, off, false);
            // A range of the table's names string (see `fnNames`), or a name kept as a string.
            if (code > 0) setFrameName(out, k, t.names, off - t.namesBase, off - t.namesBase + code - 1);
            else setFrameName(out, k, this.nameString(off));
            out.file[k] = ex.file[k]!;
            out.line[k] = ex.line[k]!;
          }
          return n;
        }
      } catch (e) {
        if (e instanceof GosymdError) return 0;
        throw e;
      }
    }
    return frameLinesOf(this.resolve(pc).frames, out);
  }

  /** A name kept as a string (see `fnNames`). */
  private nameString(abs: number): string {
    let s = this.nameStrings.get(abs);
    if (s === undefined) {
      s = this.table!.nameAt(abs);
      if (this.nameStrings.size >= MAX_NAME_STRINGS) this.nameStrings.clear();
      this.nameStrings.set(abs, s);
    }
    return s;
  }

  /** Interned package id of a function name, −1 past MAX_PACKAGES. */
  private pkgId(name: string): number {
    let pkg = fastPackagePath(name);
    if (pkg === undefined || (this.modules.dottedStems.size > 0 && this.modules.dottedStems.has(pkg))) {
      pkg = packagePathOf(name, this.modules.size > 0 ? this.modules.isModule : undefined);
    }
    let id = this.pkgIds.get(pkg);
    if (id === undefined) {
      if (this.pkgs.length >= MAX_PACKAGES) return -1;
      id = this.pkgs.length;
      this.pkgs.push(this.pkgInfoOf(pkg));
      this.pkgIds.set(pkg, id);
    }
    return id;
  }

  private pkgInfoOf(pkg: string): PkgInfo {
    const m = this.modules.lookup(pkg);
    return { packagePath: pkg, modulePath: m?.path ?? "", moduleVersion: m?.version ?? "" };
  }

  private pkgInfo(name: string): PkgInfo {
    const id = this.pkgId(name);
    return id >= 0
      ? this.pkgs[id]!
      : this.pkgInfoOf(packagePathOf(name, this.modules.size > 0 ? this.modules.isModule : undefined));
  }

  resolve(pc: number): Resolution {
    if (typeof pc !== "number" || !Number.isSafeInteger(pc) || pc < 0) {
      return { frames: [], reason: "invalid_address", detail: `not a valid address: ${String(pc)}` };
    }
    const t = this.table;
    if (t !== undefined) {
      const ex = this.ex;
      let found: boolean;
      try {
        found = t.expand(pc, ex);
      } catch (e) {
        if (e instanceof GosymdError) {
          return { frames: [], reason: "corrupt_tables", detail: e.message };
        }
        throw e;
      }
      if (found) {
        const n = ex.count;
        const wid = this.wrapperId ?? this.initWrapperId(t);
        const frames: Frame[] = new Array(n);
        const pkgs = this.pkgs;
        try {
          for (let k = 0; k < n; k++) {
            const off = ex.nameOff[k]!;
            const code = this.frameName(k, n, off, true);
            const pid = this.framePkg;
            const name = this.nameOf(code, off);
            const ni = pid >= 0 ? pkgs[pid]! : this.pkgInfo(name);
            frames[k] = {
              function: name,
              file: ex.file[k]!,
              line: ex.line[k]!,
              startLine: ex.startLine[k]!,
              entry: ex.entry,
              inlined: k < n - 1,
              packagePath: ni.packagePath,
              modulePath: ni.modulePath,
              moduleVersion: ni.moduleVersion,
              source: "pclntab",
              wrapper: wid < 0 || ex.funcID[k]! < 0 ? undefined : ex.funcID[k] === wid,
            };
          }
        } catch (e) {
          if (e instanceof GosymdError) return { frames: [], reason: "corrupt_tables", detail: e.message };
          throw e;
        }
        return { frames };
      }
    }
    const s = this.syms.find(pc);
    if (s >= 0) {
      const name = this.syms.name(s);
      let ni = this.symNames.get(name);
      if (ni === undefined) {
        ni = this.pkgInfo(name);
        if (this.symNames.size >= MAX_SYM_NAME_CACHE) this.symNames.clear();
        this.symNames.set(name, ni);
      }
      return {
        frames: [
          {
            function: name,
            file: "",
            line: 0,
            startLine: 0,
            entry: this.syms.addr(s),
            inlined: false,
            packagePath: ni.packagePath,
            modulePath: ni.modulePath,
            moduleVersion: ni.moduleVersion,
            source: "symtab",
            wrapper: undefined,
          },
        ],
      };
    }
    return inRanges(this.ranges, pc)
      ? { frames: [], reason: "no_symbol" }
      : { frames: [], reason: "outside_binary" };
  }
}

function inRanges(r: Float64Array, pc: number): boolean {
  let lo = 0;
  let hi = r.length >>> 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r[2 * mid]! <= pc) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 && pc < r[2 * (lo - 1) + 1]!;
}

function loadedRanges(obj: ObjectFile): Float64Array {
  const rs: Array<[number, number]> = [];
  for (const s of obj.segments) if (s.memSize > 0) rs.push([s.vaddr, s.vaddr + s.memSize]);
  if (rs.length === 0)
    for (const s of obj.sections) if (s.alloc && s.size > 0) rs.push([s.addr, s.addr + s.size]);
  rs.sort((a, b) => a[0] - b[0]);
  // Merge overlaps so the binary search is exact.
  const merged: Array<[number, number]> = [];
  for (const r of rs) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  const out = new Float64Array(merged.length * 2);
  merged.forEach((r, i) => {
    out[2 * i] = r[0];
    out[2 * i + 1] = r[1];
  });
  return out;
}

/** Parses the located table, trying each gofunc candidate until the inline trees read cleanly. */
function parseLocated(loc: LocatedPclntab, obj: ObjectFile, goVersion: string | undefined): PclnTable {
  const bytes = loc.bytes;
  const readMemory = (a: number, n: number) => {
    try {
      return obj.readVirtual(a, n);
    } catch (e) {
      if (e instanceof GosymdError) return undefined;
      throw e;
    }
  };
  const base = {
    addr: loc.addr,
    copy: true,
    readMemory,
    ...(loc.textStart !== undefined ? { textStart: loc.textStart } : {}),
    ...(loc.textSections !== undefined ? { textSections: loc.textSections } : {}),
    ...(goVersion !== undefined && goVersion !== "" ? { goVersion } : {}),
  };
  const cands = loc.gofuncCandidates;
  let first: PclnTable | undefined;
  const tries = function* (): Generator<number | undefined> {
    if (cands.length === 0) yield undefined;
    yield* cands;
    const more = loc.symbolGofunc?.();
    if (more !== undefined) yield more;
  };
  for (const gofunc of tries()) {
    // Funcdata (inline trees among them) lie from gofunc to the end of its section.
    const sec = gofunc === undefined ? undefined : obj.sectionAt(gofunc);
    const t = parsePclntab(
      bytes,
      gofunc === undefined
        ? base
        : sec === undefined
          ? { ...base, gofunc }
          : { ...base, gofunc, funcdataEnd: sec.addr + sec.size },
    );
    first ??= t;
    if (t.inlineTreesMissing === 0 || t.inlineTrees) return t;
  }
  return first!;
}

/** The decoded pclntab behind a GoBinary from `openBinary` (diagnostics, tests, unwinders). */
export function pclnTableOf(b: GoBinary): PclnTable | undefined {
  return b instanceof LoadedBinary ? b.table : undefined;
}

export function openBinary(source: ByteSource, opts: OpenOptions = {}, onClose?: () => void): GoBinary {
  const obj = openObject(source, opts.arch === undefined ? {} : { arch: opts.arch });
  const buildIds = computeBuildIds(obj, opts.sha256);
  let buildInfo: BuildInfo | undefined;
  try {
    buildInfo = readBuildInfo(obj);
  } catch (e) {
    if (!(e instanceof GosymdError)) throw e;
  }
  const loc = locatePclntab(obj);
  const table = parseLocated(loc, obj, buildInfo?.goVersion);
  const syms =
    opts.lazySymbols === true
      ? lazySymbolFallback(() => buildSymbolFallback(obj, table))
      : buildSymbolFallback(obj, table);
  const pclntab: PclntabInfo = {
    version: table.version,
    magic: table.header.magic,
    quantum: table.header.quantum,
    ptrSize: table.header.ptrSize,
    funcCount: table.nfunc,
    fileCount: table.header.version === "1.2" ? Math.max(0, table.header.nfiles - 1) : table.header.nfiles,
    textStart: table.version === "1.18" || table.version === "1.20" ? table.textStart : table.entry(0),
    foundBy: loc.foundBy,
    addr: loc.addr,
    size: loc.size,
    inlineTrees: table.inlineTrees,
  };
  const info: BinaryInfo = {
    format: obj.format,
    arch: obj.arch,
    os: obj.os,
    ptrSize: obj.ptrSize,
    pie: obj.pie,
    size: source.size,
    buildIds,
    goVersion: buildInfo?.goVersion ?? "",
    pclntab,
    symbolCount: 0,
  };
  if (opts.lazySymbols === true) {
    Object.defineProperty(info, "symbolCount", { enumerable: true, get: () => syms.totalSymbols });
  } else info.symbolCount = syms.totalSymbols;
  if (buildInfo !== undefined) info.buildInfo = buildInfo;
  return new LoadedBinary(info, table, new ModuleIndex(buildInfo), syms, loadedRanges(obj), onClose);
}

export function openBinaryFile(path: string, opts: OpenOptions = {}): GoBinary {
  const src = new FileSource(path);
  const keepOpen = opts.lazySymbols === true;
  let ok = false;
  try {
    const bin = openBinary(src, opts, keepOpen ? () => src.close() : undefined);
    ok = true;
    return bin;
  } finally {
    if (!keepOpen || !ok) src.close();
  }
}
