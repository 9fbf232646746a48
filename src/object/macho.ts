/**
 * Mach-O reader: thin files (32/64-bit, both byte orders) and fat/universal files (one slice is
 * picked, see `openMacho`).
 *
 * For a fat file, `source` is still the whole file and every `offset` in sections and segments is
 * an absolute file offset (slice offset + the offset inside the slice), so `sectionBytes`,
 * `readVirtual` and the SHA-256 of `source` all mean the file as uploaded.
 *
 * Symbols come from LC_SYMTAB: defined (N_SECT), non-stab entries. Go's darwin linker writes every
 * symbol with a leading underscore (`_runtime.main`, `_main.main`, `__rt0_amd64_darwin`; seen in the
 * esbuild darwin fixtures with llvm-nm). `name` keeps the raw name; `goName` is set by Go's
 * debug/macho rule (what `go tool nm` prints): one leading underscore is dropped from names that
 * contain a dot, so `_runtime.main` → `runtime.main` while `__rt0_amd64_darwin` stays as is. Mach-O
 * has no symbol sizes: `size` is 0. `kind` is "func" when the symbol's section holds instructions,
 * else "object".
 */
import { Cursor } from "../bytes/cursor.js";
import { corrupt, GosymdError } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import type { ByteSource } from "../bytes/source.js";
import {
  BaseObject,
  checkCount,
  checkTable,
  fixedName,
  hex,
  type ObjectFields,
  readAt,
  SliceSource,
  sortSymbols,
  stringTable,
} from "./common.js";
import type { Arch, ObjSymbol, Section, Segment } from "./types.js";

const F = "macho";

const MH_MAGIC = 0xfeedface;
const MH_MAGIC_64 = 0xfeedfacf;
const MH_CIGAM = 0xcefaedfe;
const MH_CIGAM_64 = 0xcffaedfe;
const FAT_MAGIC = 0xcafebabe;
const FAT_MAGIC_64 = 0xcafebabf;

const CPU_ARCH_ABI64 = 0x01000000;
const CPU_TYPE_X86 = 7;
const CPU_TYPE_ARM = 12;
const CPU_TYPE_POWERPC = 18;

const MH_EXECUTE = 2;
const MH_CORE = 4;
const MH_DYLIB = 6;
const MH_BUNDLE = 8;
const MH_PIE = 0x200000;

const LC_SEGMENT = 0x1;
const LC_SYMTAB = 0x2;
const LC_UNIXTHREAD = 0x5;
const LC_SEGMENT_64 = 0x19;
const LC_UUID = 0x1b;
const LC_MAIN = 0x80000028;

const VM_PROT_READ = 1;
const VM_PROT_WRITE = 2;
const VM_PROT_EXECUTE = 4;

const SECTION_TYPE = 0xff;
const S_ZEROFILL = 0x1;
const S_GB_ZEROFILL = 0xc;
const S_THREAD_LOCAL_ZEROFILL = 0x12;
const S_ATTR_PURE_INSTRUCTIONS = 0x80000000;
const S_ATTR_SOME_INSTRUCTIONS = 0x400;

const N_STAB = 0xe0;
const N_TYPE = 0x0e;
const N_SECT = 0x0e;

/** Load commands larger than this are refused (Go binaries have a few KB of them). */
const MAX_SIZEOFCMDS = 64 * 1024 * 1024;
/**
 * Java class files share the fat magic 0xcafebabe; their next word is the class file version
 * (major >= 45), so a fat header claims fewer arches than that (what file(1) checks too).
 */
const MAX_FAT_ARCHES = Math.min(Limits.maxFatArches, 44);

function be32(h: Uint8Array): number {
  return ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
}

export function isMachoMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const m = be32(head);
  return m === MH_MAGIC || m === MH_MAGIC_64 || m === MH_CIGAM || m === MH_CIGAM_64;
}

export function isFatMagic(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const m = be32(head);
  return m === FAT_MAGIC || m === FAT_MAGIC_64;
}

