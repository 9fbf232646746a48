/**
 * Go runtime structure layouts (64-bit: linux/amd64 and linux/arm64 share them), per Go release.
 *
 * Offsets come from each release's src/runtime/runtime2.go (g, m, gobuf, _panic), runtime/type.go
 * or internal/abi/type.go (the type descriptor) and runtime/symtab.go (moduledata), and were
 * checked field by field against the DWARF of binaries built by go1.19, go1.21, go1.22 and go1.23
 * (test/core/layout.test.ts re-checks them on every run with debug/dwarf). Releases without a
 * verified layout use the nearest one, and the reader says so in its warnings: every structure
 * read is validated (the g self-pointer, stack bounds, a PC in text), so a wrong guess gives fewer
 * goroutines, not wrong ones.
 */

export interface GLayout {
  stackLo: number;
  stackHi: number;
  panic: number;
  m: number;
  schedSp: number;
  schedPc: number;
  schedG: number;
  schedLr: number;
  schedBp: number;
  syscallsp: number;
  syscallpc: number;
  /** 1.23+; −1 before. */
  syscallbp: number;
  atomicstatus: number;
  goid: number;
  waitsince: number;
  waitreason: number;
  lockedm: number;
  sig: number;
  sigcode0: number;
  sigcode1: number;
  sigpc: number;
  /** 1.21+; −1 before. */
  parentGoid: number;
  gopc: number;
  startpc: number;
  /** Smallest size a g has (for reads). */
  size: number;
}

export interface MLayout {
  g0: number;
  procid: number;
  gsignal: number;
  curg: number;
  id: number;
  alllink: number;
}

export interface PanicLayout {
  arg: number;
  link: number;
  recovered: number;
  goexit: number;
}

export interface RuntimeLayout {
  /** The release whose layout this is ("1.23"). */
  version: string;
  /** True when the binary's release is exactly one whose layout was verified. */
  verified: boolean;
  g: GLayout;
  m: MLayout;
  panic: PanicLayout;
  /** Type descriptor: tflag (u8), kind (u8), str (nameOff, i32). */
  type: { tflag: number; kind: number; str: number };
  /** moduledata.types (start of the type-descriptor section the runtime resolves nameOffs in). */
  moduledataTypes: number;
  waitReasons: readonly string[];
}

const G_COMMON = {
  stackLo: 0x0,
  stackHi: 0x8,
  panic: 0x20,
  m: 0x30,
  schedSp: 0x38,
  schedPc: 0x40,
  schedG: 0x48,
  schedLr: 0x60,
  schedBp: 0x68,
  syscallsp: 0x70,
  syscallpc: 0x78,
};

const G_119: GLayout = {
  ...G_COMMON,
  syscallbp: -1,
  atomicstatus: 0x90,
  goid: 0x98,
  waitsince: 0xa8,
  waitreason: 0xb0,
  lockedm: 0xe8,
  sig: 0xf0,
  sigcode0: 0x110,
  sigcode1: 0x118,
  sigpc: 0x120,
  parentGoid: -1,
  gopc: 0x128,
  startpc: 0x138,
  size: 392,
};

const G_121: GLayout = {
  ...G_COMMON,
  syscallbp: -1,
  atomicstatus: 0x90,
  goid: 0x98,
  waitsince: 0xa8,
  waitreason: 0xb0,
  lockedm: 0xd0,
  sig: 0xd8,
  sigcode0: 0xf8,
  sigcode1: 0x100,
  sigpc: 0x108,
  parentGoid: 0x110,
  gopc: 0x118,
  startpc: 0x128,
  size: 408,
};

const G_123: GLayout = {
  ...G_COMMON,
  syscallbp: 0x80,
  atomicstatus: 0x98,
  goid: 0xa0,
  waitsince: 0xb0,
  waitreason: 0xb8,
  lockedm: 0xd8,
  sig: 0xe0,
  sigcode0: 0x100,
  sigcode1: 0x108,
  sigpc: 0x110,
  parentGoid: 0x118,
  gopc: 0x120,
  startpc: 0x130,
  size: 432,
};

const M_119: MLayout = { g0: 0, procid: 0x48, gsignal: 0x50, curg: 0xc0, id: 0xe8, alllink: 0x150 };
const M_122: MLayout = { ...M_119, alllink: 0x148 };

const PANIC_119: PanicLayout = { arg: 0x8, link: 0x18, recovered: 0x30, goexit: 0x32 };
const PANIC_122: PanicLayout = { arg: 0x8, link: 0x18, recovered: 0x60, goexit: 0x61 };

const TYPE = { tflag: 0x14, kind: 0x17, str: 0x28 };

/** runtime.waitReasonStrings, by release (runtime2.go). */
const WAIT_119 = [
  "",
  "GC assist marking",
  "IO wait",
  "chan receive (nil chan)",
  "chan send (nil chan)",
  "dumping heap",
  "garbage collection",
  "garbage collection scan",
  "panicwait",
  "select",
  "select (no cases)",
  "GC assist wait",
  "GC sweep wait",
  "GC scavenge wait",
  "chan receive",
  "chan send",
  "finalizer wait",
  "force gc (idle)",
  "semacquire",
  "sleep",
  "sync.Cond.Wait",
  "timer goroutine (idle)",
  "trace reader (blocked)",
  "wait for GC cycle",
  "GC worker (idle)",
  "preempted",
  "debug call",
];
const WAIT_121 = [
  ...WAIT_119.slice(0, 21),
  "sync.Mutex.Lock",
  "sync.RWMutex.RLock",
  "sync.RWMutex.Lock",
  "trace reader (blocked)",
  "wait for GC cycle",
  "GC worker (idle)",
  "GC worker (active)",
  "preempted",
  "debug call",
  "GC mark termination",
  "stopping the world",
];
const WAIT_122 = [
  ...WAIT_121,
  "flushing proc caches",
  "trace goroutine status",
  "trace proc status",
  "page trace flush",
  "coroutine",
];
const WAIT_123 = [...WAIT_122, "GC weak to strong wait"];

