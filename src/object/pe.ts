/**
 * PE reader (PE32 and PE32+).
 *
 * Sections are mapped at ImageBase + VirtualAddress; their size in memory is VirtualSize (or
 * SizeOfRawData when VirtualSize is 0) and the bytes present in the file are
 * min(SizeOfRawData, size in memory) — the rest of a section is zero-filled by the loader. Long
 * section names ("/123") are read from the COFF string table. Each section is also a `Segment`.
 *
 * Symbols are the COFF symbol table Go's linker writes when not stripped (`runtime.pclntab`,
 * `runtime.text`, ...): entries defined in a section (SectionNumber > 0), with addr = ImageBase +
 * section VirtualAddress + Value; auxiliary records are skipped. COFF has no sizes (`size` 0).
 * `kind` is "func" for symbols in a code section, else "object".
 *
 * `pie` is IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE; `type` is "dyn" for DLLs and dynamic-base images
 * (they can be loaded anywhere), else "exec".
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
  type ObjectFields,
  readAt,
  sortSymbols,
  stringTable,
} from "./common.js";
import type { Arch, ObjSymbol, Section, Segment } from "./types.js";

const F = "pe";

const IMAGE_FILE_MACHINE_I386 = 0x14c;
const IMAGE_FILE_MACHINE_ARM = 0x1c0;
const IMAGE_FILE_MACHINE_ARMNT = 0x1c4;
const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
const IMAGE_FILE_MACHINE_ARM64 = 0xaa64;
const IMAGE_FILE_DLL = 0x2000;
const IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE = 0x40;

const IMAGE_SCN_CNT_CODE = 0x20;
const IMAGE_SCN_CNT_UNINITIALIZED_DATA = 0x80;
const IMAGE_SCN_MEM_EXECUTE = 0x20000000;
const IMAGE_SCN_MEM_READ = 0x40000000;
const IMAGE_SCN_MEM_WRITE = 0x80000000;

const COFF_SYMBOL_SIZE = 18;
/** Largest COFF string table we read. */
const MAX_STRING_TABLE = 256 * 1024 * 1024;

export function isPe(source: ByteSource): boolean {
  if (source.size < 0x40) return false;
  const h = source.read(0, 0x40, "DOS header");
  if (h[0] !== 0x4d || h[1] !== 0x5a) return false;
  const lfanew = h[0x3c]! | (h[0x3d]! << 8) | (h[0x3e]! << 16) | (h[0x3f]! * 0x1000000);
  if (lfanew < 0 || lfanew + 4 > source.size) return false;
  const sig = source.read(lfanew >>> 0, 4, "PE signature");
  return sig[0] === 0x50 && sig[1] === 0x45 && sig[2] === 0 && sig[3] === 0;
}

function archOf(machine: number): Arch {
  switch (machine) {
    case IMAGE_FILE_MACHINE_AMD64:
      return "amd64";
    case IMAGE_FILE_MACHINE_ARM64:
      return "arm64";
    case IMAGE_FILE_MACHINE_I386:
      return "386";
    case IMAGE_FILE_MACHINE_ARM:
    case IMAGE_FILE_MACHINE_ARMNT:
      return "arm";
    default:
      return "unknown";
  }
}

interface PeSection extends Section {
  readonly virtualAddress: number;
  readonly characteristics: number;
}

export class PeFile extends BaseObject {
  readonly machine: number;
  readonly characteristics: number;
  readonly dllCharacteristics: number;
  /** COFF symbol table location (0/0 when stripped). */
  readonly symtabOffset: number;
  readonly symbolCount: number;

  constructor(
    source: ByteSource,
    fields: ObjectFields,
    extra: {
      machine: number;
      characteristics: number;
      dllCharacteristics: number;
      symtabOffset: number;
      symbolCount: number;
    },
  ) {
    super(source, fields);
    this.machine = extra.machine;
    this.characteristics = extra.characteristics;
    this.dllCharacteristics = extra.dllCharacteristics;
    this.symtabOffset = extra.symtabOffset;
    this.symbolCount = extra.symbolCount;
  }