export function cpuArch(cputype: number): Arch {
  switch (cputype >>> 0) {
    case CPU_TYPE_X86 | CPU_ARCH_ABI64:
      return "amd64";
    case CPU_TYPE_ARM | CPU_ARCH_ABI64:
      return "arm64";
    case CPU_TYPE_X86:
      return "386";
    case CPU_TYPE_ARM:
      return "arm";
    case CPU_TYPE_POWERPC | CPU_ARCH_ABI64:
      return "ppc64";
    default:
      return "unknown";
  }
}

export interface FatSlice {
  arch: Arch;
  cputype: number;
  cpusubtype: number;
  /** File offset and size of the thin Mach-O inside the fat file. */
  offset: number;
  size: number;
}

/** The slices of a fat/universal file; throws GosymdError when the header is not a valid fat header. */
export function listFatSlices(source: ByteSource): FatSlice[] {
  const h = new Cursor(readAt(source, 0, 8, F, "fat header"), false, F);
  const magic = h.u32At(0);
  if (magic !== FAT_MAGIC && magic !== FAT_MAGIC_64) {
    throw new GosymdError("not_executable", "not a fat Mach-O file", { format: F, offset: 0 });
  }
  const n = h.u32At(4, "nfat_arch");
  if (n === 0) throw corrupt(F, "nfat_arch", 4, "fat file with no architectures");
  checkCount(n, MAX_FAT_ARCHES, F, "fat architectures", 4);
  const ent = magic === FAT_MAGIC_64 ? 32 : 20;
  checkTable(source, 8, n, ent, F, "fat_arch table");
  const c = new Cursor(readAt(source, 8, n * ent, F, "fat_arch table"), false, F, 8);
  const out: FatSlice[] = [];
  for (let i = 0; i < n; i++) {
    const b = i * ent;
    const f = `fat_arch ${i}`;
    const cputype = c.u32At(b, f);
    const cpusubtype = c.u32At(b + 4, f);
    const offset = ent === 32 ? c.u64At(b + 8, f) : c.u32At(b + 8, f);
    const size = ent === 32 ? c.u64At(b + 16, f) : c.u32At(b + 12, f);
    if (offset + size > source.size) {
      throw new GosymdError("truncated", `fat slice ${i} ends past the end of the file`, {
        format: F,
        field: f,
        offset: 8 + b,
        hint: "the file looks cut short; re-copy or re-upload the complete file",
      });
    }
    out.push({ arch: cpuArch(cputype), cputype, cpusubtype, offset, size });
  }
  return out;
}

/** True when a 0xcafebabe file has a plausible fat header (not a Java class file). */
export function looksLikeFat(source: ByteSource): boolean {
  if (source.size < 8) return false;
  const h = source.read(0, 8, "fat header");
  if (!isFatMagic(h)) return false;
  const n = be32(h.subarray(4));
  return n > 0 && n <= MAX_FAT_ARCHES;
}

export class MachoFile extends BaseObject {
  /** Offset of this thin image in the file (non-zero for a slice of a fat file). */
  readonly sliceOffset: number;
  readonly cputype: number;
  readonly filetype: number;
  readonly flags: number;
  private readonly symtab: { symoff: number; nsyms: number; stroff: number; strsize: number } | undefined;
  private readonly thin: ByteSource;

  constructor(
    source: ByteSource,
    fields: ObjectFields,
    extra: {
      thin: ByteSource;
      sliceOffset: number;
      cputype: number;
      filetype: number;
      flags: number;
      symtab: { symoff: number; nsyms: number; stroff: number; strsize: number } | undefined;
    },
  ) {
    super(source, fields);
    this.thin = extra.thin;
    this.sliceOffset = extra.sliceOffset;
    this.cputype = extra.cputype;
    this.filetype = extra.filetype;
    this.flags = extra.flags;
    this.symtab = extra.symtab;
  }

