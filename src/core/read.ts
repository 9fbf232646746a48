/**
 * `readCore`: every goroutine out of a Linux ELF core of a Go program, with the program's binary
 * (its pclntab; no DWARF, symbols optional), in the crash model that attribution consumes.
 *
 * Steps: the core's notes (threads, signal, mapped files, auxv) → load bias (AT_ENTRY − e_entry)
 * → does the binary match (the core's copy of its first page, moduledata pointing at its pclntab)
 * → goroutines (runtime.allgs, else a memory scan) and Ms (runtime.allm, else the ones goroutines
 * and threads point at) → threads mapped to Ms by m.procid → each thread's own stack (g0 or the
 * signal stack, through signal frames) → each goroutine unwound from its thread's registers (when
 * it is executing there), a signal context, its syscall state or its saved `sched` → every PC
 * expanded into inlined frames → the crashed goroutine (the current goroutine of the thread that
 * got the fatal signal), its panics (decoded from `_panic.arg`) and the signal.
 *
 * The core is read through a ByteSource on demand: a multi-gigabyte sparse core costs its headers,
 * notes, the goroutine stacks and a bounded block cache.
 */
import { GosymdError } from "../bytes/errors.js";
import type { ByteSource } from "../bytes/source.js";
import type { HeaderInfo } from "../crash/attribute.js";
import { packageOf } from "../crash/funcname.js";
import type { Goroutine, SignalInfo, StackFrame } from "../crash/types.js";
import { findModuledata } from "../gopclntab/locate.js";
import type { PclnTable } from "../gopclntab/table.js";
import { openObject } from "../object/open.js";
import type { ObjectFile, ObjSymbol } from "../object/types.js";
import type { BinaryInfo, GoBinary } from "../symtab/api.js";
import { openBinary, pclnTableOf } from "../symtab/binary.js";
import type { Frame } from "../symtab/types.js";
import { AT_ENTRY, type CoreSigInfo, type CoreThread, type ElfCore, openElfCore } from "./elfcore.js";
import {
  G_DEAD,
  G_RUNNING,
  G_STATUS_STRINGS,
  G_SYSCALL,
  G_WAITING,
  goMinorOf,
  type RuntimeLayout,
  runtimeLayout,
  signalName,
} from "./layout.js";
import { CoreMemory } from "./memory.js";
import { decodePanics, type PanicInfo } from "./panic.js";
import { type GInfo, type MInfo, readAllgs, readG, readGoString, readM, scanForGs } from "./runtime.js";
import { type RawFrame, type SignalContext, type UnwindEnv, type UnwindResult, unwind } from "./unwind.js";

const F = "core";

export interface ReadCoreOptions {
  /** An already decoded binary (from the cache); otherwise the binary source is decoded. */
  binary?: GoBinary;
  /** How to find goroutines: runtime.allgs when the binary has symbols ("auto"), or always scan. */
  discovery?: "auto" | "scan";
  /** Most goroutines read (default 1,000,000). */
  maxGoroutines?: number;
  /** Most physical frames walked per stack (default 10,000). */
  maxFrames?: number;
  /** Block cache for core reads (default 8 MiB). */
  cacheBytes?: number;
  /** Accept a core whose binary does not match (build ID / moduledata), with a warning. */
  allowMismatch?: boolean;
}

/** One physical frame of a stack, with its inlined expansion. */
export interface CoreFrame {
  /** Runtime PC (return address, or the exact PC of a trap context). */
  pc: number;
  sp: number;
  /** Runtime PC symbolized (pc or pc − 1). */
  lookup: number;
  /** Function entry (runtime address). */
  entry: number;
  /** Logical frames innermost first (inlined callees, then the physical function). */
  frames: Frame[];
}

export type StartContext =
  /** The thread's registers: the goroutine was executing on it. */
  | "registers"
  /** The context saved by the kernel when a signal interrupted it. */
  | "signal"
  /** g.syscallpc / syscallsp: blocked in a system call. */
  | "syscall"
  /** g.sched: parked, or switched to the system stack. */
  | "sched";

export interface CoreGoroutine {
  /** Address of the g. */
  addr: number;
  id: number;
  /** atomicstatus without the scan bit (runtime2.go _Gidle.._Gpreempted). */
  status: number;
  scan: boolean;
  /** What the runtime prints in brackets: the wait reason or the status name. */
  statusText: string;
  waitReason: string;
  /** g.waitsince (runtime nanotime; 0 when not recorded: the runtime sets it during GC). */
  waitSince: number;
  lockedToThread: boolean;
  /** The M it is on (g.m), when any. */
  m?: { addr: number; id: number };
  /** Thread id it runs on, when running on a thread of the core. */
  tid?: number;
  startedFrom: StartContext;
  frames: CoreFrame[];
  /** Why the walk ended ("top" is a complete stack). */
  stop: string;
  stopDetail: string;
  /** `created by` (g.gopc), when not the main goroutine. */
  createdBy?: { pc: number; function: string; file: string; line: number; entry: number };
  parentGoid: number;
  /** Panics of this goroutine, outermost first. */
  panics: PanicInfo[];
  crashed: boolean;
  /** Frame-pointer cross-check: frames checked, and those that disagreed with pcsp. */
  fpChecked: number;
  fpMismatches: number;
}

