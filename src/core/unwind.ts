/**
 * Stack unwinding from the pclntab alone (§6 of go-binary-formats.md; runtime/traceback.go).
 *
 * amd64: the frame of function f at pc is pcsp(f, pc) bytes deep; the return address sits at
 * sp + that, the caller's sp is 8 above it. arm64: the caller's sp is sp + pcsp; the return
 * address is saved at [sp] once the prologue ran, in the link register before (innermost frame).
 * Frame pointers serve as a cross-check (amd64: a frame that saved BP has it at its top).
 *
 * Each frame's PC is looked up the way the runtime looks it up for printing: the return address
 * minus one, except for the first frame of a trap context (a thread's registers, a signal
 * context), for the frame below an injected call (sigpanic; since 1.21 also asyncPreempt and
 * debugCallV2) and at a function's entry. On arm64 the frame below an injected call starts 16
 * bytes higher (the signal handler saved the interrupted LR there) and returns to that LR when it
 * had no frame. The walk stops at the top of a stack (TOPFRAME functions: goexit, mstart, rt0_go),
 * at a stack switch (systemstack, mcall, morestack on g0), at a signal trampoline (the caller
 * takes the interrupted context from the signal frame), at a PC outside Go code, when sp leaves
 * the stack's bounds, or after a step limit.
 */
import type { PclnTable } from "../gopclntab/table.js";
import type { CoreMemory } from "./memory.js";

/** FuncFlag bits (internal/abi/symtab.go, 1.17+). */
const FUNCFLAG_TOPFRAME = 0x1;
const FUNCFLAG_SPWRITE = 0x2;

const TOP_NAMES = new Set(["runtime.goexit", "runtime.mstart", "runtime.rt0_go", "runtime.mstart0"]);
const SWITCH_NAMES = new Set(["runtime.systemstack", "runtime.mcall", "runtime.morestack"]);
const SIGNAL_NAMES = new Set(["runtime.sigtramp", "runtime.cgoSigtramp"]);
const INJECTED = new Set(["runtime.sigpanic", "runtime.asyncPreempt", "runtime.debugCallV2"]);

export interface RawFrame {
  /** Runtime PC (the return address, or the trap PC for the first frame of a trap context). */
  pc: number;
  /** Stack pointer at this frame. */
  sp: number;
  /** Runtime PC to symbolize (pc or pc − 1, see the file comment). */
  lookup: number;
  /** Function index in the pclntab. */
  func: number;
  name: string;
  /** Function entry (runtime address). */
  entry: number;
}

export type StopReason =
  /** Reached the top of the stack (goexit, mstart, rt0_go). */
  | "top"
  /** A stack switch (systemstack / mcall / morestack): the rest is on another stack. */
  | "switch"
  /** A signal trampoline: the interrupted context is in `signal`. */
  | "signal"
  /** The PC is not in any Go function (C code, vdso, garbage). */
  | "no_function"
  /** The function's frame size could not be read. */
  | "no_frame_size"
  /** A return address or saved word could not be read from the core. */
  | "unreadable"
  /** sp left the stack's bounds. */
  | "out_of_bounds"
  /** A zero return address (the end of a thread's stack). */
  | "zero_pc"
  /** More frames than the limit. */
  | "step_limit"
  /** A frame that writes SP arbitrarily (assembly): the walk cannot continue reliably. */
  | "spwrite";

export interface SignalContext {
  signo: number;
  code: number;
  /** si_addr for faults. */
  addr?: number;
  pc: number;
  sp: number;
  fp: number;
  lr: number;
  /** Address of the kernel's signal frame (for reports). */
  frameAddr: number;
}

export interface UnwindResult {
  frames: RawFrame[];
  stop: StopReason;
  /** Human detail of the stop. */
  detail: string;
  signal?: SignalContext;
  /** Frames where the frame pointer disagreed with the pcsp-derived frame (amd64 cross-check). */
  fpMismatches: number;
  /** Frames where the frame-pointer check applied. */
  fpChecked: number;
}

export interface UnwindStart {
  pc: number;
  sp: number;
  fp: number;
  lr: number;
  /** The first frame's PC is exact (registers or signal context), not a return address. */
  trap: boolean;
}

export interface UnwindEnv {
  arch: "amd64" | "arm64";
  table: PclnTable;
  mem: CoreMemory;
  /** Runtime address minus link-time address. */
  bias: number;
  /** Cache of function names by index. */
  names: Map<number, string>;
  /** Go minor version of the binary (the runtime's printing rules changed in 1.21); newest when absent. */
  minor?: number;
}

