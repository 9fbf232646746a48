/**
 * linux/arm64 cores made on an amd64 machine: the core fixture programs built with GOARCH=arm64 and
 * run under qemu-user (`qemu-aarch64-static ./prog`, invoked explicitly: no binfmt registration).
 *
 * qemu-user writes an ELF core of the *guest* (e_machine AArch64; named
 * `qemu_<prog>_<time>_<pid>.core` in the working directory, whatever core_pattern says) when the
 * guest dies of a core-dumping signal and RLIMIT_CORE is not 0. It is built like the kernel's
 * (NT_PRSTATUS per thread with the aarch64 user_pt_regs, NT_PRPSINFO, NT_AUXV) but has no
 * NT_SIGINFO or NT_FILE, and it leaves out executable pages that start with an ELF header (the
 * program's text: read from the binary instead). qemu 7.2 (bookworm) then also lets the host
 * kernel dump qemu itself (an x86-64 core in the same directory): we delete it. A signal sent to
 * the qemu process (SIGQUIT) is delivered to the guest. Signal frames on the guest's stacks are
 * built by qemu in the kernel's arm64 rt_sigframe layout.
 *
 * Results are cached in .cache/fixtures/cores/arm64-<key> like support.ts's makeCore.
 */
import { execFileSync } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync, readSync, renameSync, rmSync } from "node:fs";
import { delimiter, join } from "node:path";
import {
  type BuildTarget,
  buildVariant,
  type CoreMaker,
  type CoreRun,
  makeCore,
  type Variant,
} from "./support.js";

function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(delimiter)) {
    const p = join(dir, name);
    if (dir !== "" && existsSync(p)) return p;
  }
  const p = join("/usr/bin", name);
  return existsSync(p) ? p : undefined;
}

/** qemu-user for aarch64 guests, when installed. */
export const QEMU: string | undefined = which("qemu-aarch64-static") ?? which("qemu-aarch64");

/** `describe` skip option: false when qemu is there, else the reason printed by the runner. */
export const QEMU_SKIP: string | false =
  QEMU === undefined
    ? "qemu-aarch64-static is not installed: linux/arm64 programs cannot run here (scripts/install-system-deps.sh installs qemu-user-static)"
    : false;

/**
 * Where the aarch64 dynamic loader lives (libc6-arm64-cross, pulled in by gcc-aarch64-linux-gnu):
 * Go's linux/arm64 PIEs ask for /lib/ld-linux-aarch64.so.1, which qemu looks up under `-L`.
 */
export const AARCH64_SYSROOT = "/usr/aarch64-linux-gnu";
export const HAVE_AARCH64_LOADER = existsSync(join(AARCH64_SYSROOT, "lib/ld-linux-aarch64.so.1"));

/** objcopy that knows aarch64 ELF: the cross binutils, else the host's (binutils is multi-target). */
const OBJCOPY = which("aarch64-linux-gnu-objcopy") ?? "objcopy";

/**
 * Linker flags that make qemu relocate a Go linux/arm64 PIE. Go links arm64 PIEs at 0x10000 and
 * qemu-user maps an ET_DYN at its link address when that is free (load bias 0), where the kernel
 * would move it to ELF_ET_DYN_BASE. Linked at 0 (`-T 0x1000` puts the first segment at 0: it
 * rounds down to the 64 KiB segment alignment), qemu places it high (0x55_0000_0000 in qemu 7.2),
 * so the bias is not 0, as on a real machine.
 */
export const PIE_RELOCATED = ["-buildmode=pie", "-ldflags=-T 0x1000"];

/**
 * linux/arm64 builds of support.ts's variants. "pie-sw" is a stripped PIE linked to be relocated
 * (see PIE_RELOCATED).
 */
export const ARM64_TARGET: BuildTarget = {
  prefix: "arm64-",
  env: { GOARCH: "arm64" },
  pieLdflags: "-s -w -T 0x1000",
  objcopy: OBJCOPY,
};

/** support.ts's buildVariant for linux/arm64. */
export function buildArm64Variant(prog: string, go: string, variant: Variant): string {
  return buildVariant(prog, go, variant, ARM64_TARGET);
}