export interface CoreThreadInfo {
  tid: number;
  /** pr_cursig. */
  signal: number;
  pc: number;
  sp: number;
  m?: { addr: number; id: number };
  /** Which stack the thread's registers are on. */
  on: "g0" | "gsignal" | "goroutine" | "unknown";
  /** The goroutine it is executing or switched from (m.curg). */
  curg?: number;
  /** The thread's own frames (system stack), innermost first, up to a stack switch or signal frame. */
  frames: CoreFrame[];
  /** Signal frames met on its stacks, innermost first. */
  signals: Array<{ signo: number; name: string; code: number; addr?: number; pc: number; sp: number }>;
  /** Frames after the innermost signal frame (the interrupted context), when on the system stack. */
  interrupted: CoreFrame[];
}

export interface CoreResult {
  arch: "amd64" | "arm64";
  goVersion: string;
  /** What the binary is (build IDs, buildinfo, pclntab). */
  binaryInfo: BinaryInfo;
  /** Layout used for runtime structures and whether it was verified for this release. */
  layout: { version: string; verified: boolean };
  pid?: number;
  /** pr_fname / pr_psargs from NT_PRPSINFO. */
  command?: string;
  /** Executable path from NT_FILE (the mapping at the binary's load address). */
  executablePath?: string;
  /** Runtime minus link-time addresses (PIE load bias; 0 for fixed-address binaries). */
  bias: number;
  /** Build IDs in the core's copy of the binary's ELF header vs the binary's own. */
  buildIdCheck: "match" | "mismatch" | "unknown";
  /**
   * NT_SIGINFO: the signal that killed the process. Without that note (qemu-user cores, kernels
   * before 3.7) the dumping thread's pr_cursig, with code 0 and no address (see `warnings`).
   */
  fatalSignal?: CoreSigInfo & { name: string; description: string };
  threads: CoreThreadInfo[];
  /** Crashed goroutine first, then by id. Dead goroutines are left out (counted in `deadGoroutines`). */
  goroutines: CoreGoroutine[];
  deadGoroutines: number;
  /** Id of the crashed goroutine, when there is one. */
  crashedGoroutine?: number;
  /** What attribution needs besides the goroutines. */
  header: HeaderInfo;
  discovery: "allgs" | "scan";
  /** True when anything could not be read (truncated core, unreadable stacks). */
  partial: boolean;
  warnings: string[];
  stats: {
    goroutinesFound: number;
    gCandidates: number;
    memoryReads: number;
    memoryBytesRead: number;
    exeReads: number;
    fpChecked: number;
    fpMismatches: number;
  };
}

interface Env extends UnwindEnv {
  binary: GoBinary;
  layout: RuntimeLayout;
  minor: number;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function symbolMap(obj: ObjectFile, warnings: string[]): Map<string, ObjSymbol> {
  const m = new Map<string, ObjSymbol>();
  let syms: readonly ObjSymbol[] = [];
  try {
    syms = obj.symbols();
  } catch (e) {
    if (!(e instanceof GosymdError)) throw e;
    warnings.push(`the binary's symbol table is unreadable: ${e.message}`);
  }
  for (const s of syms) {
    const n = s.goName ?? s.name;
    if (n.startsWith("runtime.") && !m.has(n)) m.set(n, s);
  }
  return m;
}

/** Load bias: AT_ENTRY − e_entry for PIEs, checked to be page-aligned; 0 for fixed-address binaries. */
function loadBias(core: ElfCore, obj: ObjectFile, warnings: string[]): number {
  if (obj.type !== "dyn") return 0;
  const at = core.auxv.get(AT_ENTRY);
  if (at === undefined) {
    warnings.push("no AT_ENTRY in the core's auxiliary vector: assuming the PIE loaded at its link address");
    return 0;
  }
  const bias = at - obj.entry;
  if (bias % 4096 !== 0) warnings.push(`load bias ${hex(bias)} is not page-aligned`);
  return bias;
}

/**
 * Compares the build IDs in the core's copy of the binary's first page (the default
 * coredump_filter keeps the ELF header pages; Go's linker puts the build-ID notes there) with the
 * binary's: "match" when one agrees, "mismatch" when one is present and differs, else "unknown".
 */
function checkBuildIds(
  core: ElfCore,
  obj: ObjectFile,
  binary: GoBinary,
  bias: number,
): "match" | "mismatch" | "unknown" {
  const first = obj.segments.find((s) => s.offset === 0 && s.fileSize > 0);
  if (first === undefined) return "unknown";
  const addr = first.vaddr + bias;
  const load = core.loads.find((l) => l.vaddr <= addr && addr < l.vaddr + l.fileSize);
  if (load === undefined) return "unknown";
  const n = Math.min(4096, load.vaddr + load.fileSize - addr);
  if (n < 64) return "unknown";
  const page = core.source.read(load.offset + (addr - load.vaddr), n, "executable header page");
  const notes = pageNotes(page, core.littleEndian);
  const want = binary.info.buildIds;
  let verdict: "match" | "mismatch" | "unknown" = "unknown";
  for (const nt of notes) {
    let got: string | undefined;
    let expect: string | undefined;
    if (nt.name === "Go" && nt.type === 4) {
      got = Buffer.from(nt.desc).toString("utf8").replace(/\0+$/, "");
      expect = want.go;
    } else if (nt.name === "GNU" && nt.type === 3) {
      got = Buffer.from(nt.desc).toString("hex");
      expect = want.gnu;
    }
    if (got === undefined || expect === undefined) continue;
    if (got === expect) return "match";
    verdict = "mismatch";
  }
  return verdict;
}

/** Notes of the PT_NOTE segments that lie inside an ELF64 header page. */
function pageNotes(page: Uint8Array, le: boolean): Array<{ name: string; type: number; desc: Uint8Array }> {
  const out: Array<{ name: string; type: number; desc: Uint8Array }> = [];
  if (page[0] !== 0x7f || page[1] !== 0x45 || page[2] !== 0x4c || page[3] !== 0x46 || page[4] !== 2)
    return out;
  const dv = new DataView(page.buffer, page.byteOffset, page.byteLength);
  const u64 = (o: number) => (o + 8 <= page.length ? Number(dv.getBigUint64(o, le) & 0xffffffffn) : -1);
  const phoff = u64(32);
  const phentsize = dv.getUint16(54, le);
  const phnum = dv.getUint16(56, le);
  if (phoff < 0 || phentsize < 56) return out;
  for (let i = 0; i < phnum && phoff + (i + 1) * phentsize <= page.length; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, le) !== 4) continue;
    const off = u64(ph + 8);
    const size = u64(ph + 32);
    if (off < 0 || size < 0 || off + size > page.length) continue;
    let pos = off;
    while (pos + 12 <= off + size && out.length < 64) {
      const namesz = dv.getUint32(pos, le);
      const descsz = dv.getUint32(pos + 4, le);
      const type = dv.getUint32(pos + 8, le);
      const nameStart = pos + 12;
      const descStart = nameStart + Math.ceil(namesz / 4) * 4;
      if (namesz > 256 || descStart + descsz > off + size) break;
      let ne = nameStart;
      while (ne < nameStart + namesz && page[ne] !== 0) ne++;
      const name = Buffer.from(page.subarray(nameStart, ne)).toString("latin1");
      out.push({ name, type, desc: page.subarray(descStart, descStart + descsz) });
      pos = descStart + Math.ceil(descsz / 4) * 4;
    }
  }
  return out;
}

