import type { ByteSource } from "../bytes/source.js";

/**
 * The small interface every container reader (ELF, Mach-O, PE) implements. Decoders above this
 * layer (pclntab, buildinfo, symtab) see only this, never the container's own structures.
 *
 * Addresses are link-time virtual addresses as JS numbers (exact below 2^53, which every Go
 * binary's addresses are); file offsets are numbers too.
 */
export type ObjectFormat = "elf" | "macho" | "pe";
export type Arch =
  | "amd64"
  | "arm64"
  | "386"
  | "arm"
  | "ppc64"
  | "ppc64le"
  | "s390x"
  | "riscv64"
  | "mips"
  | "mipsle"
  | "mips64"
  | "mips64le"
  | "loong64"
  | "wasm"
  | "unknown";
export type Os = "linux" | "android" | "darwin" | "windows" | "freebsd" | "netbsd" | "openbsd" | "unknown";

export interface Section {
  /** Index in the container's section table. */
  readonly index: number;
  /** ".gopclntab" (ELF/PE) or "__gopclntab" (Mach-O; see `segment`). */
  readonly name: string;
  /** Mach-O segment name ("__TEXT", "__DATA_CONST"...); undefined elsewhere. */
  readonly segment?: string;
  /** Link-time virtual address; 0 when the section is not loaded. */
  readonly addr: number;
  /** Size in memory. */
  readonly size: number;
  /** File offset of the section's bytes. */
  readonly offset: number;
  /** Bytes present in the file (0 for NOBITS / zerofill / uninitialized data). */
  readonly fileSize: number;
  readonly alloc: boolean;
  readonly write: boolean;
  readonly exec: boolean;
}

/** A loadable region (ELF PT_LOAD, Mach-O segment, PE section as mapped). */
export interface Segment {
  readonly vaddr: number;
  readonly memSize: number;
  readonly offset: number;
  readonly fileSize: number;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
}

export type SymbolSource = "symtab" | "dynsym" | "macho" | "pe";
export interface ObjSymbol {
  readonly name: string;
  readonly addr: number;
  /** 0 when the container does not record sizes (Mach-O, PE): the next symbol's address bounds it. */
  readonly size: number;
  readonly kind: "func" | "object" | "other";
  readonly source: SymbolSource;
  /**
   * The Go-level name when it differs from the raw `name`: Go's darwin linker prefixes every symbol
   * with "_" (`_runtime.main`); `goName` is "runtime.main" (Go's debug/macho rule: drop one leading
   * "_" from names containing a dot — what `go tool nm` prints). Undefined when equal to `name`
   * (ELF, PE, Mach-O C symbols). Use `s.goName ?? s.name` to look Go symbols up.
   */
  readonly goName?: string;
}

export interface Note {
  readonly name: string;
  readonly type: number;
  readonly desc: Uint8Array;
}

/** Every identifier of a binary; any of them (as an alias) names the same file. */
export interface BuildIds {
  /** GNU build ID note, lowercase hex. */
  gnu?: string;
  /** Go build ID ("actionID/.../contentID"), as the toolchain prints it. */
  go?: string;
  /** Mach-O LC_UUID, lowercase hex without dashes. */
  machoUuid?: string;
  /** SHA-256 of the whole file, lowercase hex (always present). */
  sha256: string;
}

export interface ObjectFile {
  readonly format: ObjectFormat;
  readonly arch: Arch;
  readonly os: Os;
  readonly littleEndian: boolean;
  /** 4 or 8. */
  readonly ptrSize: 4 | 8;
  /** "exec" (fixed address), "dyn" (PIE/shared), "core", "other". */
  readonly type: "exec" | "dyn" | "core" | "other";
  /** True for position-independent executables (ELF ET_DYN, Mach-O MH_PIE, PE with dynamic base). */
  readonly pie: boolean;
  readonly entry: number;
  /** PE ImageBase; 0 for ELF/Mach-O. */
  readonly imageBase: number;
  readonly sections: readonly Section[];
  readonly segments: readonly Segment[];
  readonly source: ByteSource;

  /** First section with this name (Mach-O: section name, optionally "SEGMENT,section"). */
  section(name: string): Section | undefined;
  /** The file-backed bytes of a section (length = fileSize); throws `truncated` if the file is short. */
  sectionBytes(s: Section): Uint8Array;
  /** `length` bytes at virtual address `addr` from the file-backed part of one segment/section, or undefined. */
  readVirtual(addr: number, length: number): Uint8Array | undefined;
  /** The section containing `addr`, if any. */
  sectionAt(addr: number): Section | undefined;
  /** All symbols (symtab + dynsym / Mach-O nlist / PE COFF), sorted by address; loaded lazily, cached. */
  symbols(): readonly ObjSymbol[];
  /** ELF notes (from PT_NOTE segments or SHT_NOTE sections); empty for other formats. */
  notes(): readonly Note[];
  /**
   * ELF: the values the dynamic loader writes at load time into words in [lo, hi) by RELATIVE
   * relocations with explicit addends (SHT_RELA), by link-time address (the loader adds the load
   * base). External linkers may leave such words zero or stale in the file (GNU ld on arm64 does),
   * so tables of pointers read from the file need them. Undefined for other formats.
   */
  relativeRelocations?(lo: number, hi: number): Map<number, number>;
  /** Mach-O LC_UUID (lowercase hex) when present. */
  readonly uuid?: string;
}
