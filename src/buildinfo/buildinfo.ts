/**
 * Go build information (what `go version -m` prints), read from the buildinfo blob the linker
 * writes since Go 1.13. Follows Go's src/debug/buildinfo/buildinfo.go (locating and decoding the
 * blob) and src/runtime/debug/mod.go (ParseBuildInfo), with two differences that suit untrusted
 * input: lines we cannot parse are skipped instead of failing the whole parse, and a blob that is
 * present but broken is a `corrupt`/`truncated` error rather than "not a Go executable".
 *
 * Where: ELF `.go.buildinfo`, else the first writable non-executable PT_LOAD; Mach-O
 * `__go_buildinfo`, else the first read-write segment; PE the first section whose characteristics
 * are INITIALIZED_DATA|READ|WRITE. The 32-byte header is searched at 16-byte-aligned offsets in
 * the first 64 KiB there (as Go does).
 */
import { Cursor, readUvarint, uvarintEnd } from "../bytes/cursor.js";
import { corrupt, GosymdError, truncated } from "../bytes/errors.js";
import { Limits } from "../bytes/limits.js";
import { readAt } from "../object/common.js";
import { goQuote, goQuotedPrefix, goUnquote } from "../object/gostrconv.js";
import { peCharacteristics } from "../object/pe.js";
import type { ObjectFile } from "../object/types.js";
import type { BuildInfo, BuildSetting, Module } from "./types.js";

const F = "buildinfo";
const MAGIC = Uint8Array.from(Buffer.from("\xff Go buildinf:", "latin1"));
const HEADER_SIZE = 32;
const ALIGN = 16;
const SEARCH_BYTES = 64 * 1024;
/** Longest Go version string we accept ("go1.22.3 X:boringcrypto" and such are short). */
const MAX_VERSION_BYTES = 1024;

const IMAGE_SCN_CNT_INITIALIZED_DATA = 0x40;
const IMAGE_SCN_MEM_READ = 0x40000000;
const IMAGE_SCN_MEM_WRITE = 0x80000000;
const IMAGE_SCN_ALIGN_32BYTES = 0x600000;

/** The raw strings of the blob: Go version and modinfo (sentinels stripped; "" when absent). */
export interface RawBuildInfo {
  goVersion: string;
  modinfo: string;
  /** Virtual address of the blob header. */
  addr: number;
}

/**
 * Bytes at `addr`, at most `max`, up to the end of the file-backed part of the segment holding
 * it (Go's ReadData semantics). Undefined when no segment holds `addr`.
 */
function readUpTo(
  obj: ObjectFile,
  addr: number,
  max: number,
): { bytes: Uint8Array; offset: number } | undefined {
  for (const seg of obj.segments) {
    if (seg.fileSize > 0 && addr >= seg.vaddr && addr < seg.vaddr + seg.fileSize) {
      const n = Math.min(max, seg.vaddr + seg.fileSize - addr);
      const offset = seg.offset + (addr - seg.vaddr);
      return { bytes: readAt(obj.source, offset, n, F, "data segment"), offset };
    }
  }
  for (const s of obj.sections) {
    if (s.alloc && s.fileSize > 0 && addr >= s.addr && addr < s.addr + s.fileSize) {
      const n = Math.min(max, s.addr + s.fileSize - addr);
      const offset = s.offset + (addr - s.addr);
      return { bytes: readAt(obj.source, offset, n, F, `section ${s.name}`), offset };
    }
  }
  return undefined;
}

/** The virtual address where the blob should be (Go's DataStart); undefined when there is no candidate. */
export function buildInfoDataStart(obj: ObjectFile): number | undefined {
  switch (obj.format) {
    case "elf": {
      const s = obj.section(".go.buildinfo");
      if (s !== undefined) return s.addr;
      const seg = obj.segments.find((p) => p.write && !p.exec && p.fileSize > 0);
      return seg?.vaddr;
    }
    case "macho": {
      const s = obj.section("__go_buildinfo");
      if (s !== undefined) return s.addr;
      const seg = obj.segments.find((p) => p.vaddr !== 0 && p.fileSize !== 0 && p.read && p.write && !p.exec);
      return seg?.vaddr;
    }
    case "pe": {
      const want = (IMAGE_SCN_CNT_INITIALIZED_DATA | IMAGE_SCN_MEM_READ | IMAGE_SCN_MEM_WRITE) >>> 0;
      const s = obj.sections.find(
        (x) =>
          x.addr !== obj.imageBase &&
          x.size !== 0 &&
          (peCharacteristics(x) & ~IMAGE_SCN_ALIGN_32BYTES) >>> 0 === want,
      );
      return s?.addr;
    }
    default:
      return undefined;
  }
}