function resolveFrame(env: Env, r: RawFrame): CoreFrame {
  const res = env.binary.resolve(r.lookup - env.bias);
  return { pc: r.pc, sp: r.sp, lookup: r.lookup, entry: r.entry, frames: res.frames };
}

/** Reads every goroutine of a Go program's core. Throws GosymdError when the core is not usable at all. */
export function readCore(core: ByteSource, exe: ByteSource, opts: ReadCoreOptions = {}): CoreResult {
  const ec = openElfCore(core);
  const warnings = [...ec.warnings];
  const obj = openObject(exe);
  if (obj.format !== "elf" || (obj.os !== "linux" && obj.os !== "android")) {
    throw new GosymdError(
      "invalid_argument",
      `the binary is a ${obj.os} ${obj.format} file; a Linux ELF core needs a Linux ELF binary`,
      {
        format: F,
      },
    );
  }
  if (obj.arch !== ec.arch) {
    throw new GosymdError("invalid_argument", `the core is ${ec.arch} but the binary is ${obj.arch}`, {
      format: F,
      field: "e_machine",
      hint: "pass the binary that produced the core",
    });
  }
  const binary = opts.binary ?? openBinary(exe);
  const table = pclnTableOf(binary);
  if (table === undefined)
    throw new GosymdError("not_go", "the binary has no Go function table", { format: F });
  const goVersion = binary.info.goVersion;
  const layout = runtimeLayout(goVersion);
  if (goVersion === "")
    warnings.push(
      `the binary has no Go version (no buildinfo): assuming the go${layout.version} runtime layout`,
    );
  else if (!layout.verified)
    warnings.push(
      `no verified runtime layout for ${goVersion}: using go${layout.version}'s; results may be incomplete`,
    );
  const minor = goMinorOf(goVersion) ?? Number(layout.version.split(".")[1]);

  const bias = loadBias(ec, obj, warnings);
  const mem = new CoreMemory(ec.loads, core, ec.littleEndian, opts.cacheBytes);
  mem.setExecutable(obj.segments, exe, bias);

  const buildIdCheck = checkBuildIds(ec, obj, binary, bias);
  if (buildIdCheck === "mismatch") {
    const msg =
      "the core was not produced by this binary: the build ID in the core's copy of its ELF header differs from the binary's";
    if (opts.allowMismatch !== true) {
      throw new GosymdError("invalid_argument", msg, {
        format: F,
        hint: "pass the exact binary (same build ID) that crashed",
      });
    }
    warnings.push(msg);
  }

  const syms = symbolMap(obj, warnings);
  checkModuledata(mem, obj, syms, table, bias, opts, warnings);
  checkTableCopy(ec, obj, exe, table, bias, opts, warnings);

  const env: Env = {
    arch: ec.arch as "amd64" | "arm64",
    table,
    mem,
    bias,
    names: new Map(),
    binary,
    layout,
    minor,
  };
  const maxG = opts.maxGoroutines ?? 1_000_000;
  const maxFrames = opts.maxFrames ?? 10_000;

  // --- goroutines ---------------------------------------------------------------------------
  let discovery: "allgs" | "scan" = "scan";
  const gs = new Map<number, GInfo>();
  let candidates = 0;
  const allgsSym = syms.get("runtime.allgs");
  if (opts.discovery !== "scan" && allgsSym !== undefined) {
    const r = readAllgs(mem, allgsSym.addr + bias, maxG);
    if (r.warning !== undefined) warnings.push(r.warning);
    candidates = r.ptrs.length;
    for (const p of r.ptrs) {
      const g = readG(mem, layout, table, bias, p);
      if (g !== undefined) gs.set(p, g);
    }
    if (r.ptrs.length > 0) discovery = "allgs";
    if (r.ptrs.length > gs.size)
      warnings.push(`${r.ptrs.length - gs.size} entries of runtime.allgs did not validate as goroutines`);
  }
  if (discovery === "scan") {
    const regions = ec.loads
      .filter((l) => l.fileSize > 0 && l.write)
      .map((l) => ({ start: l.vaddr, end: l.vaddr + l.fileSize }));
    const src = (a: number, n: number): Uint8Array | undefined => {
      const l = ec.loads.find((x) => x.vaddr <= a && a + n <= x.vaddr + x.fileSize);
      if (l === undefined) return undefined;
      return core.read(l.offset + (a - l.vaddr), n, "memory scan");
    };
    const cands = scanForGs(mem, regions, layout.g.schedG, src, maxG * 4);
    candidates = cands.length;
    for (const p of cands) {
      const g = readG(mem, layout, table, bias, p);
      // goid 0: g0 and gsignal of each M (not goroutines of their own).
      if (g !== undefined && g.goid > 0) gs.set(p, g);
      if (gs.size >= maxG) {
        warnings.push(`more than ${maxG} goroutines; the rest were not read`);
        break;
      }
    }
  }

  // --- Ms ----------------------------------------------------------------------------------------
  const ms = new Map<number, MInfo>();
  const addM = (addr: number): MInfo | undefined => {
    if (addr === 0 || ms.has(addr)) return ms.get(addr);
    const m = readM(mem, layout, addr);
    if (m !== undefined) ms.set(addr, m);
    return m;
  };
  const allm = syms.get("runtime.allm");
  if (allm !== undefined) {
    let p = mem.u64(allm.addr + bias) ?? 0;
    for (let i = 0; p !== 0 && i < 100_000 && !ms.has(p); i++) {
      addM(p);
      p = mem.u64(p + layout.m.alllink) ?? 0;
    }
  }
  for (const g of gs.values()) if (g.m !== 0) addM(g.m);
  // Threads: the g in TLS (amd64 fs_base − 8) or the g register, and its m.
  for (const t of ec.threads) {
    for (const ga of threadGCandidates(ec, t, mem)) {
      const m = mem.u64(ga + layout.g.m);
      const gself = mem.u64(ga + layout.g.schedG);
      if (m === undefined || m === 0) continue;
      const mi = addM(m);
      if (
        mi !== undefined &&
        mi.procid === t.tid &&
        (gself === ga || mi.g0 === ga || mi.gsignal === ga || mi.curg === ga)
      )
        break;
    }
  }
  const mByTid = new Map<number, MInfo>();
  for (const m of ms.values()) if (m.procid > 0 && !mByTid.has(m.procid)) mByTid.set(m.procid, m);

  // --- threads -----------------------------------------------------------------------------------
  const threads: CoreThreadInfo[] = [];
  /** Start contexts of goroutines found executing on threads: g addr → context. */
  const onThread = new Map<
    number,
    {
      start: { pc: number; sp: number; fp: number; lr: number; trap: boolean };
      from: StartContext;
      tid: number;
    }
  >();
  let fpChecked = 0;
  let fpMismatches = 0;
  const gStackOf = (addr: number): { lo: number; hi: number } | undefined => {
    const lo = mem.u64(addr + layout.g.stackLo);
    const hi = mem.u64(addr + layout.g.stackHi);
    if (lo === undefined || hi === undefined || hi <= lo || hi - lo > 1 << 30) return undefined;
    return { lo, hi };
  };
  const within = (sp: number, s: { lo: number; hi: number } | undefined) =>
    s !== undefined && sp >= s.lo && sp <= s.hi;
  for (const t of ec.threads) {
    const m = mByTid.get(t.tid);
    const info: CoreThreadInfo = {
      tid: t.tid,
      signal: t.signal,
      pc: t.regs.pc,
      sp: t.regs.sp,
      on: "unknown",
      frames: [],
      signals: [],
      interrupted: [],
    };
    if (m !== undefined) info.m = { addr: m.addr, id: m.id };
    const curgStack = m !== undefined && m.curg !== 0 ? gStackOf(m.curg) : undefined;
    if (m !== undefined && m.curg !== 0) info.curg = gs.get(m.curg)?.goid ?? mem.u64(m.curg + layout.g.goid);
    const regsStart = { pc: t.regs.pc, sp: t.regs.sp, fp: t.regs.fp, lr: t.regs.lr, trap: true };
    if (m !== undefined && m.curg !== 0 && within(t.regs.sp, curgStack)) {
      info.on = "goroutine";
      onThread.set(m.curg, { start: regsStart, from: "registers", tid: t.tid });
      threads.push(info);
      continue;
    }
    // On the system stack (g0 or gsignal): walk it; follow signal frames.
    const g0Stack = m !== undefined ? gStackOf(m.g0) : undefined;
    const gsStack = m !== undefined && m.gsignal !== 0 ? gStackOf(m.gsignal) : undefined;
    info.on = within(t.regs.sp, g0Stack) ? "g0" : within(t.regs.sp, gsStack) ? "gsignal" : "unknown";
    let bounds = info.on === "g0" ? g0Stack : info.on === "gsignal" ? gsStack : undefined;
    let start = regsStart;
    let frames = info.frames;
    for (let hop = 0; hop < 8; hop++) {
      const r: UnwindResult = unwind(env, start, bounds, maxFrames);
      fpChecked += r.fpChecked;
      fpMismatches += r.fpMismatches;
      for (const f of r.frames) frames.push(resolveFrame(env, f));
      if (r.stop !== "signal" || r.signal === undefined) break;
      const s = r.signal;
      const sn = signalName(s.signo);
      const rec: CoreThreadInfo["signals"][number] = {
        signo: s.signo,
        name: sn.name,
        code: s.code,
        pc: s.pc,
        sp: s.sp,
      };
      if (s.addr !== undefined) rec.addr = s.addr;
      info.signals.push(rec);
      const next = { pc: s.pc, sp: s.sp, fp: s.fp, lr: s.lr, trap: true };
      if (m !== undefined && m.curg !== 0 && within(s.sp, curgStack)) {
        // The signal interrupted the goroutine itself.
        if (!onThread.has(m.curg)) onThread.set(m.curg, { start: next, from: "signal", tid: t.tid });
        break;
      }
      // Interrupted on a system stack: keep walking there.
      start = next;
      bounds = within(s.sp, g0Stack) ? g0Stack : within(s.sp, gsStack) ? gsStack : undefined;
      frames = info.interrupted;
    }
    threads.push(info);
  }

  // --- goroutine stacks --------------------------------------------------------------------------
  let dead = 0;
  const goroutines: CoreGoroutine[] = [];
  let partial = warnings.some((w) => w.includes("truncated"));
  for (const g of gs.values()) {
    if (g.status === G_DEAD) {
      dead++;
      continue;
    }
    if (g.goid === 0) continue;
    const cg = walkGoroutine(env, g, onThread.get(g.addr), ms, maxFrames, mem);
    fpChecked += cg.fpChecked;
    fpMismatches += cg.fpMismatches;
    if (cg.stop !== "top") partial = true;
    goroutines.push(cg);
  }

  // --- the crash ---------------------------------------------------------------------------------
  // The thread that took the fatal signal: the only one whose pr_cursig is set. Kernels write it
  // first; qemu-user (10.x) writes the threads in its own order.
  const ci = Math.max(
    0,
    ec.threads.findIndex((t) => t.signal > 0),
  );
  const crashThread = ec.threads[ci];
  const crashInfo = threads[ci];
  let crashed: CoreGoroutine | undefined;
  if (crashThread !== undefined) {
    const m = mByTid.get(crashThread.tid);
    if (m !== undefined && m.curg !== 0) crashed = goroutines.find((g) => g.addr === m.curg);
  }
  const header: HeaderInfo = {};
  if (crashed !== undefined) {
    crashed.crashed = true;
    const g = gs.get(crashed.addr)!;
    crashed.panics = decodePanics(
      mem,
      layout,
      g.panic,
      moduledataTypes(mem, obj, syms, table, bias, layout),
      warnings,
    );
    const shown = crashed.panics.filter((p) => !p.goexit);
    if (shown.length > 0) header.panics = shown.map((p) => ({ message: p.message, recovered: p.recovered }));
    if (g.sig !== 0) header.signal = sigInfo(g.sig, g.sigcode0, g.sigcode1, g.sigpc, undefined);
  }
  const fatal = crashInfo !== undefined ? fatalMessage(env, crashInfo, crashed) : undefined;
  if (fatal !== undefined) header.fatalErrors = [fatal];
  if (header.signal === undefined && crashInfo !== undefined && crashInfo.signals.length > 0) {
    // The runtime handled a signal on this thread and died in its handler (SIGQUIT dumps, fatal signals).
    const s = crashInfo.signals[crashInfo.signals.length - 1]!;
    header.signal = sigInfo(s.signo, s.code, s.addr, s.pc, crashInfo.m?.id);
  }
  if (
    header.signal === undefined &&
    ec.siginfo !== undefined &&
    (header.panics ?? []).length === 0 &&
    fatal === undefined
  ) {
    header.signal = sigInfo(
      ec.siginfo.signo,
      ec.siginfo.code,
      ec.siginfo.addr,
      crashThread?.regs.pc,
      crashInfo?.m?.id,
    );
  }
  header.kind =
    (header.panics ?? []).length > 0
      ? "CRASH_KIND_PANIC"
      : fatal !== undefined
        ? "CRASH_KIND_FATAL_ERROR"
        : header.signal !== undefined
          ? "CRASH_KIND_FATAL_SIGNAL"
          : "CRASH_KIND_GOROUTINE_DUMP";

  goroutines.sort((a, b) => (a.crashed !== b.crashed ? (a.crashed ? -1 : 1) : a.id - b.id));

  const result: CoreResult = {
    arch: env.arch,
    goVersion,
    binaryInfo: binary.info,
    layout: { version: layout.version, verified: layout.verified },
    bias,
    buildIdCheck,
    threads,
    goroutines,
    deadGoroutines: dead,
    header,
    discovery,
    partial,
    warnings,
    stats: {
      goroutinesFound: gs.size - dead,
      gCandidates: candidates,
      memoryReads: mem.stats.reads,
      memoryBytesRead: mem.stats.bytesRead,
      exeReads: mem.stats.exeReads,
      fpChecked,
      fpMismatches,
    },
  };
  if (crashed !== undefined) result.crashedGoroutine = crashed.id;
  if (ec.psinfo !== undefined) {
    result.pid = ec.psinfo.pid;
    result.command = ec.psinfo.args !== "" ? ec.psinfo.args : ec.psinfo.fname;
  }
  if (ec.siginfo !== undefined) result.fatalSignal = { ...ec.siginfo, ...signalName(ec.siginfo.signo) };
  else if (crashThread !== undefined && crashThread.signal > 0) {
    // Cores without NT_SIGINFO (qemu-user's, kernels before 3.7): the dumping thread's pr_cursig
    // names the signal; its code and fault address are not recorded.
    result.fatalSignal = { signo: crashThread.signal, code: 0, errno: 0, ...signalName(crashThread.signal) };
    warnings.push(
      "the core has no NT_SIGINFO note: the fatal signal is the dumping thread's pr_cursig (no code or fault address)",
    );
  }
  const text = obj.segments.find((s) => s.offset === 0);
  if (text !== undefined) {
    const f = ec.files.find((x) => x.start <= text.vaddr + bias && text.vaddr + bias < x.end);
    if (f !== undefined) result.executablePath = f.path;
  }
  if (goroutines.length === 0) {
    warnings.push(
      discovery === "allgs"
        ? "no goroutine validated (wrong binary, or a Go release whose layout is unknown)"
        : "no goroutine found by scanning the core (a stripped binary of an unknown Go release, or a core without the Go heap)",
    );
    result.partial = true;
  }
  return result;
}

