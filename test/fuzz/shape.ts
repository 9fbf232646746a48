/**
 * Where the structure of an input is, for structure-aware mutation: integer fields (header words,
 * counts, offsets, sizes) with their width and byte order, regions worth mutating (tables, varint
 * streams, text), varint positions and whole-record spans. Computed by small independent parsers of
 * our own (not the decoders under test), each tolerant of garbage: a damaged input gives a partial
 * shape, never an exception.
 */

export interface Field {
  off: number;
  size: 1 | 2 | 4 | 8;
  le: boolean;
}

export type RegionKind =
  /** Plain bytes. */
  | "bytes"
  /** A stream of LEB128 varints (pc-value tables, protobuf). */
  | "varint"
  /** Pointer-sized words of process memory; `vaddr` is the address of `start`. */
  | "words"
  /** Text (names, modinfo): dictionary tokens are spliced in. */
  | "text";

export interface Region {
  name: string;
  start: number;
  end: number;
  kind: RegionKind;
  /** Relative weight when a region is picked (default 1). */
  weight?: number;
  /** "words" regions: link/runtime address of `start`. */
  vaddr?: number;
  /** "words" regions: pointer size and byte order. */
  ptrSize?: 4 | 8;
  le?: boolean;
}

export interface Shape {
  fields: Field[];
  regions: Region[];
  /** Offsets where one structure ends and the next begins (truncation points). */
  boundaries: number[];
  /** [start, end) of single varints (protobuf tags, lengths and values). */
  varints: Array<[number, number]>;
  /** [start, end) of whole records that can be duplicated or dropped (top-level protobuf fields). */
  spans: Array<[number, number]>;
}

export function emptyShape(): Shape {
  return { fields: [], regions: [], boundaries: [], varints: [], spans: [] };
}

/** Keeps at most `max` elements, evenly spread (deterministic). */
function thin<T>(xs: T[], max: number): T[] {
  if (xs.length <= max) return xs;
  const out: T[] = [];
  const step = xs.length / max;
  for (let i = 0; i < max; i++) out.push(xs[Math.floor(i * step)]!);
  return out;
}

