/**
 * Linux ELF core files: the notes (threads' registers, process info, the fatal signal, mapped
 * files, the auxiliary vector) and the PT_LOAD segments as a sparse address space.
 *
 * Only headers and notes are read at open; memory is read on demand through the ByteSource (a core
 * can be gigabytes of mostly-absent pages). Every count comes from untrusted bytes and is capped;
 * a malformed note is skipped with a warning rather than failing the whole core.
 *
 * Layouts (linux/include/uapi/linux/elfcore.h, asm/ptrace.h; §7 of go-binary-formats.md):
 * elf_prstatus (64-bit): si_signo/si_code/si_errno @0, pr_cursig u16 @12, pr_pid @32, pr_reg @112.
 * x86-64 pr_reg: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags
 * rsp ss fs_base gs_base ds es fs gs. aarch64 pr_reg: x0–x30, sp, pc, pstate.
 */
import { Cursor, decodeUtf8 } from "../bytes/cursor.js";
import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import { type ElfFile, openElf } from "../object/elf.js";
import type { Arch } from "../object/types.js";

const F = "core";

export const NT_PRSTATUS = 1;
export const NT_PRPSINFO = 3;
export const NT_AUXV = 6;
export const NT_ARM_TLS = 0x401;
export const NT_SIGINFO = 0x53494749;
export const NT_FILE = 0x46494c45;

export const AT_PHDR = 3;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_ENTRY = 9;
export const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;

/** Most threads we keep (a process with more is refused as implausible). */
const MAX_THREADS = 100_000;
/** Most NT_FILE entries we keep. */
const MAX_FILES = 1_000_000;
/** Most PT_LOAD segments indexed. */
const MAX_LOADS = 1_000_000;

/** Registers of one thread, by name (amd64: rip, rsp, rbp, r14, fs_base...; arm64: x0–x30, sp, pc). */
export interface ThreadRegs {
  /** Program counter. */
  pc: number;
  sp: number;
  /** Frame pointer: rbp (amd64) / x29 (arm64). */
  fp: number;
  /** Link register (arm64 x30); 0 on amd64. */
  lr: number;
  /** Register holding the current g in Go code: r14 (amd64, Go 1.17+) / x28 (arm64). */
  gReg: number;
  /** amd64 fs_base (TLS base); arm64 tpidr_el0 from NT_ARM_TLS when present; 0 when unknown. */
  tls: number;
  /** All registers by name, for reports. Values above 2^53 are kept as -1. */
  all: Record<string, number>;
}

export interface CoreThread {
  /** Kernel thread id (pr_pid). */
  tid: number;
  /** pr_cursig: the signal that stopped this thread (the fatal one for the dumping thread). */
  signal: number;
  regs: ThreadRegs;
  /** Index of its NT_PRSTATUS note (the kernel writes the thread that dumped first). */
  index: number;
}

export interface CoreSigInfo {
  signo: number;
  code: number;
  errno: number;
  /** si_addr for faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE). */
  addr?: number;
  /** Sender pid for kill/tkill (si_code <= 0). */
  pid?: number;
}

export interface CorePsInfo {
  pid: number;
  ppid: number;
  uid: number;
  /** pr_fname: executable name (at most 15 characters). */
  fname: string;
  /** pr_psargs: the start of the command line (at most 80 characters). */
  args: string;
  state: number;
}

export interface MappedFile {
  start: number;
  end: number;
  /** File offset in bytes. */
  offset: number;
  path: string;
}

export interface LoadSegment {
  vaddr: number;
  memSize: number;
  fileSize: number;
  offset: number;
  read: boolean;
  write: boolean;
  exec: boolean;
}

export interface ElfCore {
  arch: Arch;
  littleEndian: boolean;
  ptrSize: 4 | 8;
  threads: CoreThread[];
  siginfo?: CoreSigInfo;
  psinfo?: CorePsInfo;
  /** Auxiliary vector (type → value), first occurrence of each type. */
  auxv: Map<number, number>;
  files: MappedFile[];
  /** PT_LOAD segments sorted by address. */
  loads: LoadSegment[];
  /** Problems met while reading the notes (malformed notes are skipped, not fatal). */
  warnings: string[];
  source: ByteSource;
}