/** g pointers a thread may be running: TLS slot (amd64 static: fs_base − 8), then the g register. */
function threadGCandidates(ec: ElfCore, t: CoreThread, mem: CoreMemory): number[] {
  const out: number[] = [];
  if (ec.arch === "amd64" && t.regs.tls > 8) {
    const g = mem.u64(t.regs.tls - 8);
    if (g !== undefined && g !== 0) out.push(g);
  }
  if (t.regs.gReg !== 0 && !out.includes(t.regs.gReg)) out.push(t.regs.gReg);
  return out;
}

/** moduledata at its runtime address must point at the binary's pclntab. */
function checkModuledata(
  mem: CoreMemory,
  obj: ObjectFile,
  syms: Map<string, ObjSymbol>,
  table: PclnTable,
  bias: number,
  opts: ReadCoreOptions,
  warnings: string[],
): void {
  const md = moduledataAddr(obj, syms, table);
  if (md === undefined) {
    warnings.push(
      "runtime.firstmoduledata not found in the binary: the core/binary match is checked by the ELF header page only",
    );
    return;
  }
  const pcHeader = mem.u64(md.addr + bias);
  if (pcHeader === undefined) {
    warnings.push("runtime.firstmoduledata is unreadable in the core");
    return;
  }
  if (pcHeader !== md.pclntab + bias) {
    const msg = `the core's runtime.firstmoduledata points at a function table at ${hex(pcHeader)}, the binary's is at ${hex(md.pclntab + bias)}: the core was not produced by this binary`;
    if (opts.allowMismatch !== true)
      throw new GosymdError("invalid_argument", msg, {
        format: F,
        hint: "pass the exact binary that crashed",
      });
    warnings.push(msg);
  }
}