  protected override loadSymbols(): ObjSymbol[] {
    const st = this.symtab;
    if (st === undefined || st.nsyms === 0) return [];
    const ent = this.ptrSize === 8 ? 16 : 12;
    checkCount(st.nsyms, Limits.maxSymbols, F, "symbols", st.symoff);
    checkTable(this.thin, st.symoff, st.nsyms, ent, F, "symbol table");
    const symBytes = readAt(this.thin, st.symoff, st.nsyms * ent, F, "symbol table");
    const strtab = readAt(this.thin, st.stroff, st.strsize, F, "string table");
    const dv = new DataView(symBytes.buffer, symBytes.byteOffset, symBytes.byteLength);
    const le = this.littleEndian;
    const strs = stringTable(strtab);
    const out: ObjSymbol[] = [];
    for (let i = 0; i < st.nsyms; i++) {
      const b = i * ent;
      const type = dv.getUint8(b + 4);
      if ((type & N_STAB) !== 0 || (type & N_TYPE) !== N_SECT) continue;
      const sect = dv.getUint8(b + 5);
      let value: number;
      if (ent === 16) {
        const lo = dv.getUint32(le ? b + 8 : b + 12, le);
        const hi = dv.getUint32(le ? b + 12 : b + 8, le);
        if (hi >= 0x200000) continue;
        value = hi * 0x1_0000_0000 + lo;
      } else {
        value = dv.getUint32(b + 8, le);
      }
      const name = strs(dv.getUint32(b, le));
      if (name === undefined) continue;
      // n_sect is 1-based over all sections in load-command order.
      const s = sect >= 1 ? this.sections[sect - 1] : undefined;
      out.push({
        name,
        ...(name.length > 1 && name.charCodeAt(0) === 0x5f && name.includes(".")
          ? { goName: name.slice(1) }
          : {}),
        addr: value,
        size: 0,
        kind: s?.exec ? "func" : "object",
        source: "macho",
      });
    }
    return sortSymbols(out);
  }
}

/**
 * Opens a thin or fat Mach-O file. For a fat file the slice is `opts.arch` when given (error
 * `not_found` when absent), else amd64, else arm64, else the first.
 */
export function openMacho(source: ByteSource, opts: { arch?: Arch } = {}): MachoFile {
  const head = readAt(source, 0, 4, F, "magic");
  if (isFatMagic(head)) {
    const slices = listFatSlices(source);
    let pick: FatSlice | undefined;
    if (opts.arch !== undefined) {
      pick = slices.find((s) => s.arch === opts.arch);
      if (pick === undefined) {
        throw new GosymdError(
          "not_found",
          `fat Mach-O file has no ${opts.arch} slice (it has ${slices.map((s) => s.arch).join(", ")})`,
          { format: F },
        );
      }
    } else {
      pick = slices.find((s) => s.arch === "amd64") ?? slices.find((s) => s.arch === "arm64") ?? slices[0]!;
    }
    const thin = new SliceSource(source, pick.offset, pick.size);
    const thinHead = readAt(thin, 0, 4, F, "magic");
    if (!isMachoMagic(thinHead)) {
      throw corrupt(F, "fat slice", pick.offset, "fat slice does not start with a Mach-O magic");
    }
    return openThin(source, thin, pick.offset);
  }
  if (!isMachoMagic(head))
    throw new GosymdError("not_executable", "not a Mach-O file", { format: F, offset: 0 });
  return openThin(source, source, 0);
}