const AMD64_REGS = [
  "r15",
  "r14",
  "r13",
  "r12",
  "rbp",
  "rbx",
  "r11",
  "r10",
  "r9",
  "r8",
  "rax",
  "rcx",
  "rdx",
  "rsi",
  "rdi",
  "orig_rax",
  "rip",
  "cs",
  "eflags",
  "rsp",
  "ss",
  "fs_base",
  "gs_base",
  "ds",
  "es",
  "fs",
  "gs",
] as const;

const ARM64_REGS: string[] = [...Array.from({ length: 31 }, (_, i) => `x${i}`), "sp", "pc", "pstate"];

/** A u64 as an exact JS number, or -1 when it does not fit (kernel addresses, sign-extended values). */
function u64n(c: Cursor, off: number): number {
  const v = c.u64bigAt(off);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? -1 : Number(v);
}

function parsePrstatus(desc: Uint8Array, arch: Arch, le: boolean, index: number): CoreThread {
  const c = new Cursor(desc, le, F);
  const names = arch === "amd64" ? AMD64_REGS : ARM64_REGS;
  const need = 112 + 8 * names.length;
  if (desc.length < need) {
    throw new GosymdError("truncated", `NT_PRSTATUS is ${desc.length} bytes, needs ${need}`, {
      format: F,
      field: "NT_PRSTATUS",
    });
  }
  const all: Record<string, number> = {};
  names.forEach((n, i) => {
    all[n] = u64n(c, 112 + 8 * i);
  });
  const g = (n: string): number => Math.max(all[n] ?? 0, 0);
  const regs: ThreadRegs =
    arch === "amd64"
      ? { pc: g("rip"), sp: g("rsp"), fp: g("rbp"), lr: 0, gReg: g("r14"), tls: g("fs_base"), all }
      : { pc: g("pc"), sp: g("sp"), fp: g("x29"), lr: g("x30"), gReg: g("x28"), tls: 0, all };
  return { tid: c.u32At(32), signal: c.u16At(12), regs, index };
}

function parseSiginfo(desc: Uint8Array, le: boolean): CoreSigInfo {
  const c = new Cursor(desc, le, F);
  const si: CoreSigInfo = { signo: c.i32At(0), errno: c.i32At(4), code: c.i32At(8) };
  const fault = [4, 5, 7, 8, 11]; // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV
  if (si.code > 0 && fault.includes(si.signo) && desc.length >= 24) {
    const a = u64n(c, 16);
    if (a >= 0) si.addr = a;
  } else if (si.code <= 0 && desc.length >= 20) si.pid = c.i32At(16);
  return si;
}

function cstr(b: Uint8Array, start: number, len: number): string {
  let end = start;
  while (end < start + len && end < b.length && b[end] !== 0) end++;
  return decodeUtf8(b, start, end);
}

function parsePsinfo(desc: Uint8Array, le: boolean): CorePsInfo {
  const c = new Cursor(desc, le, F);
  c.check(0, 136, "NT_PRPSINFO");
  return {
    state: c.u8At(0),
    uid: c.u32At(16),
    pid: c.u32At(24),
    ppid: c.u32At(28),
    fname: cstr(desc, 40, 16),
    args: cstr(desc, 56, 80).trim(),
  };
}

function parseAuxv(desc: Uint8Array, le: boolean): Map<number, number> {
  const c = new Cursor(desc, le, F);
  const m = new Map<number, number>();
  for (let p = 0; p + 16 <= desc.length; p += 16) {
    const t = u64n(c, p);
    if (t === 0) break;
    const v = u64n(c, p + 8);
    if (t > 0 && v >= 0 && !m.has(t)) m.set(t, v);
  }
  return m;
}