/**
 * The function table is read-only data: where the core itself holds a copy of its start (qemu-user
 * cores dump read-only segments; kernel cores mostly do not), that copy must be the binary's bytes.
 * This catches a wrong binary when the core has neither the ELF header page nor a readable
 * moduledata at the binary's address (both binaries' data laid out differently).
 */
function checkTableCopy(
  ec: ElfCore,
  obj: ObjectFile,
  exe: ByteSource,
  table: PclnTable,
  bias: number,
  opts: ReadCoreOptions,
  warnings: string[],
): void {
  // 1.16+: the function names right after the header (no addresses, so no relocations in a PIE).
  // Older tables start with absolute entry PCs: compared only when nothing was relocated.
  const fn = table.header.funcnametab;
  if (fn <= 0 && bias !== 0) return;
  const link = table.addr + Math.max(fn, 0);
  const seg = obj.segments.find(
    (x) => !x.write && x.fileSize > 0 && x.vaddr <= link && link < x.vaddr + Math.min(x.fileSize, x.memSize),
  );
  if (seg === undefined || table.addr <= 0) return;
  const addr = link + bias;
  const load = ec.loads.find((l) => l.vaddr <= addr && addr < l.vaddr + l.fileSize);
  if (load === undefined) return;
  const n = Math.min(
    4096,
    load.vaddr + load.fileSize - addr,
    seg.vaddr + Math.min(seg.fileSize, seg.memSize) - link,
  );
  if (n < 64) return;
  const inCore = ec.source.read(load.offset + (addr - load.vaddr), n, "function table copy");
  const inBinary = exe.read(seg.offset + (link - seg.vaddr), n, "function table");
  if (Buffer.compare(inCore, inBinary) === 0) return;
  const msg = `the core's copy of the function table at ${hex(addr)} differs from the binary's: the core was not produced by this binary`;
  if (opts.allowMismatch !== true)
    throw new GosymdError("invalid_argument", msg, { format: F, hint: "pass the exact binary that crashed" });
  warnings.push(msg);
}