/** Bounds-checked little/big-endian reads that return -1 past the end. */
class Reader {
  readonly dv: DataView;
  constructor(
    readonly b: Uint8Array,
    readonly le: boolean,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  ok(off: number, n: number): boolean {
    return Number.isSafeInteger(off) && off >= 0 && off + n <= this.b.length;
  }
  u8(off: number): number {
    return this.ok(off, 1) ? this.b[off]! : -1;
  }
  u16(off: number): number {
    return this.ok(off, 2) ? this.dv.getUint16(off, this.le) : -1;
  }
  u32(off: number): number {
    return this.ok(off, 4) ? this.dv.getUint32(off, this.le) : -1;
  }
  u64(off: number): number {
    if (!this.ok(off, 8)) return -1;
    const v = this.dv.getBigUint64(off, this.le);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
  }
  word(off: number, size: 4 | 8): number {
    return size === 8 ? this.u64(off) : this.u32(off);
  }
}

class Builder {
  readonly s = emptyShape();
  constructor(
    readonly len: number,
    readonly le: boolean,
  ) {}
  field(off: number, size: 1 | 2 | 4 | 8, le = this.le): void {
    if (off >= 0 && off + size <= this.len) this.s.fields.push({ off, size, le });
  }
  fields(base: number, layout: ReadonlyArray<readonly [number, 1 | 2 | 4 | 8]>): void {
    for (const [o, n] of layout) this.field(base + o, n);
  }
  region(name: string, start: number, end: number, kind: RegionKind = "bytes", weight?: number): void {
    const s = Math.max(0, start);
    const e = Math.min(this.len, end);
    if (e > s)
      this.s.regions.push({ name, start: s, end: e, kind, ...(weight === undefined ? {} : { weight }) });
  }
  boundary(...xs: number[]): void {
    for (const x of xs) if (Number.isSafeInteger(x) && x > 0 && x < this.len) this.s.boundaries.push(x);
  }
  done(): Shape {
    this.s.fields = thin(this.s.fields, 4000);
    this.s.boundaries = thin(
      [...new Set(this.s.boundaries)].sort((a, b) => a - b),
      2000,
    );
    return this.s;
  }
}

/** Merges shapes of parts of one input (e.g. a container and the pclntab inside it). */
export function mergeShapes(...shapes: Shape[]): Shape {
  const out = emptyShape();
  for (const s of shapes) {
    out.fields.push(...s.fields);
    out.regions.push(...s.regions);
    out.boundaries.push(...s.boundaries);
    out.varints.push(...s.varints);
    out.spans.push(...s.spans);
  }
  return out;
}

/** Shifts a shape computed on a slice to the position of that slice in the whole input. */
export function shiftShape(s: Shape, by: number, prefix = ""): Shape {
  return {
    fields: s.fields.map((f) => ({ ...f, off: f.off + by })),
    regions: s.regions.map((r) => ({ ...r, name: prefix + r.name, start: r.start + by, end: r.end + by })),
    boundaries: s.boundaries.map((x) => x + by),
    varints: s.varints.map(([a, b]) => [a + by, b + by]),
    spans: s.spans.map(([a, b]) => [a + by, b + by]),
  };
}

// ---------------------------------------------------------------------------------------------
// ELF (executables and cores)

export interface ElfSectionInfo {
  index: number;
  name: string;
  type: number;
  addr: number;
  offset: number;
  size: number;
}

export interface ElfPhdrInfo {
  type: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
}

export interface ElfInfo {
  is64: boolean;
  le: boolean;
  sections: ElfSectionInfo[];
  phdrs: ElfPhdrInfo[];
}

const MAX_HEADERS = 256;

export function elfShape(b: Uint8Array): { shape: Shape; info: ElfInfo } | undefined {
  if (b.length < 52 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] !== 2;
  const r = new Reader(b, le);
  const B = new Builder(b.length, le);
  const ps: 4 | 8 = is64 ? 8 : 4;
  const info: ElfInfo = { is64, le, sections: [], phdrs: [] };
  const o = is64 ? 48 : 36; // e_flags end
  B.fields(0, [
    [4, 1],
    [5, 1],
    [16, 2],
    [18, 2],
    [20, 4],
    [24, ps],
    [24 + ps, ps],
    [24 + 2 * ps, ps],
    [o, 2],
    [o + 2, 2],
    [o + 4, 2],
    [o + 6, 2],
    [o + 8, 2],
    [o + 10, 2],
    [o + 12, 2],
  ]);
  const ehsize = is64 ? 64 : 52;
  B.region("ELF header", 0, ehsize, "bytes", 2);
  const phoff = r.word(24 + ps, ps);
  const shoff = r.word(24 + 2 * ps, ps);
  const phentsize = r.u16(o + 6);
  const phnum = r.u16(o + 8);
  const shentsize = r.u16(o + 10);
  const shnum = r.u16(o + 12);
  const shstrndx = r.u16(o + 14);
  const phLayout: Array<[number, 1 | 2 | 4 | 8]> = is64
    ? [
        [0, 4],
        [4, 4],
        [8, 8],
        [16, 8],
        [24, 8],
        [32, 8],
        [40, 8],
        [48, 8],
      ]
    : [
        [0, 4],
        [4, 4],
        [8, 4],
        [12, 4],
        [16, 4],
        [20, 4],
        [24, 4],
        [28, 4],
      ];
  if (phoff > 0 && phentsize > 0 && phnum > 0) {
    const n = Math.min(phnum, MAX_HEADERS);
    B.region("program headers", phoff, phoff + n * phentsize, "bytes", 2);
    B.boundary(phoff, phoff + n * phentsize);
    for (let i = 0; i < n; i++) {
      const p = phoff + i * phentsize;
      if (!r.ok(p, phentsize)) break;
      B.fields(p, phLayout);
      B.boundary(p);
      const ph: ElfPhdrInfo = is64
        ? {
            type: r.u32(p),
            offset: r.u64(p + 8),
            vaddr: r.u64(p + 16),
            filesz: r.u64(p + 32),
            memsz: r.u64(p + 40),
          }
        : {
            type: r.u32(p),
            offset: r.u32(p + 4),
            vaddr: r.u32(p + 8),
            filesz: r.u32(p + 16),
            memsz: r.u32(p + 20),
          };
      info.phdrs.push(ph);
      if (ph.offset >= 0 && ph.filesz > 0) B.boundary(ph.offset, ph.offset + ph.filesz);
      if (ph.type === 4 && ph.offset >= 0 && ph.filesz > 0) noteShape(r, B, ph.offset, ph.filesz, is64);
    }
  }
  const shLayout: Array<[number, 1 | 2 | 4 | 8]> = is64
    ? [
        [0, 4],
        [4, 4],
        [8, 8],
        [16, 8],
        [24, 8],
        [32, 8],
        [40, 4],
        [44, 4],
        [48, 8],
        [56, 8],
      ]
    : [
        [0, 4],
        [4, 4],
        [8, 4],
        [12, 4],
        [16, 4],
        [20, 4],
        [24, 4],
        [28, 4],
        [32, 4],
        [36, 4],
      ];
  if (shoff > 0 && shentsize > 0) {
    // Extended numbering: section 0 carries the count.
    let count = shnum;
    if (count === 0 && r.ok(shoff, shentsize))
      count = Math.min(r.word(shoff + (is64 ? 32 : 20), ps), MAX_HEADERS);
    const n = Math.min(Math.max(count, 0), MAX_HEADERS);
    B.region("section headers", shoff, shoff + n * shentsize, "bytes", 2);
    B.boundary(shoff, shoff + n * shentsize);
    const raw: Array<{
      name: number;
      type: number;
      addr: number;
      offset: number;
      size: number;
      entsize: number;
    }> = [];
    for (let i = 0; i < n; i++) {
      const p = shoff + i * shentsize;
      if (!r.ok(p, shentsize)) break;
      B.fields(p, shLayout);
      B.boundary(p);
      raw.push(
        is64
          ? {
              name: r.u32(p),
              type: r.u32(p + 4),
              addr: r.u64(p + 16),
              offset: r.u64(p + 24),
              size: r.u64(p + 32),
              entsize: r.u64(p + 56),
            }
          : {
              name: r.u32(p),
              type: r.u32(p + 4),
              addr: r.u32(p + 12),
              offset: r.u32(p + 16),
              size: r.u32(p + 20),
              entsize: r.u32(p + 36),
            },
      );
    }
    const strtab = raw[shstrndx === 0xffff ? 0 : shstrndx];
    raw.forEach((s, i) => {
      let name = "";
      if (strtab !== undefined && strtab.offset > 0 && s.name >= 0) {
        const at = strtab.offset + s.name;
        for (let k = at; k < b.length && k < at + 64 && b[k] !== 0; k++) name += String.fromCharCode(b[k]!);
      }
      info.sections.push({ index: i, name, type: s.type, addr: s.addr, offset: s.offset, size: s.size });
      if (s.type === 8 || s.offset < 0 || s.size <= 0) return; // NOBITS
      B.boundary(s.offset, s.offset + 1, s.offset + s.size - 1, s.offset + s.size);
      if (s.type === 2 || s.type === 11) {
        const ent = is64 ? 24 : 16;
        B.region(`${name} entries`, s.offset, s.offset + Math.min(s.size, 64 * ent));
        for (let k = 0; k < Math.min(16, Math.floor(s.size / ent)); k++) {
          const e = s.offset + k * ent;
          B.fields(
            e,
            is64
              ? [
                  [0, 4],
                  [4, 1],
                  [6, 2],
                  [8, 8],
                  [16, 8],
                ]
              : [
                  [0, 4],
                  [4, 4],
                  [8, 4],
                  [12, 1],
                  [14, 2],
                ],
          );
        }
      } else if (s.type === 7) {
        noteShape(r, B, s.offset, s.size, is64);
      } else if (s.type === 3) {
        B.region(`${name} strings`, s.offset, s.offset + Math.min(s.size, 4096), "text", 0.3);
      } else if (name === ".go.buildinfo" || name === ".gopclntab" || name === ".gosymtab") {
        B.region(`${name} start`, s.offset, s.offset + Math.min(s.size, 256), "bytes", 2);
      }
    });
  }
  return { shape: B.done(), info };
}

function noteShape(r: Reader, B: Builder, off: number, size: number, is64: boolean): void {
  B.region("notes", off, off + Math.min(size, 8192), "bytes", 2);
  let pos = off;
  const end = Math.min(off + size, r.b.length);
  for (let k = 0; k < 64 && pos + 12 <= end; k++) {
    B.fields(pos, [
      [0, 4],
      [4, 4],
      [8, 4],
    ]);
    B.boundary(pos, pos + 12);
    const namesz = r.u32(pos);
    const descsz = r.u32(pos + 4);
    if (namesz < 0 || descsz < 0 || namesz > 4096) break;
    const desc = pos + 12 + Math.ceil(namesz / 4) * 4;
    const type = r.u32(pos + 8);
    noteDescShape(r, B, type, desc, Math.min(descsz, end - desc), is64);
    pos = desc + Math.ceil(descsz / 4) * 4;
  }
}

/** Core-file note payloads: registers, NT_FILE, auxv, siginfo. */
function noteDescShape(r: Reader, B: Builder, type: number, desc: number, size: number, is64: boolean): void {
  if (size <= 0 || !is64) return;
  const words = (from: number, n: number) => {
    for (let k = 0; k < n && from + 8 * k + 8 <= desc + size; k++) B.field(from + 8 * k, 8);
  };
  if (type === 1) {
    // NT_PRSTATUS: pr_cursig (u16 at 12), pr_pid (u32 at 32), pr_reg at 112.
    B.field(desc + 12, 2);
    B.field(desc + 32, 4);
    words(desc + 112, 34);
    B.region("prstatus", desc, desc + size, "bytes", 2);
  } else if (type === 0x46494c45) {
    // NT_FILE: count, page size, count × (start, end, offset), names.
    words(desc, 2);
    const count = Math.min(Math.max(r.u64(desc), 0), 64);
    words(desc + 16, count * 3);
    B.region("NT_FILE", desc, desc + size, "bytes", 2);
    B.region("NT_FILE names", desc + 16 + count * 24, desc + size, "text", 0.5);
  } else if (type === 6) {
    words(desc, Math.floor(size / 8));
  } else if (type === 0x53494749) {
    B.fields(desc, [
      [0, 4],
      [4, 4],
      [8, 4],
      [16, 8],
    ]);
  } else if (type === 3) {
    B.region("prpsinfo", desc, desc + size, "bytes", 0.5);
  } else if (type === 2) {
    B.region("fpregs", desc, desc + Math.min(size, 64), "bytes", 0.2);
  }
}

// ---------------------------------------------------------------------------------------------
// Mach-O (thin and fat)

export function machoShape(b: Uint8Array, base = 0): Shape | undefined {
  const r0 = new Reader(b, false);
  const be = r0.u32(base);
  if (base === 0 && (be === 0xcafebabe || be === 0xcafebabf)) {
    const B = new Builder(b.length, false);
    const n = Math.min(Math.max(r0.u32(4), 0), 16);
    const wide = be === 0xcafebabf;
    const ent = wide ? 32 : 20;
    B.fields(0, [
      [0, 4],
      [4, 4],
    ]);
    B.region("fat header", 0, 8 + n * ent, "bytes", 2);
    const parts: Shape[] = [];
    for (let i = 0; i < n; i++) {
      const p = 8 + i * ent;
      if (wide) {
        B.fields(p, [
          [0, 4],
          [4, 4],
          [8, 8],
          [16, 8],
          [24, 4],
        ]);
      } else {
        B.fields(p, [
          [0, 4],
          [4, 4],
          [8, 4],
          [12, 4],
          [16, 4],
        ]);
      }
      const off = wide ? r0.u64(p + 8) : r0.u32(p + 8);
      B.boundary(p, off);
      if (off > 0 && off < b.length) {
        const s = machoShape(b, off);
        if (s !== undefined) parts.push(s);
      }
    }
    return mergeShapes(B.done(), ...parts);
  }
  const le32 = r0.u32(base);
  let le: boolean;
  if (le32 === 0xcefaedfe || le32 === 0xcffaedfe) le = true;
  else if (le32 === 0xfeedface || le32 === 0xfeedfacf) le = false;
  else return undefined;
  const r = new Reader(b, le);
  const is64 = (le ? r.u32(base) : r0.u32(base)) === 0xfeedfacf;
  const B = new Builder(b.length, le);
  B.fields(base, [
    [4, 4],
    [8, 4],
    [12, 4],
    [16, 4],
    [20, 4],
    [24, 4],
  ]);
  const hdr = is64 ? 32 : 28;
  B.region("mach header", base, base + hdr, "bytes", 2);
  const ncmds = Math.min(Math.max(r.u32(base + 16), 0), MAX_HEADERS);
  const sizeofcmds = r.u32(base + 20);
  B.region("load commands", base + hdr, base + hdr + Math.max(0, sizeofcmds), "bytes", 3);
  let off = base + hdr;
  for (let i = 0; i < ncmds && r.ok(off, 8); i++) {
    const cmd = r.u32(off);
    const size = r.u32(off + 4);
    B.fields(off, [
      [0, 4],
      [4, 4],
    ]);
    B.boundary(off, off + 8);
    if (cmd === 0x19 || cmd === 0x1) {
      const w64 = cmd === 0x19;
      const ps: 4 | 8 = w64 ? 8 : 4;
      // vmaddr, vmsize, fileoff, filesize, maxprot, initprot, nsects, flags
      B.fields(off, [
        [24, ps],
        [24 + ps, ps],
        [24 + 2 * ps, ps],
        [24 + 3 * ps, ps],
        [24 + 4 * ps, 4],
        [28 + 4 * ps, 4],
        [32 + 4 * ps, 4],
        [36 + 4 * ps, 4],
      ]);
      const nsects = Math.min(Math.max(r.u32(off + 32 + 4 * ps), 0), 64);
      const sect0 = off + 40 + 4 * ps;
      const sectSize = w64 ? 80 : 68;
      for (let k = 0; k < nsects; k++) {
        const s = sect0 + k * sectSize;
        B.fields(s, [
          [32, ps],
          [32 + ps, ps],
          [32 + 2 * ps, 4],
          [36 + 2 * ps, 4],
          [40 + 2 * ps, 4],
          [44 + 2 * ps, 4],
          [48 + 2 * ps, 4],
        ]);
        const so = r.u32(s + 32 + 2 * ps);
        const ss = ps === 8 ? r.u64(s + 40) : r.u32(s + 36);
        if (so > 0) B.boundary(base + so, base + so + Math.max(0, ss));
      }
    } else if (cmd === 0x2) {
      B.fields(off, [
        [8, 4],
        [12, 4],
        [16, 4],
        [20, 4],
      ]);
      const symoff = r.u32(off + 8);
      const nsyms = r.u32(off + 12);
      const stroff = r.u32(off + 16);
      const ent = is64 ? 16 : 12;
      if (symoff > 0) {
        B.region("nlist", base + symoff, base + symoff + Math.min(nsyms, 64) * ent);
        for (let k = 0; k < Math.min(nsyms, 16); k++)
          B.fields(base + symoff + k * ent, [
            [0, 4],
            [4, 1],
            [5, 1],
            [6, 2],
            [8, is64 ? 8 : 4],
          ]);
        B.boundary(base + symoff, base + symoff + nsyms * ent);
      }
      if (stroff > 0) B.region("string table", base + stroff, base + stroff + 2048, "text", 0.3);
    } else if (cmd === 0xb) {
      for (let k = 8; k < 80; k += 4) B.field(off + k, 4);
    } else if (cmd === 0x1b) {
      B.region("uuid", off + 8, off + 24, "bytes", 0.5);
    } else if (cmd === 0x80000028 || cmd === 0x28 || cmd === 0x5) {
      for (let k = 8; k < Math.min(size, 200); k += 4) B.field(off + k, 4);
    }
    if (size < 8) break;
    off += size;
  }
  B.boundary(off);
  return B.done();
}

// ---------------------------------------------------------------------------------------------
// PE

export function peShape(b: Uint8Array): Shape | undefined {
  if (b.length < 0x40 || b[0] !== 0x4d || b[1] !== 0x5a) return undefined;
  const r = new Reader(b, true);
  const B = new Builder(b.length, true);
  B.field(0x3c, 4);
  const lf = r.u32(0x3c);
  if (lf < 0 || !r.ok(lf, 24)) return B.done();
  B.region("PE headers", lf, lf + 24 + 240, "bytes", 3);
  B.fields(lf + 4, [
    [0, 2],
    [2, 2],
    [4, 4],
    [8, 4],
    [12, 4],
    [16, 2],
    [18, 2],
  ]);
  const nsect = r.u16(lf + 6);
  const optSize = r.u16(lf + 20);
  const opt = lf + 24;
  const magic = r.u16(opt);
  const plus = magic === 0x20b;
  B.field(opt, 2);
  for (let k = 4; k < Math.min(optSize, 240); k += 4) B.field(opt + k, 4);
  if (plus) B.field(opt + 24, 8);
  B.boundary(opt, opt + optSize);
  const sh = opt + optSize;
  const n = Math.min(Math.max(nsect, 0), 96);
  B.region("section table", sh, sh + n * 40, "bytes", 3);
  for (let i = 0; i < n; i++) {
    const p = sh + i * 40;
    B.fields(p, [
      [8, 4],
      [12, 4],
      [16, 4],
      [20, 4],
      [24, 4],
      [32, 2],
      [36, 4],
    ]);
    B.region(`section ${i} name`, p, p + 8, "text", 0.3);
    const raw = r.u32(p + 20);
    const rawSize = r.u32(p + 16);
    if (raw > 0) B.boundary(raw, raw + rawSize);
  }
  const symoff = r.u32(lf + 12);
  const nsyms = r.u32(lf + 16);
  if (symoff > 0 && nsyms > 0) {
    B.region("COFF symbols", symoff, symoff + Math.min(nsyms, 64) * 18);
    for (let k = 0; k < Math.min(nsyms, 16); k++)
      B.fields(symoff + k * 18, [
        [4, 4],
        [8, 4],
        [12, 2],
        [14, 2],
        [16, 1],
        [17, 1],
      ]);
    const strtab = symoff + nsyms * 18;
    B.field(strtab, 4);
    B.region("COFF strings", strtab, strtab + 2048, "text", 0.3);
    B.boundary(symoff, strtab, strtab + 4);
  }
  return B.done();
}

/** Shape of any executable container (ELF, Mach-O thin/fat, PE); empty when unknown. */
export function containerShape(b: Uint8Array): Shape {
  return elfShape(b)?.shape ?? machoShape(b) ?? peShape(b) ?? emptyShape();
}

// ---------------------------------------------------------------------------------------------
// Go buildinfo / build ID blobs inside a binary (found by their magic)

const BUILDINFO_MAGIC = Buffer.from("\xff Go buildinf:", "latin1");
const BUILDID_MAGIC = Buffer.from('\xff Go build ID: "', "latin1");

export function goBlobShape(b: Uint8Array): Shape {
  const B = new Builder(b.length, true);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const bi = buf.indexOf(BUILDINFO_MAGIC);
  if (bi >= 0) {
    const ps = b[bi + 14] === 8 ? 8 : 4;
    const le = ((b[bi + 15] ?? 0) & 1) === 0;
    B.field(bi + 14, 1);
    B.field(bi + 15, 1);
    B.field(bi + 16, ps, le);
    B.field(bi + 16 + ps, ps, le);
    B.region("buildinfo header", bi, bi + 32, "bytes", 4);
    // 1.18+: two varint-prefixed strings after the 32-byte header.
    B.region("buildinfo strings", bi + 32, bi + 32 + 48, "varint", 3);
    B.region("modinfo", bi + 32, bi + 32 + 4096, "text", 4);
    B.s.varints.push([bi + 32, bi + 33]);
    let p = bi + 32;
    for (let k = 0; k < 2 && p < b.length; k++) {
      const start = p;
      let n = 0;
      let mul = 1;
      while (p < b.length && p < start + 10) {
        const c = b[p++]!;
        n += (c & 0x7f) * mul;
        mul *= 128;
        if (c < 0x80) break;
      }
      B.s.varints.push([start, p]);
      B.boundary(start, p, p + n);
      p += n;
    }
    B.boundary(bi, bi + 14, bi + 16, bi + 32);
  }
  const id = buf.indexOf(BUILDID_MAGIC);
  if (id >= 0) {
    B.region("Go build ID", id, id + 120, "text", 1);
    B.boundary(id + 16, id + 60);
  }
  return B.done();
}

// ---------------------------------------------------------------------------------------------
// Protocol buffers (pprof)

function readVarint(b: Uint8Array, pos: number, end: number): [number, number] | undefined {
  let x = 0;
  let mul = 1;
  for (let i = 0; i < 10 && pos + i < end; i++) {
    const c = b[pos + i]!;
    x += (c & 0x7f) * mul;
    if (c < 0x80) return [x, pos + i + 1];
    mul *= 128;
  }
  return undefined;
}

/** Walks a protobuf message; nested length-delimited fields that parse as messages are walked too. */
export function protoShape(b: Uint8Array): Shape {
  const s = emptyShape();
  const walk = (start: number, end: number, depth: number, out: Shape): boolean => {
    let pos = start;
    while (pos < end) {
      const fieldStart = pos;
      const t = readVarint(b, pos, end);
      if (t === undefined) return false;
      const [tag, p1] = t;
      if (tag >>> 3 === 0 && tag < 8) return false;
      out.varints.push([pos, p1]);
      pos = p1;
      switch (tag % 8) {
        case 0: {
          const v = readVarint(b, pos, end);
          if (v === undefined) return false;
          out.varints.push([pos, v[1]]);
          pos = v[1];
          break;
        }
        case 1:
          pos += 8;
          break;
        case 5:
          pos += 4;
          break;
        case 2: {
          const l = readVarint(b, pos, end);
          if (l === undefined) return false;
          out.varints.push([pos, l[1]]);
          pos = l[1];
          if (pos + l[0] > end) return false;
          if (depth < 3 && l[0] > 0) {
            const inner = emptyShape();
            if (walk(pos, pos + l[0], depth + 1, inner)) {
              out.varints.push(...inner.varints);
              out.boundaries.push(...inner.boundaries);
            }
          }
          pos += l[0];
          break;
        }
        default:
          return false;
      }
      if (pos > end) return false;
      if (depth === 0) s.spans.push([fieldStart, pos]);
      out.boundaries.push(fieldStart);
    }
    return true;
  };
  walk(0, b.length, 0, s);
  s.varints = thin(s.varints, 50_000);
  s.spans = thin(s.spans, 20_000);
  s.boundaries = thin(s.boundaries, 5000);
  s.regions.push({ name: "message", start: 0, end: b.length, kind: "varint" });
  return s;
}