function parseFiles(desc: Uint8Array, le: boolean): MappedFile[] {
  const c = new Cursor(desc, le, F);
  const count = u64n(c, 0);
  const page = u64n(c, 8);
  if (count < 0 || page < 0 || count > MAX_FILES || 16 + count * 24 > desc.length) {
    throw new GosymdError(
      "corrupt",
      `NT_FILE announces ${count} entries that do not fit its ${desc.length} bytes`,
      {
        format: F,
        field: "NT_FILE",
      },
    );
  }
  const out: MappedFile[] = [];
  let names = 16 + count * 24;
  for (let i = 0; i < count; i++) {
    const o = 16 + i * 24;
    let end = desc.indexOf(0, names);
    if (end < 0) end = desc.length;
    const path = decodeUtf8(desc, names, Math.min(end, names + 4096));
    names = end + 1;
    const start = u64n(c, o);
    const stop = u64n(c, o + 8);
    const pg = u64n(c, o + 16);
    if (start < 0 || stop < start || pg < 0 || !Number.isSafeInteger(pg * page)) continue;
    out.push({ start, end: stop, offset: pg * page, path });
  }
  return out;
}

/** Largest note region read (real cores carry a few MB: registers and XSAVE state per thread). */
const MAX_NOTE_REGION = 64 * 1024 * 1024;

interface RawNote {
  name: string;
  type: number;
  desc: Uint8Array;
}

/**
 * The notes of every PT_NOTE segment. A segment cut short by a truncated core keeps the notes that
 * are whole; a malformed entry ends that segment (what readelf does too).
 */
function readNotes(elf: ElfFile, source: ByteSource, le: boolean, warnings: string[]): RawNote[] {
  const out: RawNote[] = [];
  for (const p of elf.programs) {
    if (p.type !== 4 || p.fileSize <= 0 || p.offset < 0) continue;
    const avail = Math.min(p.fileSize, Math.max(0, source.size - p.offset));
    if (avail < p.fileSize)
      warnings.push(`PT_NOTE is cut short: ${avail} of ${p.fileSize} bytes (truncated core)`);
    if (avail > MAX_NOTE_REGION) {
      throw new GosymdError("limit_exceeded", `note segment of ${avail} bytes is too large`, {
        format: F,
        field: "PT_NOTE",
        offset: p.offset,
      });
    }
    if (avail < 12) continue;
    const b = source.read(p.offset, avail, "PT_NOTE");
    const c = new Cursor(b, le, F, p.offset);
    const align = p.align === 8 ? 8 : 4;
    const pad = (n: number) => Math.ceil(n / align) * align;
    let pos = 0;
    while (pos + 12 <= b.length) {
      const namesz = c.u32At(pos);
      const descsz = c.u32At(pos + 4);
      const type = c.u32At(pos + 8);
      const nameStart = pos + 12;
      if (namesz > b.length - nameStart) break;
      const descStart = nameStart + pad(namesz);
      if (descStart > b.length || descsz > b.length - descStart) {
        warnings.push(`note at offset ${p.offset + pos} runs past its segment`);
        break;
      }
      out.push({ name: cstr(b, nameStart, namesz), type, desc: b.subarray(descStart, descStart + descsz) });
      if (out.length > 1_000_000) {
        throw new GosymdError("limit_exceeded", "more than 1000000 notes", { format: F, field: "PT_NOTE" });
      }
      pos = descStart + pad(descsz);
    }
  }
  return out;
}