const mdCache = new WeakMap<ObjectFile, { addr: number; pclntab: number } | null>();

/**
 * Link-time addresses of runtime.firstmoduledata and of the pclntab it points at: the symbol when
 * present, else a scan of the data sections for a moduledata that points at the table.
 */
function moduledataAddr(
  obj: ObjectFile,
  syms: Map<string, ObjSymbol>,
  table: PclnTable,
): { addr: number; pclntab: number } | undefined {
  const c = mdCache.get(obj);
  if (c !== undefined) return c ?? undefined;
  let out: { addr: number; pclntab: number } | undefined;
  const pclntab = table.addr;
  const sym = syms.get("runtime.firstmoduledata");
  if (sym !== undefined) out = { addr: sym.addr, pclntab };
  else {
    try {
      const md = findModuledata(obj, pclntab, table.header, table.bytes);
      if (md !== undefined) out = { addr: md.addr, pclntab };
    } catch (e) {
      if (!(e instanceof GosymdError)) throw e;
    }
  }
  mdCache.set(obj, out ?? null);
  return out;
}

/** moduledata.types at its runtime address (type names of panic values resolve against it). */
function moduledataTypes(
  mem: CoreMemory,
  obj: ObjectFile,
  syms: Map<string, ObjSymbol>,
  table: PclnTable,
  bias: number,
  layout: RuntimeLayout,
): number | undefined {
  const md = moduledataAddr(obj, syms, table);
  if (md === undefined) return undefined;
  return mem.u64(md.addr + bias + layout.moduledataTypes);
}