/** The command line that runs an aarch64 `bin args` under qemu-user. */
export function qemuArgv(bin: string, args: string[]): string[] {
  if (QEMU === undefined) throw new Error(String(QEMU_SKIP));
  return [QEMU, ...(HAVE_AARCH64_LOADER ? ["-L", AARCH64_SYSROOT] : []), bin, ...args];
}

/** e_type and e_machine of an ELF file (undefined when it is not one). */
export function elfKind(path: string): { type: number; machine: number } | undefined {
  const b = Buffer.alloc(20);
  const fd = openSync(path, "r");
  try {
    if (readSync(fd, b, 0, 20, 0) < 20) return undefined;
  } finally {
    closeSync(fd);
  }
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[5] !== 1) return undefined;
  return { type: b.readUInt16LE(16), machine: b.readUInt16LE(18) };
}

const ET_CORE = 4;
export const EM_AARCH64 = 183;

/** Runs under qemu-user; keeps the guest's core (a sparse copy), deletes qemu's own. */
export const QEMU_CORES: CoreMaker = {
  prefix: "arm64-",
  argv: qemuArgv,
  timeoutMs: 120_000,
  quitDelayMs: 0,
  expected: "qemu to die of SIGABRT",
  collect(dir, stderr) {
    let guest: string | undefined;
    for (const f of readdirSync(dir)) {
      if (f === "bin") continue;
      const kind = elfKind(join(dir, f));
      if (kind?.type !== ET_CORE) continue;
      if (kind.machine === EM_AARCH64 && guest === undefined) guest = f;
      else rmSync(join(dir, f)); // qemu's own (host) core
    }
    if (guest === undefined) {
      throw new Error(
        `qemu wrote no aarch64 core in ${dir} (files: ${readdirSync(dir).join(", ")}); stderr: ${stderr.slice(0, 2000)}`,
      );
    }
    // qemu writes every mapped page, untouched ones as zeros (50 MB for a small program; the kernel
    // leaves holes): keep a sparse copy (1–2 MB on disk).
    try {
      execFileSync("cp", ["--sparse=always", join(dir, guest), join(dir, "core.sparse")]);
      renameSync(join(dir, "core.sparse"), join(dir, "core"));
      if (guest !== "core") rmSync(join(dir, guest));
    } catch {
      if (guest !== "core") renameSync(join(dir, guest), join(dir, "core"));
    }
  },
};

/**
 * Runs `qemu-aarch64 binary args` with GOTRACEBACK=crash (with `quit`: SIGQUIT once the program
 * printed "ready") and returns the guest's core and what the program printed. Cached.
 */
export async function makeQemuCore(binary: string, args: string[], mode: "crash" | "quit"): Promise<CoreRun> {
  if (QEMU === undefined) throw new Error(String(QEMU_SKIP));
  return makeCore(binary, args, mode, QEMU_CORES);
}

// ---------------------------------------------------------------------------------------------
// The runtime's signal register dumps

export interface RegisterDump {
  /** "SIGQUIT" and the like. */
  signal: string;
  /** The M that printed it (`PC=… m=N`). */
  m: number;
  /** `sigcode=`. */
  code: number;
  /** `r0`…`r29`, `lr`, `sp`, `pc`, `fault`. */
  regs: Record<string, number>;
}

/**
 * The runtime's signal register dumps (sighandler with GOTRACEBACK=crash: `SIGQUIT: quit`, then
 * `PC=0x… m=N sigcode=C`, the goroutines it traced, and `r0 0x…` … `pc 0x…` lines), one per M.
 */
export function signalRegisterDumps(text: string): RegisterDump[] {
  const out: RegisterDump[] = [];
  let cur: RegisterDump | undefined;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = /^(SIG[A-Z0-9]+): /.exec(line);
    const pcl = h ? /^PC=0x[0-9a-f]+ m=(\d+) sigcode=(-?\d+)/.exec(lines[i + 1] ?? "") : null;
    if (h && pcl) {
      cur = { signal: h[1]!, m: Number(pcl[1]), code: Number(pcl[2]), regs: {} };
      out.push(cur);
      i++;
      continue;
    }
    const rm = /^(r\d+|lr|sp|pc|fault)\s+0x([0-9a-f]+)$/.exec(line);
    if (rm && cur !== undefined) cur.regs[rm[1]!] = Number.parseInt(rm[2]!, 16);
  }
  return out.filter((d) => d.regs.pc !== undefined && d.regs.sp !== undefined);
}