/** Reads an ELF core's headers and notes. Throws `not_executable`/`invalid_argument` when it is not a core. */
export function openElfCore(source: ByteSource): ElfCore {
  let elf: ElfFile;
  try {
    elf = openElf(source);
  } catch (e) {
    if (e instanceof GosymdError && e.kind === "not_executable") {
      throw new GosymdError("invalid_argument", "not a core file: not an ELF file", {
        format: F,
        offset: 0,
        hint: "pass an ELF core dump (written by the kernel with `ulimit -c unlimited`, or by gcore)",
      });
    }
    throw e;
  }
  if (elf.type !== "core") {
    throw new GosymdError("invalid_argument", `not a core file: ELF type is ${elf.type}`, {
      format: F,
      field: "e_type",
      offset: 16,
      hint: "pass the core dump as --core and the program as --binary",
    });
  }
  if (elf.arch !== "amd64" && elf.arch !== "arm64") {
    throw new GosymdError(
      "unsupported",
      `core files of ${elf.arch} are not supported (amd64 and arm64 are)`,
      {
        format: F,
        field: "e_machine",
        offset: 18,
      },
    );
  }
  const le = elf.littleEndian;
  const warnings: string[] = [];
  const threads: CoreThread[] = [];
  let siginfo: CoreSigInfo | undefined;
  let psinfo: CorePsInfo | undefined;
  let auxv = new Map<number, number>();
  let files: MappedFile[] = [];
  const tls: number[] = [];
  const notes = readNotes(elf, source, le, warnings);
  for (const n of notes) {
    try {
      if (n.name === "CORE" && n.type === NT_PRSTATUS) {
        if (threads.length >= MAX_THREADS) {
          throw new GosymdError("limit_exceeded", `more than ${MAX_THREADS} threads`, {
            format: F,
            field: "NT_PRSTATUS",
          });
        }
        threads.push(parsePrstatus(n.desc, elf.arch, le, threads.length));
      } else if (n.name === "CORE" && n.type === NT_SIGINFO && siginfo === undefined)
        siginfo = parseSiginfo(n.desc, le);
      else if (n.name === "CORE" && n.type === NT_PRPSINFO && psinfo === undefined)
        psinfo = parsePsinfo(n.desc, le);
      else if (n.name === "CORE" && n.type === NT_AUXV && auxv.size === 0) auxv = parseAuxv(n.desc, le);
      else if (n.name === "CORE" && n.type === NT_FILE && files.length === 0) files = parseFiles(n.desc, le);
      else if (n.name === "LINUX" && n.type === NT_ARM_TLS && n.desc.length >= 8) {
        // Follows the NT_PRSTATUS of its thread.
        const v = u64n(new Cursor(n.desc, le, F), 0);
        tls[threads.length - 1] = v;
      }
    } catch (e) {
      if (e instanceof GosymdError && e.kind === "limit_exceeded") throw e;
      if (!(e instanceof GosymdError)) throw e;
      warnings.push(`skipped a malformed ${n.name} note of type 0x${n.type.toString(16)}: ${e.message}`);
    }
  }
  tls.forEach((v, i) => {
    const t = threads[i];
    if (t !== undefined && v > 0) t.regs.tls = v;
  });
  if (threads.length === 0) warnings.push("the core has no NT_PRSTATUS note: no thread registers");

  const loads: LoadSegment[] = [];
  for (const p of elf.programs) {
    if (p.type !== 1) continue;
    if (p.vaddr < 0 || p.memSize < 0 || p.fileSize < 0 || p.offset < 0) continue;
    if (!Number.isSafeInteger(p.vaddr + p.memSize)) continue;
    if (loads.length >= MAX_LOADS) {
      throw new GosymdError("limit_exceeded", `more than ${MAX_LOADS} PT_LOAD segments`, {
        format: F,
        field: "program headers",
      });
    }
    // What the file really holds of this segment (a truncated core holds less than p_filesz).
    const inFile = Math.max(0, Math.min(p.fileSize, p.memSize, source.size - p.offset));
    if (inFile < Math.min(p.fileSize, p.memSize)) {
      warnings.push(
        `PT_LOAD at 0x${p.vaddr.toString(16)} is cut short: ${inFile} of ${p.fileSize} bytes are in the file (truncated core)`,
      );
    }
    loads.push({
      vaddr: p.vaddr,
      memSize: p.memSize,
      fileSize: inFile,
      offset: p.offset,
      read: (p.flags & 4) !== 0,
      write: (p.flags & 2) !== 0,
      exec: (p.flags & 1) !== 0,
    });
  }
  loads.sort((a, b) => a.vaddr - b.vaddr);
  const out: ElfCore = {
    arch: elf.arch,
    littleEndian: le,
    ptrSize: elf.ptrSize,
    threads,
    auxv,
    files,
    loads,
    warnings,
    source,
  };
  if (siginfo !== undefined) out.siginfo = siginfo;
  if (psinfo !== undefined) out.psinfo = psinfo;
  return out;
}
