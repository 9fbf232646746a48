/**
 * Pieces shared by the ELF, Mach-O and PE readers: checked reads through a ByteSource, and a base
 * class implementing the address/section lookups of `ObjectFile` over a reader's section and
 * segment tables.
 */
import { GosymdError, truncated } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import type { ByteSource } from "../bytes/source.js";
import type { Arch, Note, ObjectFile, ObjectFormat, ObjSymbol, Os, Section, Segment } from "./types.js";

/**
 * Reads exactly `length` bytes at `offset`, throwing `truncated` (with our format and field, not
 * the source's generic "file") when the source is shorter.
 */
export function readAt(
  source: ByteSource,
  offset: number,
  length: number,
  format: string,
  field: string,
): Uint8Array {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > source.size
  ) {
    throw truncated(format, field, Number.isSafeInteger(offset) && offset >= 0 ? offset : 0, length);
  }
  return source.read(offset, length, field);
}

/** Throws `limit_exceeded` when a count read from the input is above a cap. */
export function checkCount(count: number, cap: number, format: string, field: string, offset?: number): void {
  if (!Number.isSafeInteger(count) || count < 0 || count > cap) {
    throw new GosymdError("limit_exceeded", `${field} count ${count} is above the limit ${cap}`, {
      format,
      field,
      ...(offset === undefined ? {} : { offset }),
    });
  }
}

/** Throws `truncated` unless a table of `count` entries of `entSize` bytes at `offset` fits the file. */
export function checkTable(
  source: ByteSource,
  offset: number,
  count: number,
  entSize: number,
  format: string,
  field: string,
): void {
  const bytes = count * entSize;
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !Number.isSafeInteger(bytes) ||
    offset + bytes > source.size
  ) {
    throw truncated(format, field, Number.isSafeInteger(offset) && offset >= 0 ? offset : 0, bytes);
  }
}