  protected override loadSymbols(): ObjSymbol[] {
    const n = this.symbolCount;
    if (this.symtabOffset === 0 || n === 0) return [];
    checkCount(n, Limits.maxSymbols, F, "COFF symbols", this.symtabOffset);
    checkTable(this.source, this.symtabOffset, n, COFF_SYMBOL_SIZE, F, "COFF symbol table");
    const c = new Cursor(
      readAt(this.source, this.symtabOffset, n * COFF_SYMBOL_SIZE, F, "COFF symbol table"),
      true,
      F,
      this.symtabOffset,
    );
    const strs = stringTable(readStringTable(this.source, this.symtabOffset, n));
    const out: ObjSymbol[] = [];
    const secs = this.sections as readonly PeSection[];
    for (let i = 0; i < n; i++) {
      const b = i * COFF_SYMBOL_SIZE;
      const value = c.u32At(b + 8, "symbol value");
      const secNum = c.i16At(b + 12, "symbol section");
      const aux = c.u8At(b + 17, "symbol aux count");
      i += aux;
      if (secNum <= 0) continue;
      const sec = secs[secNum - 1];
      if (sec === undefined) continue;
      let name: string;
      if (c.u32At(b, "symbol name") === 0) {
        const off = c.u32At(b + 4, "symbol name offset");
        name = strs(off) ?? "";
      } else {
        name = fixedName(c.bytes, b, 8);
      }
      out.push({
        name,
        addr: this.imageBase + sec.virtualAddress + value,
        size: 0,
        kind: sec.exec ? "func" : "object",
        source: "pe",
      });
    }
    return sortSymbols(out);
  }
}

/** The COFF string table that follows the symbol table; empty when absent or unreadable. */
function readStringTable(source: ByteSource, symoff: number, nsyms: number): Uint8Array {
  if (symoff === 0) return new Uint8Array(0);
  const at = symoff + nsyms * COFF_SYMBOL_SIZE;
  if (at + 4 > source.size) return new Uint8Array(0);
  const len = new Cursor(source.read(at, 4, "COFF string table size"), true, F, at).u32At(0);
  if (len <= 4) return new Uint8Array(0);
  if (len > MAX_STRING_TABLE) {
    throw new GosymdError("limit_exceeded", `COFF string table of ${len} bytes is too large`, {
      format: F,
      field: "COFF string table",
      offset: at,
    });
  }
  // The size counts its own 4 bytes; offsets into the table count them too.
  return readAt(source, at, len, F, "COFF string table");
}

function stringAt(tab: Uint8Array, off: number): string {
  return stringTable(tab)(off) ?? "";
}

