/**
 * ELF reader (32/64-bit, little and big endian): executables, PIEs, shared objects and core files.
 *
 * Reads only headers at open (ELF header, program headers, section headers, .shstrtab, and the
 * PT_DYNAMIC table for the PIE flag); symbols and notes are read on first use. Everything goes
 * through the ByteSource with explicit bounds checks; counts are capped by Limits and by the bytes
 * that remain in the file.
 *
 * Symbols: `.symtab` then `.dynsym`, keeping defined symbols only (section index != SHN_UNDEF) and
 * dropping the null symbol, STT_SECTION and STT_FILE entries and symbols whose value does not fit a
 * JS number exactly. Both tables are kept (a name can appear twice, once per `source`).
 *
 * Notes: from SHT_NOTE sections when the file has any with bytes, else from PT_NOTE segments (core
 * files, section-stripped files). Alignment is 8 when the section/segment says so, else 4. A note
 * region that ends in a malformed entry keeps the notes before it (what readelf does too).
 */
import { Cursor, decodeUtf8 } from "../bytes/cursor.js";
import { corrupt, GosymdError } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import type { ByteSource } from "../bytes/source.js";
import {
  BaseObject,
  checkCount,
  checkTable,
  type ObjectFields,
  readAt,
  sortSymbols,
  stringTable,
} from "./common.js";
import type { Arch, Note, ObjSymbol, Os, Section, Segment } from "./types.js";

const F = "elf";

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;

// e_type
const ET_EXEC = 2;
const ET_DYN = 3;
const ET_CORE = 4;
// e_machine
const EM_386 = 3;
const EM_MIPS = 8;
const EM_MIPS_RS3_LE = 10;
const EM_PPC64 = 21;
const EM_S390 = 22;
const EM_ARM = 40;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const EM_LOONGARCH = 258;
// OS ABI
const ELFOSABI_NETBSD = 2;
const ELFOSABI_FREEBSD = 9;
const ELFOSABI_OPENBSD = 12;
// section types / flags
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_NOTE = 7;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_WRITE = 1;
const SHF_ALLOC = 2;
const SHF_EXECINSTR = 4;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const PN_XNUM = 0xffff;
// program header types / flags
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_NOTE = 4;
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;
// dynamic tags
const DT_NULL = 0;
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_PIE = 0x08000000;
// symbol types
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_SECTION = 3;
const STT_FILE = 4;

/** Largest note region (one section or segment) we read; core files carry a few MB of notes. */
const MAX_NOTE_REGION = 256 * 1024 * 1024;
/** Largest PT_DYNAMIC we scan for DT_FLAGS_1. */
const MAX_DYNAMIC = 1024 * 1024;
/** Largest .shstrtab we read. */
const MAX_SHSTRTAB = 16 * 1024 * 1024;

