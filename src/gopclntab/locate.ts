/**
 * Finding the pclntab and the addresses it depends on (text start, gofunc) in an ObjectFile
 * (§3 and §4 of go-binary-formats.md).
 *
 * pclntab, in order: a named section (`.gopclntab`, `.data.rel.ro.gopclntab`, Mach-O
 * `__gopclntab`); the `runtime.pclntab`/`runtime.epclntab` symbols (also `pclntab`/`epclntab`);
 * else a validated magic scan over the read-only/relro data sections. Its exact size then comes
 * from the section, the symbols or moduledata.
 *
 * moduledata is found from `.go.module`/`__go_module` (Go 1.26+) or by scanning the data sections
 * for a pointer to the pclntab, and validated against the header (funcnametab pointer, ftab
 * pointer, minpc == text + first entry). It gives `text` (what the runtime adds to entry offsets)
 * and `gofunc` (the base of funcdata offsets, needed for inline trees).
 */
import { GosymdError } from "../bytes/errors.js";
import type { ObjectFile, ObjSymbol, Section } from "../object/types.js";
import { type PclnHeader, parseHeader, sniffHeader } from "./header.js";

const FORMAT = "pclntab";

/** Largest section we scan for the magic or for moduledata. */
const MAX_SCAN_BYTES = 512 * 1024 * 1024;

export interface Moduledata {
  addr: number;
  /** Where it was found: ".go.module" or the section scanned. */
  foundIn: string;
  text: number;
  etext: number;
  minpc: number;
  maxpc: number;
  /** 1.18+: base of funcdata offsets; undefined when not located. */
  gofunc?: number;
  /** End of the pclntab when moduledata records it (pclntable slice end or epclntab). */
  pclntabEnd?: number;
  /** 1.18+: the text sections when the text was split (more than one). */
  textSections?: TextSection[];
  /** Word index of textsectmap (internal to the locator). */
  textsectmapWord?: number;
}

/** One entry of moduledata.textsectmap: entry offsets [vaddr, end) live at base + (off − vaddr). */
export interface TextSection {
  vaddr: number;
  end: number;
  base: number;
}

export interface LocatedPclntab {
  /** The table bytes (a fresh copy when read from a file source; callers own it). */
  bytes: Uint8Array;
  addr: number;
  size: number;
  foundBy: string;
  header: PclnHeader;
  moduledata?: Moduledata;
  /** Text start for 1.18+ tables and how it was found; undefined for older tables. */
  textStart?: number;
  /** 1.18+ split text: how entry offsets map to addresses (from moduledata.textsectmap). */
  textSections?: TextSection[];
  textStartBy?: string;
  /** gofunc candidates, best first (1.18+). */
  gofuncCandidates: number[];
  /**
   * One more candidate, from the container's symbols (go:func.*), when moduledata gave one:
   * asked for only if the candidates above do not read cleanly, since reading a binary's symbols
   * costs more than the rest of locating its table.
   */
  symbolGofunc?: () => number | undefined;
}

function lazySymbols(obj: ObjectFile): () => readonly ObjSymbol[] {
  let syms: readonly ObjSymbol[] | undefined;
  return () => {
    if (syms === undefined) {
      try {
        syms = obj.symbols();
      } catch (e) {
        if (!(e instanceof GosymdError)) throw e;
        syms = [];
      }
    }
    return syms;
  };
}

function findSym(syms: readonly ObjSymbol[], ...names: string[]): ObjSymbol | undefined {
  for (const n of names) {
    for (const s of syms) if ((s.goName ?? s.name) === n) return s;
  }
  return undefined;
}

const SECTION_NAMES = [".gopclntab", ".data.rel.ro.gopclntab", "__gopclntab"];

/** Data sections worth scanning, most likely first. */
function scanSections(obj: ObjectFile, names: string[]): Section[] {
  const out: Section[] = [];
  for (const n of names) {
    for (const s of obj.sections) if (s.name === n && s.fileSize > 0 && !out.includes(s)) out.push(s);
  }
  return out;
}

interface Candidate {
  bytes: Uint8Array;
  addr: number;
  foundBy: string;
  header: PclnHeader;
  /** Size is exact (section/symbols) rather than "rest of the section". */
  exact: boolean;
}