function findMagic(b: Uint8Array): number {
  for (let i = 0; i + HEADER_SIZE <= b.length; i += ALIGN) {
    let ok = true;
    for (let k = 0; k < MAGIC.length; k++) {
      if (b[i + k] !== MAGIC[k]) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });

/**
 * `length` bytes at `addr` as the loader maps them: inside one readable segment's memory image,
 * the part past its file-backed bytes (.bss, .noptrbss, Mach-O zerofill, PE virtual size beyond
 * the raw data) reading as zeros. Undefined when no readable segment holds the whole range.
 * Only for a few header bytes: `length` is small, whatever the segment claims.
 */
function readMapped(obj: ObjectFile, addr: number, length: number): Uint8Array | undefined {
  const inFile = obj.readVirtual(addr, length);
  if (inFile !== undefined) return inFile;
  if (!Number.isSafeInteger(addr + length)) return undefined;
  for (const seg of obj.segments) {
    if (!seg.read || addr < seg.vaddr || addr + length > seg.vaddr + seg.memSize) continue;
    const out = new Uint8Array(length);
    const fileEnd = seg.vaddr + seg.fileSize;
    if (addr < fileEnd) {
      const n = Math.min(length, fileEnd - addr);
      out.set(readAt(obj.source, seg.offset + (addr - seg.vaddr), n, F, "data segment"), 0);
    }
    return out;
  }
  return undefined;
}

/**
 * Reads a Go string header {ptr, len} at `addr` and its bytes (pre-1.18 pointer form). The header
 * may lie in zero-initialized memory: Go 1.13–1.17 binaries built outside a module leave
 * runtime.modinfo "" — a header of zeros the linker puts in .bss (Mach-O __bss, PE .data past its
 * raw bytes), which is not in the file; `go version -m` reads such a binary as having no modules.
 * An empty string is empty whatever its data pointer; a non-empty one must be in the file.
 */
function readGoString(
  obj: ObjectFile,
  addr: number,
  ptrSize: 4 | 8,
  le: boolean,
  what: string,
  maxLen: number,
): Uint8Array {
  const hdr = readMapped(obj, addr, 2 * ptrSize);
  if (hdr === undefined) {
    throw corrupt(
      F,
      `${what} string header`,
      undefined,
      `${what} string header address 0x${addr.toString(16)} is in no readable segment`,
    );
  }
  const c = new Cursor(hdr, le, F);
  const len = c.ptrAt(ptrSize, ptrSize, `${what} length`);
  // The length first: an empty string's data pointer is not looked at (it may be anything).
  if (len === 0) return new Uint8Array(0);
  const data = c.ptrAt(0, ptrSize, `${what} data pointer`);
  if (len > maxLen) {
    throw new GosymdError("limit_exceeded", `${what} of ${len} bytes is above the limit ${maxLen}`, {
      format: F,
      field: what,
    });
  }
  const b = obj.readVirtual(data, len);
  if (b === undefined) {
    throw corrupt(
      F,
      `${what} data`,
      undefined,
      `${what} bytes at 0x${data.toString(16)} (+${len}) are not in the file`,
    );
  }
  return b;
}

/** Finds and decodes the blob; undefined when there is none (not a Go binary, or Go < 1.13). */
export function readRawBuildInfo(obj: ObjectFile): RawBuildInfo | undefined {
  const start = buildInfoDataStart(obj);
  if (start === undefined) return undefined;
  const win = readUpTo(obj, start, SEARCH_BYTES);
  if (win === undefined) return undefined;
  const i = findMagic(win.bytes);
  if (i < 0) return undefined;
  const hdrAddr = start + i;
  const hdrOff = win.offset + i;
  const h = win.bytes.subarray(i, i + HEADER_SIZE);
  const ptrSize = h[14]!;
  const flags = h[15]!;
  let goVersion: string;
  let mod: Uint8Array;
  if ((flags & 2) !== 0) {
    // 1.18+: uvarint-prefixed strings follow the header, in the same segment.
    // Read the version and the modinfo length first, then exactly the modinfo bytes.
    const strAddr = hdrAddr + HEADER_SIZE;
    const rest = readUpTo(obj, strAddr, 2 * 10 + MAX_VERSION_BYTES);
    if (rest === undefined) throw truncated(F, "inline strings", hdrOff + HEADER_SIZE);
    const b = rest.bytes;
    const vlen = readUvarint(b, 0);
    if (vlen < 0) throw truncated(F, "version length", rest.offset);
    let p = uvarintEnd;
    if (vlen > MAX_VERSION_BYTES)
      throw corrupt(F, "version length", rest.offset, `version length ${vlen} is implausible`);
    if (p + vlen > b.length) throw truncated(F, "version string", rest.offset + p, vlen);
    goVersion = utf8.decode(b.subarray(p, p + vlen));
    p += vlen;
    const mlen = readUvarint(b, p);
    if (mlen < 0) throw truncated(F, "modinfo length", rest.offset + p);
    const q = uvarintEnd;
    if (mlen > Limits.maxModInfoBytes) {
      throw new GosymdError("limit_exceeded", `modinfo of ${mlen} bytes is above the limit`, {
        format: F,
        field: "modinfo length",
        offset: rest.offset + p,
      });
    }
    if (mlen === 0) mod = new Uint8Array(0);
    else {
      const m = readUpTo(obj, strAddr + q, mlen);
      if (m === undefined || m.bytes.length < mlen)
        throw truncated(F, "modinfo string", rest.offset + q, mlen);
      mod = m.bytes;
    }
  } else {
    if (ptrSize !== 4 && ptrSize !== 8) {
      throw corrupt(F, "header pointer size", hdrOff + 14, `pointer size ${ptrSize} is not 4 or 8`);
    }
    const le = flags === 0;
    const c = new Cursor(h, le, F, hdrOff);
    const vAddr = c.ptrAt(16, ptrSize, "runtime.buildVersion pointer");
    const mAddr = c.ptrAt(16 + ptrSize, ptrSize, "runtime.modinfo pointer");
    goVersion = utf8.decode(readGoString(obj, vAddr, ptrSize, le, "runtime.buildVersion", MAX_VERSION_BYTES));
    mod = readGoString(obj, mAddr, ptrSize, le, "runtime.modinfo", Limits.maxModInfoBytes);
  }
  if (goVersion === "") throw corrupt(F, "version", hdrOff, "buildinfo blob has an empty Go version");
  // Strip the 16-byte binary sentinels around modinfo (cmd/go's infoStart/infoEnd) before decoding.
  const modinfo =
    mod.length >= 33 && mod[mod.length - 17] === 0x0a ? utf8.decode(mod.subarray(16, mod.length - 16)) : "";
  return { goVersion, modinfo, addr: hdrAddr };
}

function quoteKeyNeeded(key: string): boolean {
  return key.length === 0 || /[= \t\r\n"`]/.test(key);
}
function quoteValueNeeded(v: string): boolean {
  return /[ \t\r\n"`]/.test(v);
}

function moduleLine(elem: string[]): Module | undefined {
  if (elem.length !== 2 && elem.length !== 3) return undefined;
  return { path: elem[0]!, version: elem[1]!, sum: elem[2] ?? "" };
}

/**
 * runtime/debug.ParseBuildInfo, tolerant: a line it would reject is skipped. The Go version is not
 * part of modinfo; `goVersion` is left "".
 */
export function parseModInfo(data: string): Omit<BuildInfo, "goVersion"> {
  const out: Omit<BuildInfo, "goVersion"> = {
    path: "",
    main: { path: "", version: "", sum: "" },
    deps: [],
    settings: [],
  };
  let last: Module | undefined;
  let pos = 0;
  while (pos < data.length) {
    const nl = data.indexOf("\n", pos);
    if (nl < 0) break; // an unterminated last line is ignored, as Go does
    const line = data.slice(pos, nl);
    pos = nl + 1;
    if (line.startsWith("path\t")) {
      out.path = line.slice(5);
    } else if (line.startsWith("mod\t")) {
      const m = moduleLine(line.slice(4).split("\t"));
      if (m === undefined) continue;
      out.main = m;
      last = out.main;
    } else if (line.startsWith("dep\t")) {
      const m = moduleLine(line.slice(4).split("\t"));
      if (m === undefined) continue;
      out.deps.push(m);
      last = m;
    } else if (line.startsWith("=>\t")) {
      const elem = line.slice(3).split("\t");
      if (elem.length !== 3 || last === undefined) continue;
      last.replace = { path: elem[0]!, version: elem[1]!, sum: elem[2]! };
      last = undefined;
    } else if (line.startsWith("build\t")) {
      const s = parseBuildLine(line.slice(6));
      if (s !== undefined) out.settings.push(s);
    }
  }
  return out;
}

function parseBuildLine(kv: string): BuildSetting | undefined {
  if (kv.length < 1 || kv[0] === "=") return undefined;
  let key: string;
  let raw: string;
  if (kv[0] === "`" || kv[0] === '"') {
    const rawKey = goQuotedPrefix(kv);
    if (rawKey === undefined || kv.length === rawKey.length || kv[rawKey.length] !== "=") return undefined;
    const k = goUnquote(rawKey);
    if (k === undefined) return undefined;
    key = k;
    raw = kv.slice(rawKey.length + 1);
  } else {
    const eq = kv.indexOf("=");
    if (eq < 0) return undefined;
    key = kv.slice(0, eq);
    raw = kv.slice(eq + 1);
    if (quoteKeyNeeded(key)) return undefined;
  }
  let value = raw;
  if (raw.length > 0 && (raw[0] === "`" || raw[0] === '"')) {
    const v = goUnquote(raw);
    if (v === undefined) return undefined;
    value = v;
  } else if (quoteValueNeeded(raw)) {
    return undefined;
  }
  return { key, value };
}

/**
 * The binary's build information, or undefined when it has none (not Go, or built before Go 1.13,
 * or the blob was removed). Throws GosymdError (corrupt / truncated / limit_exceeded) when the blob
 * is there but broken.
 */
export function readBuildInfo(obj: ObjectFile): BuildInfo | undefined {
  const raw = readRawBuildInfo(obj);
  if (raw === undefined) return undefined;
  return { goVersion: raw.goVersion, ...parseModInfo(raw.modinfo) };
}

/**
 * The text form of runtime/debug.BuildInfo.String(): `go`, `path`, `mod`, `dep`, `=>` and `build`
 * lines, tab-separated, keys and values Go-quoted where Go quotes them. `go version -m FILE` prints
 * these lines (after the first) indented by a tab.
 */
export function formatBuildInfo(bi: BuildInfo): string {
  let s = "";
  if (bi.goVersion !== "") s += `go\t${bi.goVersion}\n`;
  if (bi.path !== "") s += `path\t${bi.path}\n`;
  const mod = (word: string, m: Module): void => {
    s += `${word}\t${m.path}\t${m.version}`;
    if (m.replace === undefined) s += `\t${m.sum}`;
    else {
      s += "\n";
      mod("=>", m.replace);
    }
    s += "\n";
  };
  const m = bi.main;
  if (m.path !== "" || m.version !== "" || m.sum !== "" || m.replace !== undefined) mod("mod", m);
  for (const d of bi.deps) mod("dep", d);
  for (const { key, value } of bi.settings) {
    s += `build\t${quoteKeyNeeded(key) ? goQuote(key) : key}=${quoteValueNeeded(value) ? goQuote(value) : value}\n`;
  }
  return s;
}