function openThin(file: ByteSource, thin: ByteSource, base: number): MachoFile {
  const magicBE = be32(readAt(thin, 0, 4, F, "magic"));
  const le = magicBE === MH_CIGAM || magicBE === MH_CIGAM_64;
  const is64 = magicBE === MH_MAGIC_64 || magicBE === MH_CIGAM_64;
  const hsize = is64 ? 32 : 28;
  const h = new Cursor(readAt(thin, 0, hsize, F, "mach_header"), le, F, base);
  const cputype = h.u32At(4, "cputype");
  const filetype = h.u32At(12, "filetype");
  const ncmds = h.u32At(16, "ncmds");
  const sizeofcmds = h.u32At(20, "sizeofcmds");
  const flags = h.u32At(24, "flags");
  checkCount(ncmds, Limits.maxLoadCommands, F, "load commands", base + 16);
  if (sizeofcmds > MAX_SIZEOFCMDS) {
    throw new GosymdError("limit_exceeded", `load commands of ${sizeofcmds} bytes are too large`, {
      format: F,
      field: "sizeofcmds",
      offset: base + 20,
    });
  }
  // Each load command is at least 8 bytes.
  if (ncmds * 8 > sizeofcmds)
    throw corrupt(F, "ncmds", base + 16, `${ncmds} load commands cannot fit ${sizeofcmds} bytes`);
  const cmds = new Cursor(readAt(thin, hsize, sizeofcmds, F, "load commands"), le, F, base + hsize);

  const sections: Section[] = [];
  const segments: (Segment & { name: string })[] = [];
  let uuid: string | undefined;
  let entryOff: number | undefined;
  let threadPc: number | undefined;
  let symtab: { symoff: number; nsyms: number; stroff: number; strsize: number } | undefined;

  let off = 0;
  for (let i = 0; i < ncmds; i++) {
    const f = `load command ${i}`;
    const cmd = cmds.u32At(off, f);
    const cmdsize = cmds.u32At(off + 4, f);
    if (cmdsize < 8 || cmdsize > sizeofcmds - off) {
      throw corrupt(
        F,
        `${f} cmdsize`,
        base + hsize + off + 4,
        `load command size ${cmdsize} is out of range`,
      );
    }
    const lc = new Cursor(cmds.sliceAt(off, cmdsize, f), le, F, base + hsize + off);
    if (cmd === LC_SEGMENT || cmd === LC_SEGMENT_64) {
      const seg64 = cmd === LC_SEGMENT_64;
      const segname = fixedName(lc.sliceAt(8, 16, `${f} segname`), 0, 16);
      let vmaddr: number;
      let vmsize: number;
      let fileoff: number;
      let filesize: number;
      let p: number;
      if (seg64) {
        vmaddr = lc.u64At(24, `${f} vmaddr`);
        vmsize = lc.u64At(32, `${f} vmsize`);
        fileoff = lc.u64At(40, `${f} fileoff`);
        filesize = lc.u64At(48, `${f} filesize`);
        p = 56;
      } else {
        vmaddr = lc.u32At(24, `${f} vmaddr`);
        vmsize = lc.u32At(28, `${f} vmsize`);
        fileoff = lc.u32At(32, `${f} fileoff`);
        filesize = lc.u32At(36, `${f} filesize`);
        p = 40;
      }
      const initprot = lc.u32At(p + 4, `${f} initprot`);
      const nsects = lc.u32At(p + 8, `${f} nsects`);
      const hdr = seg64 ? 72 : 56;
      const sectSize = seg64 ? 80 : 68;
      if (nsects > Math.floor((cmdsize - hdr) / sectSize)) {
        throw corrupt(F, `${f} nsects`, lc.base + p + 8, `${nsects} sections do not fit the load command`);
      }
      const write = (initprot & VM_PROT_WRITE) !== 0;
      const exec = (initprot & VM_PROT_EXECUTE) !== 0;
      segments.push({
        name: segname,
        vaddr: vmaddr,
        memSize: vmsize,
        offset: base + fileoff,
        fileSize: filesize,
        read: (initprot & VM_PROT_READ) !== 0,
        write,
        exec,
      });
      for (let j = 0; j < nsects; j++) {
        const s = hdr + j * sectSize;
        const sf = `${f} section ${j}`;
        const sectname = fixedName(lc.sliceAt(s, 16, sf), 0, 16);
        const sseg = fixedName(lc.sliceAt(s + 16, 16, sf), 0, 16);
        let addr: number;
        let size: number;
        let q: number;
        if (seg64) {
          addr = lc.u64At(s + 32, sf);
          size = lc.u64At(s + 40, sf);
          q = s + 48;
        } else {
          addr = lc.u32At(s + 32, sf);
          size = lc.u32At(s + 36, sf);
          q = s + 40;
        }
        const offset = lc.u32At(q, sf);
        const sflags = lc.u32At(q + 16, sf);
        const stype = sflags & SECTION_TYPE;
        const zerofill = stype === S_ZEROFILL || stype === S_GB_ZEROFILL || stype === S_THREAD_LOCAL_ZEROFILL;
        sections.push({
          index: sections.length,
          name: sectname,
          segment: sseg,
          addr,
          size,
          offset: zerofill ? 0 : base + offset,
          fileSize: zerofill ? 0 : size,
          alloc: true,
          write,
          // A section holds code when it says so; __TEXT,__rodata is in an executable segment but is data.
          exec: (sflags & (S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS)) !== 0,
        });
        checkCount(sections.length, Limits.maxSections, F, "sections");
      }
    } else if (cmd === LC_SYMTAB) {
      symtab = {
        symoff: lc.u32At(8, `${f} symoff`),
        nsyms: lc.u32At(12, `${f} nsyms`),
        stroff: lc.u32At(16, `${f} stroff`),
        strsize: lc.u32At(20, `${f} strsize`),
      };
    } else if (cmd === LC_UUID) {
      uuid = hex(lc.sliceAt(8, 16, `${f} uuid`));
    } else if (cmd === LC_MAIN) {
      entryOff = lc.u64At(8, `${f} entryoff`);
    } else if (cmd === LC_UNIXTHREAD) {
      threadPc = unixThreadPc(lc, cputype);
    }
    off += cmdsize;
  }

  // Entry: LC_MAIN's offset is from the start of the image (the segment mapping file offset 0).
  let entry = threadPc ?? 0;
  if (entryOff !== undefined) {
    const text =
      segments.find((s) => s.offset === base && s.fileSize > 0) ?? segments.find((s) => s.name === "__TEXT");
    if (text !== undefined) entry = text.vaddr + entryOff;
  }

  const pie = (flags & MH_PIE) !== 0;
  const type =
    filetype === MH_EXECUTE
      ? pie
        ? "dyn"
        : "exec"
      : filetype === MH_DYLIB || filetype === MH_BUNDLE
        ? "dyn"
        : filetype === MH_CORE
          ? "core"
          : "other";

  const fields: ObjectFields = {
    format: "macho",
    arch: cpuArch(cputype),
    os: "darwin",
    littleEndian: le,
    ptrSize: is64 ? 8 : 4,
    type,
    pie,
    entry,
    imageBase: 0,
    sections,
    segments: segments.map(({ name: _n, ...s }) => s),
  };
  if (uuid !== undefined) fields.uuid = uuid;
  return new MachoFile(file, fields, { thin, sliceOffset: base, cputype, filetype, flags, symtab });
}