function tryAt(bytes: Uint8Array, addr: number, foundBy: string, exact: boolean): Candidate | undefined {
  if (sniffHeader(bytes, 0) === undefined) return undefined;
  try {
    const header = parseHeader(bytes);
    if (!functabLooksSorted(bytes, header)) return undefined;
    return { bytes, addr, foundBy, header, exact };
  } catch (e) {
    if (e instanceof GosymdError) return undefined;
    throw e;
  }
}

/** The first few functab entries are non-decreasing and the funcoffs are inside the table. */
function functabLooksSorted(b: Uint8Array, h: PclnHeader): boolean {
  if (h.nfunc === 0) return false;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const fs = h.functabFieldSize;
  const rd = (off: number) =>
    fs === 4
      ? dv.getUint32(off, h.littleEndian)
      : dv.getUint32(off + (h.littleEndian ? 0 : 4), h.littleEndian) +
        dv.getUint32(off + (h.littleEndian ? 4 : 0), h.littleEndian) * 0x1_0000_0000;
  let prev = -1;
  const n = Math.min(h.nfunc, 64);
  for (let i = 0; i < n; i++) {
    const e = rd(h.functab + 2 * i * fs);
    const fo = rd(h.functab + (2 * i + 1) * fs);
    if (e < prev) return false;
    if (h.funcdataBase + fo >= b.length) return false;
    prev = e;
  }
  return true;
}

/**
 * Locates the pclntab. Throws `not_go` when there is none, naming what was tried; a table found
 * but damaged throws its decoding error.
 */
export function locatePclntab(obj: ObjectFile): LocatedPclntab {
  const symbols = lazySymbols(obj);
  let cand: Candidate | undefined;
  let firstError: unknown;

  for (const name of SECTION_NAMES) {
    const s = obj.section(name);
    if (s === undefined || s.fileSize < 16) continue;
    const bytes = obj.sectionBytes(s);
    if (sniffHeader(bytes, 0) === undefined) continue;
    try {
      const header = parseHeader(bytes);
      cand = { bytes, addr: s.addr, foundBy: name, header, exact: true };
      break;
    } catch (e) {
      firstError ??= e;
    }
  }

  if (cand === undefined) {
    const start = findSym(symbols(), "runtime.pclntab", "pclntab");
    const end = findSym(symbols(), "runtime.epclntab", "epclntab");
    if (start !== undefined && end !== undefined && end.addr > start.addr) {
      const bytes = obj.readVirtual(start.addr, end.addr - start.addr);
      if (bytes !== undefined) {
        const c = tryAt(bytes, start.addr, "runtime.pclntab symbol", true);
        if (c !== undefined) cand = c;
      }
    }
  }

  if (cand === undefined) cand = magicScan(obj);

  if (cand === undefined) {
    if (firstError !== undefined) throw firstError;
    throw new GosymdError(
      "not_go",
      "no Go pclntab found (no .gopclntab/__gopclntab section, no runtime.pclntab symbol, no valid table in the data sections)",
      { format: FORMAT, hint: "is this a Go program? gosymd needs the Go runtime's function table" },
    );
  }

  const modern = cand.header.version === "1.18" || cand.header.version === "1.20";
  // Moduledata gives the text start and gofunc (1.18+), or the size of a table found by scanning.
  const md = modern || !cand.exact ? findModuledata(obj, cand.addr, cand.header, cand.bytes) : undefined;
  let bytes = cand.bytes;
  if (!cand.exact && md?.pclntabEnd !== undefined && md.pclntabEnd > cand.addr) {
    const size = md.pclntabEnd - cand.addr;
    if (size <= bytes.length) bytes = bytes.subarray(0, size);
  }

  const h = cand.header;
  // 1.2–1.17 tables hold absolute addresses (functab and _func entries, funcdata pointers): in a
  // PIE each is a RELATIVE relocation, which external linkers may not write into the file.
  if (!modern && obj.pie && obj.relativeRelocations !== undefined) {
    bytes = asLoaded(obj, bytes, cand.addr, h.ptrSize, h.littleEndian);
  }
  const out: LocatedPclntab = {
    bytes,
    addr: cand.addr,
    size: bytes.length,
    foundBy: cand.foundBy,
    header: h,
    gofuncCandidates: [],
  };
  if (md !== undefined) out.moduledata = md;

  if (modern) {
    const ts = textStartFor(obj, h, bytes, md, symbols);
    if (ts !== undefined) {
      out.textStart = ts.value;
      out.textStartBy = ts.by;
    }
    if (md?.textSections !== undefined) out.textSections = md.textSections;
    const fromSymbols = () => findSym(symbols(), "go:func.*", "go.func.*")?.addr;
    if (md?.gofunc !== undefined) {
      out.gofuncCandidates.push(md.gofunc);
      const first = md.gofunc;
      out.symbolGofunc = () => {
        const a = fromSymbols();
        return a === first ? undefined : a;
      };
    } else {
      const a = fromSymbols();
      if (a !== undefined) out.gofuncCandidates.push(a);
    }
  }
  return out;
}