/** A 64-bit field as a JS number, or -1 when it is not exact (>= 2^53). */
function u64OrNeg(c: Cursor, off: number, field: string): number {
  const v = c.u64bigAt(off, field);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

interface RawSection extends Section {
  readonly type: number;
  readonly link: number;
  readonly entSize: number;
  readonly align: number;
}

interface RawProg {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  fileSize: number;
  memSize: number;
  align: number;
}

export class ElfFile extends BaseObject {
  /** ELF class: 1 (32-bit) or 2 (64-bit). */
  readonly elfClass: 1 | 2;
  readonly machine: number;
  readonly osabi: number;
  readonly elfType: number;
  /** Program headers as read (all types), for readers that need more than PT_LOAD (core files). */
  readonly programs: readonly Readonly<RawProg>[];
  private readonly raw: readonly RawSection[];

  constructor(source: ByteSource, opts: ElfHeaderFields) {
    super(source, opts.fields);
    this.elfClass = opts.elfClass;
    this.machine = opts.machine;
    this.osabi = opts.osabi;
    this.elfType = opts.elfType;
    this.programs = opts.programs;
    this.raw = opts.raw;
  }

  protected override loadSymbols(): ObjSymbol[] {
    const out: ObjSymbol[] = [];
    for (const want of [SHT_SYMTAB, SHT_DYNSYM]) {
      for (const s of this.raw) {
        if (s.type === want) this.readSymtab(s, out);
      }
    }
    return sortSymbols(out);
  }

  private readSymtab(s: RawSection, out: ObjSymbol[]): void {
    const is64 = this.elfClass === 2;
    const entSize = is64 ? 24 : 16;
    if (s.fileSize === 0) return;
    if (s.entSize !== 0 && s.entSize < entSize) {
      throw corrupt(
        F,
        `section ${s.name} sh_entsize`,
        s.offset,
        `symbol entry size ${s.entSize} is too small`,
      );
    }
    const step = s.entSize === 0 ? entSize : s.entSize;
    const count = Math.floor(s.fileSize / step);
    checkCount(count, Limits.maxSymbols, F, `${s.name} symbols`, s.offset);
    if (out.length + count > Limits.maxSymbols)
      checkCount(out.length + count, Limits.maxSymbols, F, "symbols");
    const strSec = this.raw[s.link];
    if (strSec === undefined || strSec.type === SHT_NOBITS) {
      throw corrupt(
        F,
        `section ${s.name} sh_link`,
        s.offset,
        `string table index ${s.link} is not a section`,
      );
    }
    const symBytes = readAt(this.source, s.offset, count * step, F, `section ${s.name} data`);
    const strtab = readAt(this.source, strSec.offset, strSec.fileSize, F, `section ${strSec.name} data`);
    // Hot loop: plain DataView reads (the table was bounds-checked as a whole by readAt).
    const dv = new DataView(symBytes.buffer, symBytes.byteOffset, symBytes.byteLength);
    const le = this.littleEndian;
    const strs = stringTable(strtab);
    const source = s.type === SHT_SYMTAB ? "symtab" : "dynsym";
    for (let i = 1; i < count; i++) {
      const o = i * step;
      let value: number;
      let size: number;
      let info: number;
      let shndx: number;
      const nameOff = dv.getUint32(o, le);
      if (is64) {
        info = dv.getUint8(o + 4);
        shndx = dv.getUint16(o + 6, le);
        value = u64At(dv, o + 8, le);
        size = u64At(dv, o + 16, le);
      } else {
        value = dv.getUint32(o + 4, le);
        size = dv.getUint32(o + 8, le);
        info = dv.getUint8(o + 12);
        shndx = dv.getUint16(o + 14, le);
      }
      const stt = info & 0xf;
      if (shndx === SHN_UNDEF || stt === STT_SECTION || stt === STT_FILE || value < 0) continue;
      const name = strs(nameOff);
      if (name === undefined) continue;
      out.push({
        name,
        addr: value,
        size: Math.max(size, 0),
        kind: stt === STT_FUNC ? "func" : stt === STT_OBJECT ? "object" : "other",
        source,
      });
    }
  }

  relativeRelocations(lo: number, hi: number): Map<number, number> {
    const out = new Map<number, number>();
    const type = RELATIVE_TYPE[this.machine];
    if (type === undefined) return out;
    const is64 = this.elfClass === 2;
    const ent = is64 ? 24 : 12;
    const le = this.littleEndian;
    for (const s of this.raw) {
      if (s.type !== SHT_RELA || s.fileSize === 0) continue;
      const step = Math.max(s.entSize, ent);
      const count = Math.floor(s.fileSize / step);
      checkCount(count, Limits.maxSymbols, F, `${s.name} relocations`, s.offset);
      const b = readAt(this.source, s.offset, count * step, F, `section ${s.name} data`);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      for (let i = 0; i < count; i++) {
        const o = i * step;
        let off: number;
        let t: number;
        let addend: number;
        if (is64) {
          off = u64At(dv, o, le);
          t = dv.getUint32(o + (le ? 8 : 12), le);
          addend = u64At(dv, o + 16, le);
        } else {
          off = dv.getUint32(o, le);
          t = dv.getUint32(o + 4, le) & 0xff;
          addend = dv.getInt32(o + 8, le) >>> 0;
        }
        if (t === type && off >= lo && off < hi && addend >= 0) out.set(off, addend);
      }
    }
    return out;
  }

  protected override loadNotes(): Note[] {
    const out: Note[] = [];
    const noteSections = this.raw.filter((s) => s.type === SHT_NOTE && s.fileSize > 0);
    if (noteSections.length > 0) {
      for (const s of noteSections) {
        this.readNotes(s.offset, s.fileSize, s.align === 8 ? 8 : 4, `section ${s.name}`, out);
      }
    } else {
      for (const p of this.programs) {
        if (p.type === PT_NOTE && p.fileSize > 0) {
          this.readNotes(p.offset, p.fileSize, p.align === 8 ? 8 : 4, "PT_NOTE segment", out);
        }
      }
    }
    return out;
  }

  private readNotes(offset: number, size: number, align: 4 | 8, where: string, out: Note[]): void {
    if (size > MAX_NOTE_REGION) {
      throw new GosymdError("limit_exceeded", `note region of ${size} bytes is too large`, {
        format: F,
        field: where,
        offset,
      });
    }
    const b = readAt(this.source, offset, size, F, `${where} data`);
    const c = new Cursor(b, this.littleEndian, F, offset);
    // Name and desc each start at the next `align` boundary of the region (which starts aligned):
    // with 4-byte alignment that is the classic 4-byte padding; with 8 (.note.gnu.property) the
    // desc of a "GNU\0" note starts at 16, not 20.
    const up = (n: number) => Math.ceil(n / align) * align;
    let pos = 0;
    while (pos + 12 <= b.length) {
      const namesz = c.u32At(pos);
      const descsz = c.u32At(pos + 4);
      const type = c.u32At(pos + 8);
      const nameStart = pos + 12;
      if (namesz > b.length - nameStart) break;
      const descStart = up(nameStart + namesz);
      if (descStart > b.length || descsz > b.length - descStart) break;
      let nameEnd = nameStart;
      while (nameEnd < nameStart + namesz && b[nameEnd] !== 0) nameEnd++;
      const name = decodeUtf8(b, nameStart, nameEnd);
      out.push({ name, type, desc: b.slice(descStart, descStart + descsz) });
      if (out.length > Limits.maxNotes) checkCount(out.length, Limits.maxNotes, F, "notes", offset + pos);
      pos = up(descStart + descsz);
    }
  }
}

interface ElfHeaderFields {
  programs: RawProg[];
  raw: RawSection[];
  elfClass: 1 | 2;
  machine: number;
  osabi: number;
  elfType: number;
  fields: ObjectFields;
}

function archOf(machine: number, is64: boolean, le: boolean): Arch {
  switch (machine) {
    case EM_X86_64:
      return is64 ? "amd64" : "unknown"; // x32 is not a Go target
    case EM_AARCH64:
      return "arm64";
    case EM_386:
      return "386";
    case EM_ARM:
      return "arm";
    case EM_PPC64:
      return le ? "ppc64le" : "ppc64";
    case EM_S390:
      return is64 ? "s390x" : "unknown";
    case EM_RISCV:
      return is64 ? "riscv64" : "unknown";
    case EM_LOONGARCH:
      return is64 ? "loong64" : "unknown";
    case EM_MIPS:
    case EM_MIPS_RS3_LE:
      if (is64) return le ? "mips64le" : "mips64";
      return le ? "mipsle" : "mips";
    default:
      return "unknown";
  }
}

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

/** Parses an ELF file's headers. Throws GosymdError (truncated / corrupt / unsupported / limit_exceeded). */
export function openElf(source: ByteSource): ElfFile {
  const ident = readAt(source, 0, 16, F, "e_ident");
  if (!isElf(ident)) throw new GosymdError("not_executable", "not an ELF file", { format: F, offset: 0 });
  const cls = ident[4];
  const data = ident[5];
  if (cls !== 1 && cls !== 2) throw corrupt(F, "EI_CLASS", 4, `unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw corrupt(F, "EI_DATA", 5, `unknown ELF data encoding ${data}`);
  const is64 = cls === 2;
  const le = data === 1;
  const osabi = ident[7]!;
  const ehsize = is64 ? 64 : 52;
  const h = new Cursor(readAt(source, 0, ehsize, F, "ELF header"), le, F);
  const elfType = h.u16At(16, "e_type");
  const machine = h.u16At(18, "e_machine");
  let entry: number;
  let phoff: number;
  let shoff: number;
  let o: number;
  if (is64) {
    entry = h.u64At(24, "e_entry");
    phoff = h.u64At(32, "e_phoff");
    shoff = h.u64At(40, "e_shoff");
    o = 48;
  } else {
    entry = h.u32At(24, "e_entry");
    phoff = h.u32At(28, "e_phoff");
    shoff = h.u32At(32, "e_shoff");
    o = 36;
  }
  // e_flags at o, e_ehsize at o+4
  const phentsize = h.u16At(o + 6, "e_phentsize");
  let phnum = h.u16At(o + 8, "e_phnum");
  const shentsize = h.u16At(o + 10, "e_shentsize");
  let shnum = h.u16At(o + 12, "e_shnum");
  let shstrndx = h.u16At(o + 14, "e_shstrndx");

  const shdrSize = is64 ? 64 : 40;
  const phdrSize = is64 ? 56 : 32;

  // Extended numbering: the real counts live in section header 0.
  if (shoff !== 0 && (shnum === 0 || shstrndx === SHN_XINDEX || phnum === PN_XNUM)) {
    if (shentsize < shdrSize)
      throw corrupt(F, "e_shentsize", o + 10, `section header size ${shentsize} is too small`);
    const s0 = new Cursor(readAt(source, shoff, shdrSize, F, "section header 0"), le, F, shoff);
    if (shnum === 0) {
      const n = is64 ? s0.u64At(32, "section header 0 sh_size") : s0.u32At(20, "section header 0 sh_size");
      checkCount(n, Limits.maxSections, F, "sections (extended e_shnum)", shoff);
      shnum = n;
    }
    if (shstrndx === SHN_XINDEX) shstrndx = s0.u32At(is64 ? 40 : 24, "section header 0 sh_link");
    if (phnum === PN_XNUM) {
      const n = s0.u32At(is64 ? 44 : 28, "section header 0 sh_info");
      checkCount(n, Limits.maxSections, F, "program headers (extended e_phnum)", shoff);
      phnum = n;
    }
  } else if (shoff === 0) {
    shnum = 0;
  }

  // Program headers.
  const programs: RawProg[] = [];
  if (phoff !== 0 && phnum > 0) {
    if (phentsize < phdrSize)
      throw corrupt(F, "e_phentsize", o + 6, `program header size ${phentsize} is too small`);
    checkCount(phnum, Limits.maxSections, F, "program headers", phoff);
    checkTable(source, phoff, phnum, phentsize, F, "program headers");
    const pc = new Cursor(readAt(source, phoff, phnum * phentsize, F, "program headers"), le, F, phoff);
    for (let i = 0; i < phnum; i++) {
      const b = i * phentsize;
      const f = `program header ${i}`;
      if (is64) {
        programs.push({
          type: pc.u32At(b, f),
          flags: pc.u32At(b + 4, f),
          offset: u64OrNeg(pc, b + 8, f),
          vaddr: u64OrNeg(pc, b + 16, f),
          fileSize: u64OrNeg(pc, b + 32, f),
          memSize: u64OrNeg(pc, b + 40, f),
          align: u64OrNeg(pc, b + 48, f),
        });
      } else {
        programs.push({
          type: pc.u32At(b, f),
          offset: pc.u32At(b + 4, f),
          vaddr: pc.u32At(b + 8, f),
          fileSize: pc.u32At(b + 16, f),
          memSize: pc.u32At(b + 20, f),
          flags: pc.u32At(b + 24, f),
          align: pc.u32At(b + 28, f),
        });
      }
    }
  }
  const segments: Segment[] = [];
  for (const p of programs) {
    // Segments whose numbers do not fit a JS number (the vsyscall page in core files) are skipped.
    if (p.type !== PT_LOAD || p.offset < 0 || p.vaddr < 0 || p.fileSize < 0 || p.memSize < 0) continue;
    if (!Number.isSafeInteger(p.vaddr + p.memSize) || !Number.isSafeInteger(p.offset + p.fileSize)) continue;
    segments.push({
      vaddr: p.vaddr,
      memSize: p.memSize,
      offset: p.offset,
      fileSize: p.fileSize,
      read: (p.flags & PF_R) !== 0,
      write: (p.flags & PF_W) !== 0,
      exec: (p.flags & PF_X) !== 0,
    });
  }

  // Section headers.
  const raw: RawSection[] = [];
  if (shnum > 0) {
    if (shentsize < shdrSize)
      throw corrupt(F, "e_shentsize", o + 10, `section header size ${shentsize} is too small`);
    checkCount(shnum, Limits.maxSections, F, "sections", shoff);
    checkTable(source, shoff, shnum, shentsize, F, "section headers");
    const sc = new Cursor(readAt(source, shoff, shnum * shentsize, F, "section headers"), le, F, shoff);
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const b = i * shentsize;
      const f = `section header ${i}`;
      let flags: number;
      let addr: number;
      let offset: number;
      let size: number;
      let link: number;
      let align: number;
      let entSize: number;
      const type = sc.u32At(b + 4, f);
      if (is64) {
        flags = u64OrNeg(sc, b + 8, f);
        addr = u64OrNeg(sc, b + 16, f);
        offset = u64OrNeg(sc, b + 24, f);
        size = u64OrNeg(sc, b + 32, f);
        link = sc.u32At(b + 40, f);
        align = u64OrNeg(sc, b + 48, f);
        entSize = u64OrNeg(sc, b + 56, f);
      } else {
        flags = sc.u32At(b + 8, f);
        addr = sc.u32At(b + 12, f);
        offset = sc.u32At(b + 16, f);
        size = sc.u32At(b + 20, f);
        link = sc.u32At(b + 24, f);
        align = sc.u32At(b + 32, f);
        entSize = sc.u32At(b + 36, f);
      }
      if (flags < 0) flags = 0;
      if (addr < 0 || offset < 0 || size < 0 || entSize < 0 || !Number.isSafeInteger(addr + size)) {
        throw new GosymdError("unsupported", `section ${i} has an address, offset or size above 2^53`, {
          format: F,
          field: f,
          offset: shoff + b,
        });
      }
      nameOffs.push(sc.u32At(b, f));
      raw.push({
        index: i,
        name: "",
        addr,
        size,
        offset,
        fileSize: type === SHT_NOBITS || i === 0 ? 0 : size,
        alloc: (flags & SHF_ALLOC) !== 0,
        write: (flags & SHF_WRITE) !== 0,
        exec: (flags & SHF_EXECINSTR) !== 0,
        type,
        link,
        entSize,
        align: Math.max(align, 0),
      });
    }
    // Names from .shstrtab; an out-of-range index leaves names empty rather than failing.
    const strSec = shstrndx < raw.length && shstrndx !== 0 ? raw[shstrndx] : undefined;
    if (strSec !== undefined && strSec.fileSize > 0) {
      if (strSec.fileSize > MAX_SHSTRTAB) {
        throw new GosymdError(
          "limit_exceeded",
          `section name table of ${strSec.fileSize} bytes is too large`,
          {
            format: F,
            field: "shstrtab",
            offset: strSec.offset,
          },
        );
      }
      const names = readAt(source, strSec.offset, strSec.fileSize, F, "section name table (shstrtab)");
      for (let i = 0; i < raw.length; i++) {
        const off = nameOffs[i]!;
        if (off >= names.length) continue;
        let end = names.indexOf(0, off);
        if (end < 0) end = names.length;
        (raw[i] as { name: string }).name = decodeUtf8(names, off, Math.min(end, off + 4096));
      }
    }
  }

  // PIE: ET_DYN with an interpreter, or DF_1_PIE in the dynamic table.
  let pie = false;
  if (elfType === ET_DYN) {
    if (programs.some((p) => p.type === PT_INTERP)) pie = true;
    else pie = hasDf1Pie(source, programs, is64, le);
  }

  let os: Os = "linux";
  if (isAndroidInterp(source, programs)) os = "android";
  else if (osabi === ELFOSABI_FREEBSD) os = "freebsd";
  else if (osabi === ELFOSABI_NETBSD || raw.some((s) => s.name === ".note.netbsd.ident")) os = "netbsd";
  else if (osabi === ELFOSABI_OPENBSD || raw.some((s) => s.name === ".note.openbsd.ident")) os = "openbsd";

  const type =
    elfType === ET_EXEC ? "exec" : elfType === ET_DYN ? "dyn" : elfType === ET_CORE ? "core" : "other";

  return new ElfFile(source, {
    elfClass: cls,
    machine,
    osabi,
    elfType,
    programs,
    raw,
    fields: {
      format: "elf",
      arch: archOf(machine, is64, le),
      os,
      littleEndian: le,
      ptrSize: is64 ? 8 : 4,
      type,
      pie,
      entry,
      imageBase: 0,
      sections: raw,
      segments,
    },
  });
}

/** The R_*_RELATIVE relocation type by ELF machine. */
const RELATIVE_TYPE: Record<number, number> = {
  [EM_X86_64]: 8,
  [EM_AARCH64]: 1027,
  [EM_386]: 8,
  [EM_ARM]: 23,
  [EM_PPC64]: 22,
  [EM_S390]: 12,
  [EM_RISCV]: 3,
  [EM_LOONGARCH]: 3,
};

/** A 64-bit word as a number, −1 when it is 2^53 or more. */
function u64At(dv: DataView, o: number, le: boolean): number {
  const lo = dv.getUint32(le ? o : o + 4, le);
  const hi = dv.getUint32(le ? o + 4 : o, le);
  return hi >= 0x200000 ? -1 : hi * 0x1_0000_0000 + lo;
}

/** Whether the program interpreter is Android's dynamic linker (/system/bin/linker, linker64). */
function isAndroidInterp(source: ByteSource, programs: RawProg[]): boolean {
  const interp = programs.find((p) => p.type === PT_INTERP);
  if (interp === undefined || interp.offset < 0 || interp.fileSize <= 0) return false;
  const len = Math.min(interp.fileSize, 64, Math.max(0, source.size - interp.offset));
  if (len < 18) return false;
  const b = readAt(source, interp.offset, len, F, "PT_INTERP");
  const nul = b.indexOf(0);
  const path = decodeUtf8(b, 0, nul < 0 ? b.length : nul);
  return path === "/system/bin/linker" || path === "/system/bin/linker64";
}

function hasDf1Pie(source: ByteSource, programs: RawProg[], is64: boolean, le: boolean): boolean {
  const dyn = programs.find((p) => p.type === PT_DYNAMIC);
  if (dyn === undefined || dyn.offset < 0 || dyn.fileSize <= 0) return false;
  const len = Math.min(dyn.fileSize, MAX_DYNAMIC, Math.max(0, source.size - dyn.offset));
  if (len <= 0) return false;
  const c = new Cursor(readAt(source, dyn.offset, len, F, "PT_DYNAMIC"), le, F, dyn.offset);
  const ent = is64 ? 16 : 8;
  for (let p = 0; p + ent <= len; p += ent) {
    const tag = is64 ? Number(c.u64bigAt(p) & 0xffffffffn) : c.u32At(p);
    const hiZero = is64 ? c.u32At(p + (le ? 4 : 0)) === 0 : true;
    if (hiZero && tag === DT_NULL) break;
    if (hiZero && tag === DT_FLAGS_1) {
      const v = is64 ? Number(c.u64bigAt(p + 8) & 0xffffffffn) : c.u32At(p + 4);
      return (v & DF_1_PIE) !== 0;
    }
  }
  return false;
}