/** The PC register of an LC_UNIXTHREAD for the architectures Go targets; undefined otherwise. */
function unixThreadPc(lc: Cursor, cputype: number): number | undefined {
  // thread_command: cmd, cmdsize, then {flavor, count, state[count]} repeated.
  const flavor = lc.u32At(8, "LC_UNIXTHREAD flavor");
  const st = 16;
  try {
    switch (cputype >>> 0) {
      case CPU_TYPE_X86 | CPU_ARCH_ABI64: // x86_THREAD_STATE64 (4): rip is register 16
        return flavor === 4 ? lc.u64At(st + 16 * 8, "LC_UNIXTHREAD rip") : undefined;
      case CPU_TYPE_ARM | CPU_ARCH_ABI64: // ARM_THREAD_STATE64 (6): x0-x28, fp, lr, sp, pc
        return flavor === 6 ? lc.u64At(st + 32 * 8, "LC_UNIXTHREAD pc") : undefined;
      case CPU_TYPE_X86: // x86_THREAD_STATE32 (1): eip is register 10
        return flavor === 1 ? lc.u32At(st + 10 * 4, "LC_UNIXTHREAD eip") : undefined;
      case CPU_TYPE_ARM: // ARM_THREAD_STATE (1): r0-r12, sp, lr, pc
        return flavor === 1 ? lc.u32At(st + 15 * 4, "LC_UNIXTHREAD pc") : undefined;
      default:
        return undefined;
    }
  } catch (e) {
    if (e instanceof GosymdError) return undefined;
    throw e;
  }
}