/**
 * `bytes` (at `addr`) as the loader leaves them: the words RELATIVE relocations cover hold their
 * addends. The same array when the file already holds every one (internal linking), else a copy.
 */
function asLoaded(obj: ObjectFile, bytes: Uint8Array, addr: number, ps: number, le: boolean): Uint8Array {
  let relocs: Map<number, number>;
  try {
    relocs = obj.relativeRelocations!(addr, addr + bytes.length);
  } catch (e) {
    if (!(e instanceof GosymdError)) throw e;
    return bytes;
  }
  return asLoadedWith(relocs, bytes, addr, ps, le);
}

/** asLoaded with the relocations at hand (those outside [addr, addr + length) are ignored). */
function asLoadedWith(
  relocs: Map<number, number>,
  bytes: Uint8Array,
  addr: number,
  ps: number,
  le: boolean,
): Uint8Array {
  let out: Uint8Array | undefined;
  let dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const [va, v] of relocs) {
    const off = va - addr;
    if (off < 0 || off + ps > bytes.length || wordAt(dv, off, ps, le) === v) continue;
    if (out === undefined) {
      out = bytes.slice();
      dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    }
    if (ps === 8) {
      dv.setUint32(off + (le ? 0 : 4), v >>> 0, le);
      dv.setUint32(off + (le ? 4 : 0), Math.floor(v / 0x1_0000_0000), le);
    } else dv.setUint32(off, v >>> 0, le);
  }
  return out ?? bytes;
}

function magicScan(obj: ObjectFile): Candidate | undefined {
  const names = [
    ".data.rel.ro",
    ".rodata",
    ".rdata",
    "__rodata",
    "__gopclntab",
    "__const",
    ".noptrdata",
    "__noptrdata",
    ".data",
    "__data",
  ];
  const secs = scanSections(obj, names);
  for (const s of obj.sections) {
    if (s.alloc && !s.exec && s.fileSize > 0 && !secs.includes(s)) secs.push(s);
  }
  // Hostile section tables can name the same bytes many times: read at most twice the file.
  let budget = 2 * obj.source.size;
  for (const s of secs) {
    if (s.fileSize > MAX_SCAN_BYTES || s.fileSize > budget) continue;
    budget -= s.fileSize;
    const b = obj.sectionBytes(s);
    // The linker aligns the table to at least 4 bytes (pointer size on 64-bit).
    for (let off = 0; off + 16 <= b.length; off += 4) {
      const m0 = b[off]!;
      if (m0 !== 0xff && m0 !== 0xfb && m0 !== 0xfa && m0 !== 0xf0 && m0 !== 0xf1) continue;
      if (sniffHeader(b, off) === undefined) continue;
      const c = tryAt(
        b.subarray(off),
        s.addr + off,
        `magic scan of ${s.segment ? `${s.segment},` : ""}${s.name}`,
        false,
      );
      if (c !== undefined) return c;
    }
  }
  return undefined;
}

/** Reads a pointer-sized word; undefined past the end or above 2^53. */
function wordAt(dv: DataView, off: number, ptrSize: number, le: boolean): number | undefined {
  if (off < 0 || off + ptrSize > dv.byteLength) return undefined;
  if (ptrSize === 4) return dv.getUint32(off, le);
  const lo = dv.getUint32(off + (le ? 0 : 4), le);
  const hi = dv.getUint32(off + (le ? 4 : 0), le);
  if (hi >= 0x200000) return undefined;
  return hi * 0x1_0000_0000 + lo;
}

/**
 * Finds and validates moduledata: the word at its start is the pclntab address, and the
 * following fields agree with the header.
 */
