/**
 * The pclntab header: magic, quantum, pointer size and the offsets of the sub-tables, for the four
 * generations of the format (Go 1.2–1.15, 1.16–1.17, 1.18–1.19, 1.20+). See
 * shared/docs/go-binary-formats.md §1.1–§1.3 and Go's src/debug/gosym/pclntab.go.
 */
import { GosymdError, truncated } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import type { PclntabVersion } from "../symtab/api.js";

export const MAGIC_12 = 0xfffffffb;
export const MAGIC_116 = 0xfffffffa;
export const MAGIC_118 = 0xfffffff0;
export const MAGIC_120 = 0xfffffff1;

const FORMAT = "pclntab";

export interface PclnHeader {
  version: PclntabVersion;
  magic: number;
  littleEndian: boolean;
  quantum: 1 | 2 | 4;
  ptrSize: 4 | 8;
  nfunc: number;
  /** 1.16+: header's file count; 1.2–1.15: entries in filetab (including the count word). */
  nfiles: number;
  /** 1.18+: the header's textStart word as stored in the file (0 in Go 1.26+; may be unrelocated in PIE). */
  textStartField: number;
  /** Byte offsets (from the pclntab start) and ends of the sub-tables. */
  funcnametab: number;
  funcnametabEnd: number;
  cutab: number;
  cutabEnd: number;
  filetab: number;
  filetabEnd: number;
  pctab: number;
  pctabEnd: number;
  /** Base that functab `funcoff` values are relative to (1.2–1.15: 0; 1.16+: pclnOffset). */
  funcdataBase: number;
  /** Where the functab starts and the size of one field in it (ptr before 1.18, 4 after). */
  functab: number;
  functabFieldSize: 4 | 8;
}

/** Reads a pointer-sized unsigned value; throws `unsupported` above 2^53. */
function word(dv: DataView, off: number, ptrSize: number, le: boolean, field: string): number {
  if (off + ptrSize > dv.byteLength) throw truncated(FORMAT, field, off, ptrSize);
  if (ptrSize === 4) return dv.getUint32(off, le);
  const lo = dv.getUint32(off + (le ? 0 : 4), le);
  const hi = dv.getUint32(off + (le ? 4 : 0), le);
  if (hi >= 0x200000) {
    throw new GosymdError("corrupt", `${field} value is implausibly large`, {
      format: FORMAT,
      field,
      offset: off,
    });
  }
  return hi * 0x1_0000_0000 + lo;
}

export function magicVersion(magic: number): PclntabVersion | undefined {
  switch (magic) {
    case MAGIC_12:
      return "1.2";
    case MAGIC_116:
      return "1.16";
    case MAGIC_118:
      return "1.18";
    case MAGIC_120:
      return "1.20";
    default:
      return undefined;
  }
}

/**
 * Quick plausibility check used by the magic scan: a known magic in either byte order, two zero
 * bytes, quantum ∈ {1,2,4}, ptrSize ∈ {4,8}. Returns the byte order or undefined.
 */