const LAYOUTS: Record<number, Omit<RuntimeLayout, "verified">> = {
  19: {
    version: "1.19",
    g: G_119,
    m: M_119,
    panic: PANIC_119,
    type: TYPE,
    moduledataTypes: 0x118,
    waitReasons: WAIT_119,
  },
  21: {
    version: "1.21",
    g: G_121,
    m: M_119,
    panic: PANIC_119,
    type: TYPE,
    moduledataTypes: 0x128,
    waitReasons: WAIT_121,
  },
  22: {
    version: "1.22",
    g: G_121,
    m: M_122,
    panic: PANIC_122,
    type: TYPE,
    moduledataTypes: 0x128,
    waitReasons: WAIT_122,
  },
  23: {
    version: "1.23",
    g: G_123,
    m: M_122,
    panic: PANIC_122,
    type: TYPE,
    moduledataTypes: 0x128,
    waitReasons: WAIT_123,
  },
};

/** Minor version from "go1.23.5", "go1.21rc2", "devel go1.24-abc"; undefined when not recognised. */
export function goMinorOf(goVersion: string): number | undefined {
  const m = /go1\.(\d+)/.exec(goVersion);
  return m ? Number(m[1]) : undefined;
}

/** The layout for a Go release: exact when verified, else the nearest verified one (flagged). */
export function runtimeLayout(goVersion: string): RuntimeLayout {
  const minor = goMinorOf(goVersion);
  const exact = minor === undefined ? undefined : LAYOUTS[minor];
  if (exact !== undefined) return { ...exact, verified: true };
  const keys = Object.keys(LAYOUTS).map(Number);
  let best = keys[keys.length - 1]!;
  if (minor !== undefined) {
    // 1.20 is closest to 1.21 (no parentGoid: harmless, it is only printed); older to 1.19.
    best = keys.reduce((a, b) =>
      Math.abs(b - minor) < Math.abs(a - minor) || (Math.abs(b - minor) === Math.abs(a - minor) && b > a)
        ? b
        : a,
    );
  }
  return { ...LAYOUTS[best]!, verified: false };
}

/** Status values of g.atomicstatus (runtime2.go), without the _Gscan bit (0x1000). */
export const G_STATUS = [
  "idle",
  "runnable",
  "running",
  "syscall",
  "waiting",
  "moribund_unused",
  "dead",
  "enqueue_unused",
  "copystack",
  "preempted",
] as const;
export const G_RUNNING = 2;
export const G_SYSCALL = 3;
export const G_WAITING = 4;
export const G_DEAD = 6;
export const G_SCAN = 0x1000;

/** runtime.gStatusStrings: what goroutineheader prints for each status (index = status). */
export const G_STATUS_STRINGS = [
  "idle",
  "runnable",
  "running",
  "syscall",
  "waiting",
  "",
  "dead",
  "",
  "copystack",
  "preempted",
];

/** Linux signal names and the runtime's descriptions (runtime/sigtab_linux_generic.go). */
const SIGNALS = [
  "SIGNONE: no trap",
  "SIGHUP: terminal line hangup",
  "SIGINT: interrupt",
  "SIGQUIT: quit",
  "SIGILL: illegal instruction",
  "SIGTRAP: trace trap",
  "SIGABRT: abort",
  "SIGBUS: bus error",
  "SIGFPE: floating-point exception",
  "SIGKILL: kill",
  "SIGUSR1: user-defined signal 1",
  "SIGSEGV: segmentation violation",
  "SIGUSR2: user-defined signal 2",
  "SIGPIPE: write to broken pipe",
  "SIGALRM: alarm clock",
  "SIGTERM: termination",
  "SIGSTKFLT: stack fault",
  "SIGCHLD: child status has changed",
  "SIGCONT: continue",
  "SIGSTOP: stop, unblockable",
  "SIGTSTP: keyboard stop",
  "SIGTTIN: background read from tty",
  "SIGTTOU: background write to tty",
  "SIGURG: urgent condition on socket",
  "SIGXCPU: cpu limit exceeded",
  "SIGXFSZ: file size limit exceeded",
  "SIGVTALRM: virtual alarm clock",
  "SIGPROF: profiling alarm clock",
  "SIGWINCH: window size change",
  "SIGIO: i/o now possible",
  "SIGPWR: power failure restart",
  "SIGSYS: bad system call",
];

/** {name, description} as the runtime prints them; unknown numbers as `0x..` with no description. */
export function signalName(sig: number): { name: string; description: string } {
  const s = SIGNALS[sig];
  if (s === undefined)
    return { name: sig >= 32 && sig < 65 ? `signal ${sig}` : `0x${sig.toString(16)}`, description: "" };
  const i = s.indexOf(": ");
  return { name: s.slice(0, i), description: s.slice(i + 2) };
}