function sigInfo(
  signo: number,
  code: number,
  addr: number | undefined,
  pc: number | undefined,
  m: number | undefined,
): SignalInfo {
  const n = signalName(signo);
  const s: SignalInfo = { name: n.name, description: n.description, duringCgo: false, code };
  if (addr !== undefined) s.addr = addr;
  if (pc !== undefined) s.pc = pc;
  if (m !== undefined && m >= 0) s.m = m;
  return s;
}

/**
 * `fatal error: <s>`: runtime.throw / runtime.fatal pass s to a closure (`throw.func1`) on their
 * own frame; find the closure's function word there and read the string after it.
 */
function fatalMessage(env: Env, t: CoreThreadInfo, crashed: CoreGoroutine | undefined): string | undefined {
  const stacks = [t.frames, t.interrupted, crashed?.frames ?? []];
  for (const frames of stacks) {
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const name = f.frames.at(-1)?.function;
      if (name !== "runtime.throw" && name !== "runtime.fatal") continue;
      const closure = findFuncEntry(env, `${name}.func1`);
      const next = frames[i + 1];
      if (closure === undefined || next === undefined) return "";
      for (let a = f.sp; a + 24 <= next.sp && a < f.sp + 4096; a += 8) {
        if (env.mem.u64(a) !== closure) continue;
        const s = readGoString(env.mem, a + 8, 64 * 1024);
        if (s !== undefined) return s;
      }
      return "";
    }
  }
  return undefined;
}

const entryCache = new WeakMap<PclnTable, Map<string, number>>();

/** Runtime entry of a function by name (a linear pass over the table, cached per table). */
function findFuncEntry(env: Env, name: string): number | undefined {
  let m = entryCache.get(env.table);
  if (m === undefined) {
    m = new Map();
    const t = env.table;
    for (let i = 0; i < t.nfunc; i++) {
      let n: string;
      try {
        n = t.funcName(i);
      } catch {
        continue;
      }
      if (n.startsWith("runtime.throw") || n.startsWith("runtime.fatal")) m.set(n, t.entry(i));
    }
    entryCache.set(env.table, m);
  }
  const e = m.get(name);
  return e === undefined ? undefined : e + env.bias;
}

