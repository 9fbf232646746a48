/**
 * `openBinary`: the one place that composes the layers — container (object) → build IDs →
 * buildinfo → pclntab (locate + parse) → container symbols — into a `GoBinary`.
 *
 * Loading copies what lookups need (the pclntab, the inline-tree records, the non-Go function
 * symbols, the segment ranges) and keeps no reference to the file: `openBinaryFile` closes its
 * file before returning. `resolve` never throws for an address; damaged tables of one function
 * give that PC the reason "corrupt_tables".
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

interface NameInfo {
  name: string;
  packagePath: string;
  modulePath: string;
  moduleVersion: string;
}

const MAX_SYM_NAME_CACHE = 1 << 16;

/**
 * Cache of decoded names keyed by their offset in the table: open addressing with linear probing
 * over typed arrays (no Map rehashing, no per-entry allocation besides the value). Sized from the
 * function count so every name of the binary fits; if it ever fills to 70% it starts over, so its
 * memory stays bounded whatever the lookups.
 */
class NameCache {
  private readonly keys: Int32Array;
  private readonly vals: (NameInfo | undefined)[];
  private readonly mask: number;
  private filled = 0;
  private chars = 0;

  constructor(funcs: number) {
    let cap = 1024;
    while (cap < funcs * 3 && cap < 1 << 22) cap *= 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.vals = new Array<NameInfo | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  private static hash(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> 7;
  }

  get(key: number): NameInfo | undefined {
    const m = this.mask;
    for (let slot = NameCache.hash(key) & m; ; slot = (slot + 1) & m) {
      const k = this.keys[slot]!;
      if (k === key) return this.vals[slot];
      if (k === -1) return undefined;
    }
  }

  set(key: number, v: NameInfo): void {
    if (key < 0 || key > 0x7fffffff) return;
    if (this.filled >= this.keys.length * 0.7) {
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
    this.vals[slot] = v;
    this.chars += v.name.length;
  }

  /** Slots + entries: the NameInfo object, its name string and a sliced package path. */
  get memoryBytes(): number {
    return this.keys.byteLength + 4 * this.vals.length + this.filled * 120 + this.chars;
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
  private readonly physNames: (NameInfo | undefined)[];
  private readonly symNames = new Map<string, NameInfo>();
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
    this.physNames = new Array<NameInfo | undefined>(table?.nfunc ?? 0).fill(undefined);
  }

  get memoryBytes(): number {
    let n = (this.table?.memoryBytes ?? 0) + this.syms.memoryBytes + this.ranges.byteLength;
    n += this.names.memoryBytes + 4 * this.physNames.length + this.symNames.size * 160;
    return n;
  }

  close(): void {}

  /** The physical function's name, cached by function index (one array slot, no hashing). */
  private physName(i: number, abs: number): NameInfo {
    let ni = this.physNames[i];
    if (ni === undefined) {
      ni = this.nameInfo(abs);
      this.physNames[i] = ni;
    }
    return ni;
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

  private nameInfo(abs: number): NameInfo {
    let ni = this.names.get(abs);
    if (ni === undefined) {
      ni = this.describe(this.table!.nameAt(abs));
      this.names.set(abs, ni);
    }
    return ni;
  }

  private describe(name: string): NameInfo {
    const pkg = packagePathOf(name, this.modules.size > 0 ? this.modules.isModule : undefined);
    const m = this.modules.lookup(pkg);
    return { name, packagePath: pkg, modulePath: m?.path ?? "", moduleVersion: m?.version ?? "" };
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
        try {
          for (let k = 0; k < n; k++) {
            const ni =
              k === n - 1 ? this.physName(ex.funcIndex, ex.nameOff[k]!) : this.nameInfo(ex.nameOff[k]!);
            frames[k] = {
              function: ni.name,
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
        ni = this.describe(name);
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
  const buildIds = computeBuildIds(obj);
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