export function findModuledata(
  obj: ObjectFile,
  addr: number,
  h: PclnHeader,
  table: Uint8Array,
): Moduledata | undefined {
  const names =
    obj.format === "macho"
      ? ["__go_module", "__noptrdata", "__data"]
      : obj.format === "pe"
        ? [".data", ".noptrdata"]
        : [".go.module", ".noptrdata", ".data", ".data.rel.ro"];
  const secs = scanSections(obj, names);
  const ps = h.ptrSize;
  const le = h.littleEndian;
  let budget = 2 * obj.source.size;
  // moduledata starts with a pointer to the table: find that word with the native byte search
  // (this runs once per open, before the optimizing compiler has seen a word-by-word loop).
  if (ps === 4 && addr > 0xffffffff) return undefined;
  const needle = Buffer.alloc(ps);
  if (ps === 4) needle.writeUInt32BE(addr >>> 0);
  else {
    needle.writeUInt32BE(Math.floor(addr / 0x1_0000_0000), 0);
    needle.writeUInt32BE(addr >>> 0, 4);
  }
  if (le) needle.reverse();
  const scan = (s: Section, b: Uint8Array, how: string): Moduledata | undefined => {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const hay = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    for (let off = hay.indexOf(needle); off >= 0; off = hay.indexOf(needle, off + 1)) {
      // Words are pointer-aligned within the section.
      if (off % ps !== 0) continue;
      const md = validateModuledata(dv, off, ps, le, addr, h, table);
      if (md !== undefined) {
        if (md.textsectmapWord !== undefined) {
          const w = (i: number) => wordAt(dv, off + i * ps, ps, le);
          try {
            const ts = readTextSections(obj, w, md.textsectmapWord, ps, le, md.text);
            if (ts !== undefined) md.textSections = ts;
          } catch (e) {
            if (!(e instanceof GosymdError)) throw e;
          }
        }
        md.addr = s.addr + off;
        md.foundIn = `${s.segment ? `${s.segment},${s.name}` : s.name}${how}`;
        return md;
      }
    }
    return undefined;
  };
  const usable: Section[] = [];
  for (const s of secs) {
    if (s.fileSize > MAX_SCAN_BYTES || s.fileSize > budget) continue;
    budget -= s.fileSize;
    usable.push(s);
    const md = scan(s, obj.sectionBytes(s), "");
    if (md !== undefined) return md;
  }
  // Externally linked PIEs: what the file holds in moduledata's pointer words need not be what
  // the loader puts there — the loader writes each RELATIVE relocation's addend (plus the load
  // base), and GNU ld on arm64 leaves zeros or stale values in the file. Read the words as loaded.
  if (obj.relativeRelocations === undefined || usable.length === 0) return undefined;
  let lo = Number.POSITIVE_INFINITY;
  let hi = 0;
  for (const s of usable) {
    lo = Math.min(lo, s.addr);
    hi = Math.max(hi, s.addr + s.fileSize);
  }
  let relocs: Map<number, number>;
  try {
    relocs = obj.relativeRelocations(lo, hi);
  } catch (e) {
    if (!(e instanceof GosymdError)) throw e;
    return undefined;
  }
  if (relocs.size === 0) return undefined;
  for (const s of usable) {
    const b = obj.sectionBytes(s);
    const loaded = asLoadedWith(relocs, b, s.addr, ps, le);
    if (loaded === b) continue;
    const md = scan(s, loaded, " with its relocations applied");
    if (md !== undefined) return md;
  }
  return undefined;
}

function validateModuledata(
  dv: DataView,
  off: number,
  ps: number,
  le: boolean,
  addr: number,
  h: PclnHeader,
  table: Uint8Array,
): Moduledata | undefined {
  const w = (i: number) => wordAt(dv, off + i * ps, ps, le);
  const legacy = h.version === "1.2";
  // Word indices of the fields (same in 32- and 64-bit: every field is a word or a 3-word slice).
  const iFtab = legacy ? 3 : 16;
  const iMinpc = legacy ? 10 : 20;
  if (!legacy) {
    if (w(1) !== addr + h.funcnametab) return undefined;
    if (w(4) !== addr + h.cutab || w(7) !== addr + h.filetab || w(10) !== addr + h.pctab) return undefined;
  }
  if (w(iFtab) !== addr + h.functab) return undefined;
  if (w(iFtab + 1) !== h.nfunc + 1) return undefined;
  const minpc = w(iMinpc);
  const maxpc = w(iMinpc + 1);
  const text = w(iMinpc + 2);
  const etext = w(iMinpc + 3);
  if (minpc === undefined || maxpc === undefined || text === undefined || etext === undefined)
    return undefined;
  if (!(text <= minpc && minpc <= maxpc && maxpc <= etext + 64)) return undefined;
  const md: Moduledata = { addr: 0, foundIn: "", text, etext, minpc, maxpc };
  // Table end: 1.2–1.15 pclntable slice {ptr=addr, len}; 1.16+ pclntable = [pclnOffset, end).
  if (legacy) {
    const len = w(1);
    if (len !== undefined && len >= 16) md.pclntabEnd = addr + len;
  } else {
    const p = w(13);
    const len = w(14);
    if (p === addr + h.funcdataBase && len !== undefined) md.pclntabEnd = p + len;
  }
  if (h.version === "1.18" || h.version === "1.20") {
    // minpc == text + ftab[0].entryoff.
    const tdv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    if (h.functab + 4 <= table.length && minpc !== text + tdv.getUint32(h.functab, h.littleEndian))
      return undefined;
    const g = gofuncFrom(w, h, addr, table.length, md);
    if (g.gofunc !== undefined) md.gofunc = g.gofunc;
    md.textsectmapWord = g.next;
  }
  return md;
}