export function funcNameOf(env: UnwindEnv, f: number): string {
  let n = env.names.get(f);
  if (n === undefined) {
    try {
      n = env.table.funcName(f);
    } catch {
      n = "";
    }
    if (env.names.size > 100_000) env.names.clear();
    env.names.set(f, n);
  }
  return n;
}

function hx(n: number): string {
  return `0x${n.toString(16)}`;
}

/**
 * Walks one stack from `start`. `bounds` is the stack's [lo, hi) when known (a g's stack, or a
 * thread's g0/gsignal stack); without it only a sanity window limits sp.
 */
export function unwind(
  env: UnwindEnv,
  start: UnwindStart,
  bounds: { lo: number; hi: number } | undefined,
  maxFrames: number,
): UnwindResult {
  const { table, mem, bias } = env;
  const frames: RawFrame[] = [];
  let { pc, sp, fp, lr } = start;
  let trap = start.trap;
  let fpChecked = 0;
  let fpMismatches = 0;
  const done = (stop: StopReason, detail: string, signal?: SignalContext): UnwindResult => {
    const r: UnwindResult = { frames, stop, detail, fpChecked, fpMismatches };
    if (signal !== undefined) r.signal = signal;
    return r;
  };
  for (let step = 0; ; step++) {
    if (step >= maxFrames) return done("step_limit", `more than ${maxFrames} frames`);
    if (pc === 0) return done("zero_pc", "return address 0");
    const f = table.findFunc(pc - bias);
    if (f < 0) return done("no_function", `pc ${hx(pc)} is not in a Go function`);
    const entry = table.entry(f) + bias;
    const name = funcNameOf(env, f);
    const lookup = trap || pc === entry ? pc : pc - 1;
    frames.push({ pc, sp, lookup, func: f, name, entry });
    let flag = 0;
    try {
      flag = table.funcFlag(f);
    } catch {
      flag = 0;
    }
    if (SIGNAL_NAMES.has(name)) {
      const ctx = signalContext(env, f, pc, sp);
      if (ctx === undefined)
        return done("unreadable", `signal frame of ${name} at sp ${hx(sp)} is unreadable`);
      return done("signal", `signal ${ctx.signo} interrupted pc ${hx(ctx.pc)}`, ctx);
    }
    if ((flag & FUNCFLAG_TOPFRAME) !== 0 || TOP_NAMES.has(name)) return done("top", name);
    if (frames.length > 1 && SWITCH_NAMES.has(name)) return done("switch", name);
    let spd: number;
    try {
      spd = table.spDelta(f, pc - bias);
    } catch (e) {
      return done("no_frame_size", `pcsp of ${name}: ${(e as Error).message}`);
    }
    if (spd < 0) return done("no_frame_size", `no pcsp value for ${name} at ${hx(pc)}`);
    if ((flag & FUNCFLAG_SPWRITE) !== 0 && frames.length > 1) {
      return done("spwrite", `${name} writes SP; the walk stops there as the runtime's does`);
    }
    let ret: number | undefined;
    let callerSp: number;
    const innermost = frames.length === 1;
    if (env.arch === "amd64") {
      ret = mem.u64(sp + spd);
      callerSp = sp + spd + 8;
      if (spd >= 16) {
        // A frame larger than the return address saved the caller's BP just below it, and BP
        // points there once the prologue ran.
        if (frames.length > 1 && fp !== 0) {
          fpChecked++;
          if (fp !== sp + spd - 8) fpMismatches++;
        }
        fp = mem.u64(sp + spd - 8) ?? 0;
      }
    } else {
      // The runtime reads the saved LR at [sp] unless it is given one (the innermost frame of a
      // context before its prologue ran, or the frame below an injected call with no frame).
      ret = lr !== 0 && !(innermost && spd > 0) ? lr : mem.u64(sp);
      callerSp = sp + spd;
      if (spd > 0) {
        // Once the prologue ran, x29 is sp − 8 and the caller's x29 is saved there (the frame
        // record {fp, lr} at [sp − 8]; obj7.go). The innermost frame of a trap context may be
        // caught between the sp update and the save.
        if (!innermost && fp !== 0) {
          fpChecked++;
          if (fp !== sp - 8) fpMismatches++;
        }
        fp = mem.u64(sp - 8) ?? 0;
      }
    }
    if (ret === undefined) {
      const at = env.arch === "amd64" ? sp + spd : sp;
      return done("unreadable", `return address of ${name} at ${hx(at)} is unreadable`);
    }
    const injected = INJECTED.has(name);
    // The caller of an injected call is printed at its exact PC: since 1.21 for all of them, before
    // only below sigpanic (gentraceback's `!waspanic`; a frame below asyncPreempt showed pc − 1).
    trap = injected && (name === "runtime.sigpanic" || (env.minor ?? Number.POSITIVE_INFINITY) >= 21);
    pc = ret;
    sp = callerSp;
    lr = 0;
    if (injected && env.arch === "arm64") {
      // The signal handler faked the call: it pushed the interrupted LR in a 16-byte slot below the
      // interrupted sp (sigctxt.preparePanic / pushCall). A caller with no frame at its pc returns
      // to that LR; a pc outside Go code is replaced by it (traceback.go, usesLR && injectedCall).
      const x = mem.u64(sp);
      if (x === undefined)
        return done("unreadable", `LR saved by the signal handler at ${hx(sp)} is unreadable`);
      sp += 16;
      const cf = table.findFunc(pc - bias);
      if (cf < 0) pc = x;
      else {
        let d = -1;
        try {
          d = table.spDelta(cf, pc - bias);
        } catch {
          d = -1;
        }
        if (d === 0) lr = x;
      }
    }
    if (bounds !== undefined ? sp < bounds.lo || sp > bounds.hi : sp <= 0) {
      return done(
        "out_of_bounds",
        `sp ${hx(sp)} left the stack [${bounds ? `${hx(bounds.lo)}, ${hx(bounds.hi)}` : ""})`,
      );
    }
  }
}