export function sniffHeader(b: Uint8Array, off: number): { littleEndian: boolean } | undefined {
  if (off < 0 || off + 8 > b.length) return undefined;
  if (b[off + 4] !== 0 || b[off + 5] !== 0) return undefined;
  const q = b[off + 6]!;
  const p = b[off + 7]!;
  if ((q !== 1 && q !== 2 && q !== 4) || (p !== 4 && p !== 8)) return undefined;
  const le = (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
  const be = ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
  if (magicVersion(le) !== undefined) return { littleEndian: true };
  if (magicVersion(be) !== undefined) return { littleEndian: false };
  return undefined;
}

/**
 * Parses and validates the header. Every offset is checked against the table size; the
 * sub-tables must appear in the order the linker writes them. Throws GosymdError:
 * `unsupported` for an unknown magic (named in hex), `truncated`/`corrupt` otherwise.
 */
export function parseHeader(b: Uint8Array): PclnHeader {
  if (b.length < 16) throw truncated(FORMAT, "header", 0, 16);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le32 = dv.getUint32(0, true);
  const be32 = dv.getUint32(0, false);
  let littleEndian = true;
  let version = magicVersion(le32);
  if (version === undefined) {
    version = magicVersion(be32);
    littleEndian = false;
  }
  if (version === undefined) {
    throw new GosymdError(
      "unsupported",
      `unsupported pclntab magic 0x${le32.toString(16).padStart(8, "0")} (big-endian 0x${be32
        .toString(16)
        .padStart(8, "0")}); known: 0xfffffffb (Go 1.2–1.15), 0xfffffffa (1.16–1.17), ` +
        "0xfffffff0 (1.18–1.19), 0xfffffff1 (1.20+)",
      { format: FORMAT, field: "magic", offset: 0 },
    );
  }
  const magic = littleEndian ? le32 : be32;
  const q = b[6]!;
  const p = b[7]!;
  if (b[4] !== 0 || b[5] !== 0) {
    throw new GosymdError("corrupt", "pclntab header bytes 4–5 are not zero", {
      format: FORMAT,
      field: "header pad",
      offset: 4,
    });
  }
  if (q !== 1 && q !== 2 && q !== 4) {
    throw new GosymdError("corrupt", `pclntab pc quantum ${q} is not 1, 2 or 4`, {
      format: FORMAT,
      field: "quantum",
      offset: 6,
    });
  }
  if (p !== 4 && p !== 8) {
    throw new GosymdError("corrupt", `pclntab pointer size ${p} is not 4 or 8`, {
      format: FORMAT,
      field: "ptrSize",
      offset: 7,
    });
  }
  const quantum = q as 1 | 2 | 4;
  const ptrSize = p as 4 | 8;
  const len = b.length;
  const w = (i: number, name: string) => word(dv, 8 + i * ptrSize, ptrSize, littleEndian, name);

  const nfunc = w(0, "nfunc");
  if (nfunc > Limits.maxFuncs) {
    throw new GosymdError("limit_exceeded", `pclntab nfunc ${nfunc} is above the limit ${Limits.maxFuncs}`, {
      format: FORMAT,
      field: "nfunc",
      offset: 8,
    });
  }

  const h: PclnHeader = {
    version,
    magic,
    littleEndian,
    quantum,
    ptrSize,
    nfunc,
    nfiles: 0,
    textStartField: 0,
    funcnametab: 0,
    funcnametabEnd: len,
    cutab: 0,
    cutabEnd: 0,
    filetab: 0,
    filetabEnd: len,
    pctab: 0,
    pctabEnd: len,
    funcdataBase: 0,
    functab: 0,
    functabFieldSize: version === "1.18" || version === "1.20" ? 4 : ptrSize,
  };

  if (version === "1.2") {
    h.functab = 8 + ptrSize;
    const ftabSize = (nfunc * 2 + 1) * ptrSize;
    if (h.functab + ftabSize + 4 > len) throw truncated(FORMAT, "functab", h.functab, ftabSize + 4);
    const fileoff = dv.getUint32(h.functab + ftabSize, littleEndian);
    if (fileoff + 4 > len) throw truncated(FORMAT, "filetab", fileoff, 4);
    const nfiletab = dv.getUint32(fileoff, littleEndian);
    if (nfiletab > (len - fileoff) / 4) throw truncated(FORMAT, "filetab", fileoff, nfiletab * 4);
    h.filetab = fileoff;
    h.filetabEnd = fileoff + nfiletab * 4;
    h.nfiles = nfiletab;
    return h;
  }

  const hdrWords = version === "1.16" ? 7 : 8;
  if (8 + hdrWords * ptrSize > len) throw truncated(FORMAT, "header", 0, 8 + hdrWords * ptrSize);
  h.nfiles = w(1, "nfiles");
  let k = 2;
  if (version !== "1.16") h.textStartField = w(k++, "textStart");
  const names = ["funcnameOffset", "cuOffset", "filetabOffset", "pctabOffset", "pclnOffset"];
  const offs: number[] = [];
  for (const n of names) {
    const v = w(k++, n);
    if (v > len) {
      throw new GosymdError("corrupt", `pclntab ${n} ${v} is beyond the table's ${len} bytes`, {
        format: FORMAT,
        field: n,
        offset: 8 + (k - 1) * ptrSize,
      });
    }
    if (v < 8 + hdrWords * ptrSize || (offs.length > 0 && v < offs[offs.length - 1]!)) {
      throw new GosymdError("corrupt", `pclntab ${n} ${v} is out of order`, {
        format: FORMAT,
        field: n,
        offset: 8 + (k - 1) * ptrSize,
      });
    }
    offs.push(v);
  }
  const [fn, cu, ft, pc, pcln] = offs as [number, number, number, number, number];
  h.funcnametab = fn;
  h.funcnametabEnd = cu;
  h.cutab = cu;
  h.cutabEnd = ft;
  h.filetab = ft;
  h.filetabEnd = pc;
  h.pctab = pc;
  h.pctabEnd = pcln;
  h.funcdataBase = pcln;
  h.functab = pcln;
  const ftabSize = (nfunc * 2 + 1) * h.functabFieldSize;
  if (pcln + ftabSize > len) throw truncated(FORMAT, "functab", pcln, ftabSize);
  return h;
}
