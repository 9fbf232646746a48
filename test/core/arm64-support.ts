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
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { delimiter, join } from "node:path";
import { type CoreResult, toCrashGoroutines } from "../../src/core/read.js";
import { buildProgram, parseGoroutineDump } from "../oracle/support.js";
import { CACHE } from "../support/fixtures.js";
import type { CoreRun, Variant } from "./support.js";

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
 * The variants of support.ts, built for linux/arm64. "pie-sw" is a stripped PIE linked to be
 * relocated (see PIE_RELOCATED).
 */
export function buildArm64Variant(prog: string, go: string, variant: Variant): string {
  const env = { GOARCH: "arm64" };
  if (variant === "sw") return buildProgram(prog, "arm64-sw", { go, flags: ["-ldflags=-s -w"], env });
  if (variant === "pie-sw")
    return buildProgram(prog, "arm64-pie-sw", {
      go,
      flags: ["-buildmode=pie", "-ldflags=-s -w -T 0x1000"],
      env,
    });
  const bin = buildProgram(prog, "arm64-default", { go, env });
  if (variant === "default") return bin;
  const out = `${bin}-objcopy-stripped`;
  if (!existsSync(out)) {
    const tmp = `${out}.tmp-${process.pid}`;
    execFileSync(OBJCOPY, ["--strip-all", bin, tmp]);
    renameSync(tmp, out);
  }
  return out;
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

function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
}

export interface QemuCoreRun extends CoreRun {
  /** Milliseconds from spawn to exit (cached runs: the first run's). */
  ms: number;
}

/**
 * Runs `qemu-aarch64 binary args` with GOTRACEBACK=crash (with `quit`: SIGQUIT once the program
 * printed "ready") and returns the guest's core and what the program printed. Cached.
 */
export async function makeQemuCore(
  binary: string,
  args: string[],
  mode: "crash" | "quit",
): Promise<QemuCoreRun> {
  if (QEMU === undefined) throw new Error(String(QEMU_SKIP));
  const key = createHash("sha256")
    .update(fileHash(binary))
    .update(JSON.stringify({ args, mode, v: 1 }))
    .digest("hex")
    .slice(0, 16);
  const dir = join(CACHE, "cores", `arm64-${key}`);
  const done = join(dir, "done");
  const result = (ms: number): QemuCoreRun => ({
    core: join(dir, "core"),
    binary: join(dir, "bin"),
    stderr: readFileSync(join(dir, "stderr.txt"), "utf8"),
    stdout: readFileSync(join(dir, "stdout.txt"), "utf8"),
    ms,
  });
  if (existsSync(done)) return result(Number(readFileSync(done, "utf8")) || 0);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The copy is named after the program: qemu names the core after it.
  copyFileSync(binary, join(dir, "bin"));
  const t0 = Date.now();
  const { stdout, stderr } = await runUnderQemu(QEMU, join(dir, "bin"), args, mode, dir);
  const ms = Date.now() - t0;
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
  writeFileSync(join(dir, "stderr.txt"), stderr);
  writeFileSync(join(dir, "stdout.txt"), stdout);
  writeFileSync(done, String(ms));
  return result(ms);
}

function runUnderQemu(
  qemu: string,
  bin: string,
  args: string[],
  mode: "crash" | "quit",
  cwd: string,
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const argv = [qemu, ...(HAVE_AARCH64_LOADER ? ["-L", AARCH64_SYSROOT] : []), bin, ...args];
    const child = spawn("bash", ["-c", 'ulimit -c unlimited; exec "$0" "$@"', ...argv], {
      cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GOTRACEBACK: "crash" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (mode === "quit" && !sent && stdout.includes("ready\n")) {
        sent = true;
        child.kill("SIGQUIT");
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGABRT" && code !== 134) {
        reject(
          new Error(
            `expected qemu to die of SIGABRT, got ${code ?? signal}; stderr: ${stderr.slice(0, 2000)}`,
          ),
        );
      } else resolve({ stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Comparing a core with the runtime's text

/**
 * Differences between the goroutines of a core and the runtime's text dump (empty: they agree):
 * the check core.test.ts makes on amd64 cores, for every goroutine the text printed: same id,
 * status, frames (function as printed, file, line) and `created by`; the running goroutine may
 * carry extra runtime frames on top; no goroutine in the core that the text did not print.
 */
export function compareWithDump(
  r: CoreResult,
  text: string,
): { problems: string[]; compared: number; frames: number } {
  const dump = parseGoroutineDump(text);
  // Register dumps follow the blocks traced from a signal context (crash mode).
  const problems: string[] = dump.unparsed
    .filter((u) => !/: (?:[a-z0-9]+\s+0x[0-9a-f]+|-----)$/.test(u))
    .map((u) => `unparsed text: ${u}`);
  const core = new Map(toCrashGoroutines(r).map((g) => [g.id, g]));
  const raw = new Map(r.goroutines.map((g) => [g.id, g]));
  // A goroutine may be printed twice (once as "running on other thread", once by its own M).
  const byId = new Map<number, (typeof dump.goroutines)[number]>();
  for (const g of dump.goroutines) {
    if (g.id === 0) continue;
    const prev = byId.get(g.id);
    if (prev === undefined || (prev.frames.length === 0 && g.frames.length > 0)) byId.set(g.id, g);
  }
  let compared = 0;
  let frames = 0;
  for (const [id, tg] of byId) {
    const cg = core.get(id);
    const rg = raw.get(id);
    if (cg === undefined || rg === undefined) {
      problems.push(`goroutine ${id} [${tg.state}] is in the text but not in the core`);
      continue;
    }
    compared++;
    const header = [
      `${rg.statusText}${rg.scan ? " (scan)" : ""}`,
      ...(rg.lockedToThread ? ["locked to thread"] : []),
    ].join(", ");
    const textHeader = tg.state.replace(/, \d+ minutes?/, "");
    if (header !== textHeader)
      problems.push(`goroutine ${id}: status [${header}] in the core, [${textHeader}] in the text`);
    if (tg.notes.some((n) => n.includes("stack unavailable"))) continue;
    const want = tg.frames.map((f) => `${f.func} ${f.file}:${f.line}`);
    const got = cg.frames.map((f) => `${f.function} ${f.file}:${f.line}`);
    const running = rg.status === 2 || rg.crashed;
    const ok = running
      ? got.slice(got.length - want.length).join("\n") === want.join("\n")
      : got.join("\n") === want.join("\n");
    if (!ok || want.length === 0) {
      problems.push(
        `goroutine ${id} [${tg.state}] (from ${rg.startedFrom}, stop ${rg.stop}: ${rg.stopDetail}) frames differ:\n    text: ${want.join(" | ")}\n    core: ${got.join(" | ")}`,
      );
    }
    frames += want.length;
    const tc = tg.createdBy;
    const cc = cg.createdBy;
    if ((tc === undefined) !== (cc === undefined))
      problems.push(`goroutine ${id}: created-by present in one only`);
    else if (tc !== undefined && cc !== undefined) {
      const a = `${tc.func} ${tc.file}:${tc.line} +${tc.offset}`;
      const b = `${cc.function} ${cc.file}:${cc.line} +${cc.offset}`;
      if (a !== b) problems.push(`goroutine ${id}: created by ${b} in the core, ${a} in the text`);
    }
  }
  for (const id of core.keys())
    if (!byId.has(id)) problems.push(`goroutine ${id} is in the core but not in the text`);
  return { problems, compared, frames };
}

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
