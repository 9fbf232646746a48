/**
 * `openBinary`: the one place that composes the layers — container (object) → build IDs →
 * buildinfo → pclntab (locate + parse) → container symbols — into a `GoBinary`.
 *
 * Loading copies what lookups need (the pclntab, the inline-tree records, the non-Go function
 * symbols, the segment ranges) and keeps no reference to the file: `openBinaryFile` closes its
 * file before returning; `openBinary` leaves the caller's source open (the caller owns it) and
 * keeps no reference to it either, so `close()` has nothing left to release. `resolve` never
 * throws for an address; damaged tables of one function give that PC the reason "corrupt_tables".
 *
 * Lookups are allocation-light: names are decoded once into a cache sized from the function
 * count (package and module attribution interned per package), so a warm lookup costs the
 * pc-value walks plus the returned Frame objects. `memoryBytes` counts the table copy, the index
 * arrays, the inline records and the caches (about 1.1× the pclntab after open, about 1.5× once
 * every name has been looked up, measured on the buf CLI).
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
import { ModuleIndex, packagePathOf } from "./pkgpath.js";
import { buildSymbolFallback, type SymbolFallback } from "./symbols.js";
import type { Frame, Resolution } from "./types.js";

/** Package and module of a package path, interned: one object per package. */
interface PkgInfo {
  packagePath: string;
  modulePath: string;
  moduleVersion: string;
}

const MAX_SYM_NAME_CACHE = 1 << 16;

/**
 * Cache of decoded function names keyed by their offset in the table: open addressing with linear
 * probing. A slot's values sit side by side in one array — the name and its interned package info
 * (a few thousand objects that stay cache-hot) — so a hit touches two cache lines (key, values)
 * and allocates nothing. Sized
 * from the function count so every name fits; when it fills to its entry cap it starts over, so
 * memory stays bounded whatever the lookups. `get` returns the slot or −1.
 */
class NameCache {
  private readonly keys: Int32Array;
  /** 2 per slot: name, package info. */
  readonly vals: (string | PkgInfo | undefined)[];
  private readonly mask: number;
  private readonly maxEntries: number;
  private filled = 0;
  private chars = 0;

  constructor(funcs: number) {
    // Inlined-only names add maybe 10–20% to the function count.
    const want = Math.ceil(funcs * 1.25) + 256;
    let cap = 1024;
    while (cap * 0.7 < want && cap < 1 << 22) cap *= 2;
    this.maxEntries = Math.floor(cap * 0.7);
    this.keys = new Int32Array(cap).fill(-1);
    this.vals = new Array<string | PkgInfo | undefined>(2 * cap).fill(undefined);
    this.mask = cap - 1;
  }

  private static hash(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> 7;
  }

  get(key: number): number {
    const m = this.mask;
    for (let slot = NameCache.hash(key) & m; ; slot = (slot + 1) & m) {
      const k = this.keys[slot]!;
      if (k === key) return slot;
      if (k === -1) return -1;
    }
  }

  /** Stores a name; returns its slot (valid until the next `set`). */
  set(key: number, name: string, pkg: PkgInfo): number {
    if (key < 0 || key > 0x7fffffff) return -1;
    if (this.filled >= this.maxEntries) {
      this.keys.fill(-1);
      this.vals.fill(undefined);
      this.filled = 0;
      this.chars = 0;
    }
    const m = this.mask;
    let slot = NameCache.hash(key) & m;
    while (this.keys[slot] !== -1 && this.keys[slot] !== key) slot = (slot + 1) & m;
    if (this.keys[slot] === -1) this.filled++;
    this.keys[slot] = key;
    const v = this.vals;
    v[2 * slot] = name;
    v[2 * slot + 1] = pkg;
    this.chars += name.length;
    return slot;
  }

  /** Slot arrays, plus per entry the name string (V8 header + one byte per character). */
  get memoryBytes(): number {
    return this.keys.byteLength + 4 * this.vals.length + this.filled * 24 + this.chars;
  }
}

class LoadedBinary implements GoBinary {
  readonly info: BinaryInfo;
  readonly table: PclnTable | undefined;
  private readonly modules: ModuleIndex;
  private readonly syms: SymbolFallback;
  /** Loaded ranges [start, end) pairs, sorted, for outside_binary vs no_symbol. */
  private readonly ranges: Float64Array;
  private readonly names: NameCache;
  private readonly symNames = new Map<string, PkgInfo>();
  /** Package path → package and module info (a few thousand packages at most). */
  private readonly pkgCache = new Map<string, PkgInfo>();
  private readonly ex = new Expansion();

  constructor(
    info: BinaryInfo,
    table: PclnTable | undefined,
    modules: ModuleIndex,
    syms: SymbolFallback,
    ranges: Float64Array,
  ) {
    this.info = info;
    this.table = table;
    this.modules = modules;
    this.syms = syms;
    this.ranges = ranges;
    this.names = new NameCache(table?.nfunc ?? 0);
  }

  get memoryBytes(): number {
    let n = (this.table?.memoryBytes ?? 0) + this.syms.memoryBytes + this.ranges.byteLength;
    n += this.names.memoryBytes + (this.pkgCache.size + this.symNames.size) * 160;
    return n;
  }

  close(): void {}

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

  /** Cache slot of the name at table offset `abs`, decoding it on a miss. */
  private nameSlot(abs: number): number {
    const c = this.names;
    const slot = c.get(abs);
    if (slot >= 0) return slot;
    const name = this.table!.nameAt(abs);
    return c.set(abs, name, this.pkgInfo(name));
  }

  private pkgInfo(name: string): PkgInfo {
    const pkg = packagePathOf(name, this.modules.size > 0 ? this.modules.isModule : undefined);
    let pi = this.pkgCache.get(pkg);
    if (pi === undefined) {
      const m = this.modules.lookup(pkg);
      pi = { packagePath: pkg, modulePath: m?.path ?? "", moduleVersion: m?.version ?? "" };
      if (this.pkgCache.size >= MAX_SYM_NAME_CACHE) this.pkgCache.clear();
      this.pkgCache.set(pkg, pi);
    }
    return pi;
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
        const names = this.names;
        try {
          for (let k = 0; k < n; k++) {
            let slot = names.get(ex.nameOff[k]!);
            if (slot < 0) slot = this.nameSlot(ex.nameOff[k]!);
            const v = names.vals;
            const ni = v[2 * slot + 1] as PkgInfo;
            frames[k] = {
              function: v[2 * slot] as string,
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
  for (const gofunc of cands.length > 0 ? cands : [undefined]) {
    const t = parsePclntab(bytes, gofunc === undefined ? base : { ...base, gofunc });
    first ??= t;
    if (t.inlineTreesMissing === 0 || t.inlineTrees) return t;
  }
  return first!;
}

/** The decoded pclntab behind a GoBinary from `openBinary` (diagnostics, tests, unwinders). */
export function pclnTableOf(b: GoBinary): PclnTable | undefined {
  return b instanceof LoadedBinary ? b.table : undefined;
}

export function openBinary(source: ByteSource, opts: OpenOptions = {}): GoBinary {
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
  const syms = buildSymbolFallback(obj, table);
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
    symbolCount: syms.totalSymbols,
  };
  if (buildInfo !== undefined) info.buildInfo = buildInfo;
  return new LoadedBinary(info, table, new ModuleIndex(buildInfo), syms, loadedRanges(obj));
}

export function openBinaryFile(path: string, opts: OpenOptions = {}): GoBinary {
  const src = new FileSource(path);
  try {
    return openBinary(src, opts);
  } finally {
    src.close();
  }
}