/** Name of a NUL-padded fixed-size field (Mach-O segname/sectname, PE short names). */
export function fixedName(b: Uint8Array, off: number, len: number): string {
  let end = off;
  while (end < off + len && b[end] !== 0) end++;
  let s = "";
  for (let i = off; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

export function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/**
 * A reader of NUL-terminated names in a string table: `(off) => name`, or undefined when `off` is
 * outside the table. A name without a terminator ends at the table end; names are capped at
 * Limits.maxStringBytes. Invalid UTF-8 decodes to U+FFFD.
 */
export function stringTable(tab: Uint8Array): (off: number) => string | undefined {
  const buf = Buffer.from(tab.buffer, tab.byteOffset, tab.byteLength);
  return (off) => {
    if (off >= buf.length) return undefined;
    let end = buf.indexOf(0, off);
    if (end < 0) end = buf.length;
    if (end - off > Limits.maxStringBytes) end = off + Limits.maxStringBytes;
    return buf.toString("utf8", off, end);
  };
}

/** Sorts symbols by address, then name, so the order is deterministic. */
export function sortSymbols(syms: ObjSymbol[]): ObjSymbol[] {
  return syms.sort((a, b) => a.addr - b.addr || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Most bytes one `readVirtual` call may ask for (the whole pclntab of a huge binary fits). */
export const MAX_VIRTUAL_READ = 1 << 30;

export interface ObjectFields {
  format: ObjectFormat;
  arch: Arch;
  os: Os;
  littleEndian: boolean;
  ptrSize: 4 | 8;
  type: "exec" | "dyn" | "core" | "other";
  pie: boolean;
  entry: number;
  imageBase: number;
  sections: Section[];
  segments: Segment[];
  uuid?: string;
}

/**
 * Implements the lookups of `ObjectFile` over plain section/segment tables. Readers extend it and
 * provide `loadSymbols` and `loadNotes`, which run at most once (failures are remembered too).
 */
export abstract class BaseObject implements ObjectFile {
  readonly format: ObjectFormat;
  readonly arch: Arch;
  readonly os: Os;
  readonly littleEndian: boolean;
  readonly ptrSize: 4 | 8;
  readonly type: "exec" | "dyn" | "core" | "other";
  readonly pie: boolean;
  readonly entry: number;
  readonly imageBase: number;
  readonly sections: readonly Section[];
  readonly segments: readonly Segment[];
  readonly source: ByteSource;
  readonly uuid?: string;

  /** Allocated sections with a non-zero size, sorted by address, for `sectionAt`. */
  private byAddr: Section[] | undefined;
  private symCache: { ok: readonly ObjSymbol[] } | { err: unknown } | undefined;
  private noteCache: { ok: readonly Note[] } | { err: unknown } | undefined;

  constructor(source: ByteSource, f: ObjectFields) {
    this.source = source;
    this.format = f.format;
    this.arch = f.arch;
    this.os = f.os;
    this.littleEndian = f.littleEndian;
    this.ptrSize = f.ptrSize;
    this.type = f.type;
    this.pie = f.pie;
    this.entry = f.entry;
    this.imageBase = f.imageBase;
    this.sections = f.sections;
    this.segments = f.segments;
    if (f.uuid !== undefined) this.uuid = f.uuid;
  }

  protected abstract loadSymbols(): ObjSymbol[];
  protected loadNotes(): Note[] {
    return [];
  }

  section(name: string): Section | undefined {
    const comma = name.indexOf(",");
    if (comma >= 0) {
      const seg = name.slice(0, comma);
      const sect = name.slice(comma + 1);
      return this.sections.find((s) => s.segment === seg && s.name === sect);
    }
    return this.sections.find((s) => s.name === name);
  }

  sectionBytes(s: Section): Uint8Array {
    if (s.fileSize === 0) return new Uint8Array(0);
    return readAt(this.source, s.offset, s.fileSize, this.format, `section ${s.name} data`);
  }

  readVirtual(addr: number, length: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(addr) || !Number.isSafeInteger(length) || addr < 0 || length < 0)
      return undefined;
    if (length > MAX_VIRTUAL_READ) {
      throw new GosymdError("limit_exceeded", `virtual read of ${length} bytes is above the limit`, {
        format: this.format,
        field: "readVirtual",
      });
    }
    for (const seg of this.segments) {
      if (seg.fileSize > 0 && addr >= seg.vaddr && addr + length <= seg.vaddr + seg.fileSize) {
        return readAt(this.source, seg.offset + (addr - seg.vaddr), length, this.format, "segment data");
      }
    }
    for (const s of this.sections) {
      if (s.alloc && s.fileSize > 0 && addr >= s.addr && addr + length <= s.addr + s.fileSize) {
        return readAt(this.source, s.offset + (addr - s.addr), length, this.format, `section ${s.name} data`);
      }
    }
    return undefined;
  }

  sectionAt(addr: number): Section | undefined {
    if (this.byAddr === undefined) {
      this.byAddr = this.sections.filter((s) => s.alloc && s.size > 0).sort((a, b) => a.addr - b.addr);
    }
    const v = this.byAddr;
    // Last section starting at or below addr; sections may overlap (TLS), so scan back a little.
    let lo = 0;
    let hi = v.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid]!.addr <= addr) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo - 1, n = 0; i >= 0 && n < 8; i--, n++) {
      const s = v[i]!;
      if (addr < s.addr + s.size) return s;
    }
    return undefined;
  }

  symbols(): readonly ObjSymbol[] {
    if (this.symCache === undefined) {
      try {
        this.symCache = { ok: this.loadSymbols() };
      } catch (e) {
        this.symCache = { err: e };
      }
    }
    if ("err" in this.symCache) throw this.symCache.err;
    return this.symCache.ok;
  }

  notes(): readonly Note[] {
    if (this.noteCache === undefined) {
      try {
        this.noteCache = { ok: this.loadNotes() };
      } catch (e) {
        this.noteCache = { err: e };
      }
    }
    if ("err" in this.noteCache) throw this.noteCache.err;
    return this.noteCache.ok;
  }
}

/** A window [base, base+size) of another source, e.g. one slice of a fat Mach-O file. */
export class SliceSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly parent: ByteSource,
    readonly base: number,
    size: number,
  ) {
    if (
      !Number.isSafeInteger(base) ||
      !Number.isSafeInteger(size) ||
      base < 0 ||
      size < 0 ||
      base + size > parent.size
    ) {
      throw truncated("file", "slice", Math.max(0, Number.isSafeInteger(base) ? base : 0), size);
    }
    this.size = size;
  }
  read(offset: number, length: number, field = "bytes"): Uint8Array {
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > this.size
    ) {
      throw truncated(
        "file",
        field,
        Number.isSafeInteger(offset) && offset >= 0 ? this.base + offset : 0,
        length,
      );
    }
    return this.parent.read(this.base + offset, length, field);
  }
  close(): void {
    this.parent.close();
  }
}