function walkGoroutine(
  env: Env,
  g: GInfo,
  thread:
    | {
        start: { pc: number; sp: number; fp: number; lr: number; trap: boolean };
        from: StartContext;
        tid: number;
      }
    | undefined,
  ms: Map<number, MInfo>,
  maxFrames: number,
  mem: CoreMemory,
): CoreGoroutine {
  const L = env.layout;
  let start: { pc: number; sp: number; fp: number; lr: number; trap: boolean };
  let from: StartContext;
  if (thread !== undefined && g.status === G_RUNNING) {
    start = thread.start;
    from = thread.from;
  } else if (g.syscallSp !== 0 && g.status !== G_RUNNING) {
    start = { pc: g.syscallPc, sp: g.syscallSp, fp: g.syscallBp, lr: 0, trap: false };
    from = "syscall";
  } else {
    start = { pc: g.schedPc, sp: g.schedSp, fp: g.schedBp, lr: g.schedLr, trap: false };
    from = "sched";
  }
  if (start.pc === 0 && start.sp !== 0) {
    // runtime (traceback.go): a pc of 0 is taken from the stack; on amd64 that pops the word, on
    // LR machines the word at sp is the saved LR and sp stays.
    start =
      env.arch === "amd64"
        ? { ...start, pc: mem.u64(start.sp) ?? 0, sp: start.sp + 8 }
        : { ...start, pc: mem.u64(start.sp) ?? 0, lr: 0 };
  }
  const r = unwind(env, start, { lo: g.stackLo, hi: g.stackHi }, maxFrames);
  const frames = r.frames.map((f) => resolveFrame(env, f));
  const statusText =
    g.status === G_WAITING && g.waitReason !== 0
      ? (L.waitReasons[g.waitReason] ?? `waitReason(${g.waitReason})`)
      : (G_STATUS_STRINGS[g.status] ?? "???");
  const waitReason = g.status === G_WAITING && g.waitReason !== 0 ? statusText : "";
  const out: CoreGoroutine = {
    addr: g.addr,
    id: g.goid,
    status: g.status,
    scan: g.scan,
    statusText,
    waitReason,
    waitSince: g.status === G_WAITING || g.status === G_SYSCALL ? g.waitSince : 0,
    lockedToThread: g.lockedm !== 0,
    startedFrom: from,
    frames,
    stop: r.stop,
    stopDetail: r.detail,
    parentGoid: g.parentGoid,
    panics: [],
    crashed: false,
    fpChecked: r.fpChecked,
    fpMismatches: r.fpMismatches,
  };
  if (thread !== undefined && g.status === G_RUNNING) out.tid = thread.tid;
  if (g.m !== 0) {
    const m = ms.get(g.m);
    out.m = { addr: g.m, id: m?.id ?? -1 };
  }
  if (g.goid !== 1 && g.gopc !== 0) {
    const f = env.table.findFunc(g.gopc - env.bias);
    if (f >= 0) {
      const entry = env.table.entry(f) + env.bias;
      const tracepc = g.gopc > entry ? g.gopc - 1 : g.gopc;
      const res = env.binary.resolve(tracepc - env.bias);
      const inner = res.frames[0];
      const outer = res.frames.at(-1);
      out.createdBy = {
        pc: g.gopc,
        function: outer?.function ?? "",
        file: inner?.file ?? "",
        line: inner?.line ?? 0,
        entry,
      };
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The crash model

/**
 * How the runtime prints a function name in a traceback. 1.21+ (printFuncName): runtime.gopanic as
 * "panic", type arguments as "[...]"; before, physical runtime.gopanic as "panic", names raw.
 */
export function printName(symbol: string, minor: number, inlined: boolean): string {
  if (symbol === "runtime.gopanic" && (minor >= 21 || !inlined)) return "panic";
  if (minor < 21) return symbol;
  const i = symbol.indexOf("[");
  if (i < 0) return symbol;
  const j = symbol.lastIndexOf("]");
  if (j <= i) return symbol;
  return `${symbol.slice(0, i)}[...]${symbol.slice(j + 1)}`;
}

function toStackFrames(frames: CoreFrame[], minor: number): StackFrame[] {
  const out: StackFrame[] = [];
  for (const cf of frames) {
    const n = cf.frames.length;
    if (n === 0) {
      out.push({ function: "?", args: "", file: "", line: 0, inlined: false, packagePath: "", pc: cf.pc });
      continue;
    }
    cf.frames.forEach((fr, k) => {
      const physical = k === n - 1;
      const sf: StackFrame = {
        function: printName(fr.function, minor, !physical),
        args: physical ? "" : "...",
        file: fr.file,
        line: fr.line,
        inlined: !physical,
        packagePath: fr.packagePath !== "" ? fr.packagePath : packageOf(fr.function),
      };
      if (physical) {
        sf.pc = cf.pc;
        if (cf.pc > cf.entry) sf.offset = cf.pc - cf.entry;
      }
      out.push(sf);
    });
  }
  return out;
}

/** Where the runtime's own traceback of a dying goroutine starts (panic.go, traceback.go). */
const CRASH_START = new Set(["runtime.gopanic", "runtime.throw", "runtime.fatal", "runtime.fatalthrow"]);

/**
 * The crashed goroutine's frames as the runtime prints them: its traceback starts at the panic or
 * throw; the frames above it are the runtime's own way to die (fatalpanic, crash, dieFromSignal,
 * raise). They are dropped when every one of them is a runtime frame.
 */
export function trimCrashPath(frames: CoreFrame[]): CoreFrame[] {
  const i = frames.findIndex((f) => CRASH_START.has(f.frames.at(-1)?.function ?? ""));
  if (i <= 0) return frames;
  const above = frames.slice(0, i);
  if (!above.every((f) => f.frames.length > 0 && f.frames.every((x) => x.function.startsWith("runtime."))))
    return frames;
  return frames.slice(i);
}

/**
 * The goroutines of a core in the crash model (what `attributeGoroutines` takes). The crashed
 * goroutine's frames start where the runtime's traceback would (see trimCrashPath).
 */
export function toCrashGoroutines(r: CoreResult): Goroutine[] {
  const minor = goMinorOf(r.goVersion) ?? Number(r.layout.version.split(".")[1]);
  return r.goroutines.map((g) => {
    const state = g.status === G_WAITING && g.waitReason !== "" ? "waiting" : g.statusText;
    const out: Goroutine = {
      id: g.id,
      state,
      waitReason: g.waitReason,
      status: g.statusText,
      waitMinutes: 0,
      lockedToThread: g.lockedToThread,
      crashed: g.crashed,
      frames: toStackFrames(g.crashed ? trimCrashPath(g.frames) : g.frames, minor),
      labels: [],
      flags: g.scan ? ["scan"] : [],
      framesElided: 0,
      stackUnavailable: false,
      sourceLine: 0,
    };
    if (g.m !== undefined && g.m.id >= 0) out.m = g.m.id;
    if (g.createdBy !== undefined && g.createdBy.function !== "") {
      const cb: StackFrame = {
        function: printName(g.createdBy.function, minor, false),
        args: "",
        file: g.createdBy.file,
        line: g.createdBy.line,
        inlined: false,
        packagePath: packageOf(g.createdBy.function),
        pc: g.createdBy.pc,
      };
      if (g.createdBy.pc > g.createdBy.entry) cb.offset = g.createdBy.pc - g.createdBy.entry;
      out.createdBy = cb;
      if (minor >= 21 && g.parentGoid !== 0) out.createdByGoroutine = g.parentGoid;
    }
    return out;
  });
}

export type { PanicInfo, SignalContext };