/**
 * gofunc: Go 1.26+ records epclntab right after gofunc (find the word equal to the table end);
 * 1.18–1.19 keep gofunc at word 38, 1.20–1.25 at word 40.
 */
/**
 * gofunc and the word index of the field after the last one it knows (textsectmap follows):
 * Go 1.26+ records epclntab (the end of the table) right after gofunc, which lies inside the
 * table; 1.18–1.19 keep gofunc at word 38, 1.20–1.25 at word 40.
 */
function gofuncFrom(
  w: (i: number) => number | undefined,
  h: PclnHeader,
  addr: number,
  tableLen: number,
  md: Moduledata,
): { gofunc: number | undefined; next: number } {
  const ends = [addr + tableLen];
  if (md.pclntabEnd !== undefined && md.pclntabEnd !== addr + tableLen) ends.push(md.pclntabEnd);
  for (const end of ends) {
    for (let i = 24; i < 64; i++) {
      if (w(i) !== end) continue;
      const g = w(i - 1);
      if (g !== undefined && g > addr && g < end) {
        md.pclntabEnd = end;
        return { gofunc: g, next: i + 1 };
      }
    }
  }
  const gi = h.version === "1.18" ? 38 : 40;
  const g = w(gi);
  return { gofunc: g === undefined || g === 0 ? undefined : g, next: gi + 1 };
}

/**
 * moduledata.textsectmap ([]textsect{vaddr, end, baseaddr}): present with more than one entry
 * when the linker split the text into several sections (very large ppc64 / darwin-arm64 builds);
 * entry offsets then map to addresses section by section. Undefined when absent, trivial or
 * implausible.
 */
function readTextSections(
  obj: ObjectFile,
  w: (i: number) => number | undefined,
  word: number,
  ps: number,
  le: boolean,
  text: number,
): TextSection[] | undefined {
  const ptr = w(word);
  const len = w(word + 1);
  if (ptr === undefined || len === undefined || len < 2 || len > 256 || ptr === 0) return undefined;
  const raw = obj.readVirtual(ptr, len * 3 * ps);
  if (raw === undefined) return undefined;
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: TextSection[] = [];
  for (let k = 0; k < len; k++) {
    const vaddr = wordAt(dv, 3 * k * ps, ps, le);
    const end = wordAt(dv, (3 * k + 1) * ps, ps, le);
    const base = wordAt(dv, (3 * k + 2) * ps, ps, le);
    if (vaddr === undefined || end === undefined || base === undefined || end < vaddr) return undefined;
    const prev = out[out.length - 1];
    if (prev !== undefined && (vaddr < prev.end || base < prev.base + (prev.end - prev.vaddr)))
      return undefined;
    out.push({ vaddr, end, base });
  }
  if (out[0]!.vaddr !== 0 || out[0]!.base !== text) return undefined;
  return out;
}

function textStartFor(
  obj: ObjectFile,
  h: PclnHeader,
  table: Uint8Array,
  md: Moduledata | undefined,
  symbols: () => readonly ObjSymbol[],
): { value: number; by: string } | undefined {
  if (md !== undefined) return { value: md.text, by: `moduledata.text (${md.foundIn})` };
  const sym = findSym(symbols(), "runtime.text");
  if (sym !== undefined) return { value: sym.addr, by: "runtime.text symbol" };
  if (h.textStartField !== 0) return { value: h.textStartField, by: "pclntab header" };
  // Last resort: the start of the text section.
  const text = obj.section(".text") ?? obj.section("__text");
  if (text !== undefined) return { value: text.addr, by: `${text.name} section start` };
  void table;
  return undefined;
}