export function openPe(source: ByteSource): PeFile {
  if (!isPe(source)) throw new GosymdError("not_executable", "not a PE file", { format: F, offset: 0 });
  const dos = new Cursor(readAt(source, 0, 0x40, F, "DOS header"), true, F);
  const lfanew = dos.u32At(0x3c, "e_lfanew");
  const coffOff = lfanew + 4;
  const coff = new Cursor(readAt(source, coffOff, 20, F, "COFF header"), true, F, coffOff);
  const machine = coff.u16At(0, "Machine");
  const nsect = coff.u16At(2, "NumberOfSections");
  const symtabOffset = coff.u32At(8, "PointerToSymbolTable");
  const nsyms = coff.u32At(12, "NumberOfSymbols");
  const optSize = coff.u16At(16, "SizeOfOptionalHeader");
  const characteristics = coff.u16At(18, "Characteristics");

  const optOff = coffOff + 20;
  let ptrSize: 4 | 8 = 4;
  let imageBase = 0;
  let entryRva = 0;
  let dllCharacteristics = 0;
  if (optSize > 0) {
    const opt = new Cursor(readAt(source, optOff, optSize, F, "optional header"), true, F, optOff);
    const magic = opt.u16At(0, "optional header magic");
    if (magic === 0x20b) {
      ptrSize = 8;
      entryRva = opt.u32At(16, "AddressOfEntryPoint");
      imageBase = opt.u64At(24, "ImageBase");
    } else if (magic === 0x10b) {
      ptrSize = 4;
      entryRva = opt.u32At(16, "AddressOfEntryPoint");
      imageBase = opt.u32At(28, "ImageBase");
    } else {
      throw corrupt(
        F,
        "optional header magic",
        optOff,
        `unknown optional header magic 0x${magic.toString(16)}`,
      );
    }
    dllCharacteristics = opt.u16At(70, "DllCharacteristics");
  } else if (machine === IMAGE_FILE_MACHINE_AMD64 || machine === IMAGE_FILE_MACHINE_ARM64) {
    ptrSize = 8;
  }

  const shOff = optOff + optSize;
  checkCount(nsect, Limits.maxSections, F, "sections", coffOff + 2);
  checkTable(source, shOff, nsect, 40, F, "section table");
  const sc = new Cursor(readAt(source, shOff, nsect * 40, F, "section table"), true, F, shOff);
  let strtab: Uint8Array | undefined;
  const sections: PeSection[] = [];
  const segments: Segment[] = [];
  for (let i = 0; i < nsect; i++) {
    const b = i * 40;
    const f = `section header ${i}`;
    let name = fixedName(sc.bytes, b, 8);
    const virtualSize = sc.u32At(b + 8, f);
    const virtualAddress = sc.u32At(b + 12, f);
    const rawSize = sc.u32At(b + 16, f);
    const rawPtr = sc.u32At(b + 20, f);
    const ch = sc.u32At(b + 36, f);
    if (name.startsWith("/") && /^\/[0-9]{1,7}$/.test(name)) {
      strtab ??= readStringTable(
        source,
        symtabOffset,
        Math.min(nsyms, Math.floor(source.size / COFF_SYMBOL_SIZE)),
      );
      const off = Number(name.slice(1));
      const long = stringAt(strtab, off);
      if (long !== "") name = long;
    }
    const memSize = virtualSize === 0 ? rawSize : virtualSize;
    const uninit = (ch & IMAGE_SCN_CNT_UNINITIALIZED_DATA) !== 0 && rawPtr === 0;
    const fileSize = uninit || rawPtr === 0 ? 0 : Math.min(rawSize, memSize);
    const addr = imageBase + virtualAddress;
    const exec = (ch & (IMAGE_SCN_MEM_EXECUTE | IMAGE_SCN_CNT_CODE)) !== 0;
    const write = (ch & IMAGE_SCN_MEM_WRITE) !== 0;
    sections.push({
      index: i,
      name,
      addr,
      size: memSize,
      offset: rawPtr,
      fileSize,
      alloc: true,
      write,
      exec,
      virtualAddress,
      characteristics: ch >>> 0,
    });
    segments.push({
      vaddr: addr,
      memSize,
      offset: rawPtr,
      fileSize,
      read: (ch & IMAGE_SCN_MEM_READ) !== 0,
      write,
      exec,
    });
  }

  const pie = (dllCharacteristics & IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE) !== 0;
  const dll = (characteristics & IMAGE_FILE_DLL) !== 0;
  return new PeFile(
    source,
    {
      format: "pe",
      arch: archOf(machine),
      os: "windows",
      littleEndian: true,
      ptrSize,
      type: dll || pie ? "dyn" : "exec",
      pie,
      entry: entryRva === 0 ? 0 : imageBase + entryRva,
      imageBase,
      sections,
      segments,
    },
    { machine, characteristics, dllCharacteristics, symtabOffset, symbolCount: nsyms },
  );
}

/** Section characteristics (IMAGE_SCN_*) of a PE section, for readers that need the raw flags. */
export function peCharacteristics(s: Section): number {
  return (s as Partial<PeSection>).characteristics ?? 0;
}