/**
 * The kernel's signal frame above a signal trampoline (linux rt_sigframe): amd64 pushes
 * {pretcode, ucontext, siginfo} and enters the handler with sp at pretcode; arm64 puts
 * {siginfo, ucontext} at sp. `sp` is the trampoline's frame; pcsp gives its depth.
 */
function signalContext(env: UnwindEnv, f: number, pc: number, sp: number): SignalContext | undefined {
  const { mem, table, bias } = env;
  let spd: number;
  try {
    spd = table.spDelta(f, pc - bias);
  } catch {
    return undefined;
  }
  if (spd < 0) return undefined;
  const base = sp + spd;
  if (env.arch === "amd64") {
    // ucontext at base+8: uc_flags, uc_link, uc_stack (24), then sigcontext (r8..r15, rdi, rsi,
    // rbp, rbx, rdx, rax, rcx, rsp, rip, ...) of 256 bytes, sigmask (8): 304 bytes; siginfo after.
    const mc = base + 8 + 40;
    const si = base + 8 + 304;
    const rbp = mem.u64(mc + 10 * 8);
    const rsp = mem.u64(mc + 15 * 8);
    const rip = mem.u64(mc + 16 * 8);
    const signo = mem.i32(si);
    const code = mem.i32(si + 8);
    if (
      rbp === undefined ||
      rsp === undefined ||
      rip === undefined ||
      signo === undefined ||
      code === undefined
    )
      return undefined;
    const ctx: SignalContext = { signo, code, pc: rip, sp: rsp, fp: rbp, lr: 0, frameAddr: base };
    if (code > 0) {
      const a = mem.u64(si + 16);
      if (a !== undefined) ctx.addr = a;
    }
    return ctx;
  }
  // arm64: siginfo (128 bytes) at base, ucontext after it; uc_mcontext at ucontext+176:
  // fault_address, regs[31], sp, pc, pstate.
  const si = base;
  const mc = base + 128 + 176;
  const x29 = mem.u64(mc + 8 + 29 * 8);
  const x30 = mem.u64(mc + 8 + 30 * 8);
  const rsp = mem.u64(mc + 8 + 31 * 8);
  const rpc = mem.u64(mc + 8 + 32 * 8);
  const signo = mem.i32(si);
  const code = mem.i32(si + 8);
  if (x29 === undefined || x30 === undefined || rsp === undefined || rpc === undefined) return undefined;
  if (signo === undefined || code === undefined) return undefined;
  return { signo, code, pc: rpc, sp: rsp, fp: x29, lr: x30, frameAddr: base };
}
