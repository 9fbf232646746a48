/**
 * Shared helpers of the oracle tests: building our Go fixture programs (cached, keyed by the whole
 * source tree), parsing the Go runtime's goroutine dump, the runtime's own display rules (which PC
 * it looks up for a frame, how it prints a function name), and thin wrappers over the independent
 * oracles (`go tool nm`, `go tool addr2line`, binutils `nm`/`readelf`, our debug/gosym program).
 *
 * Nothing here imports the engine: the oracles must stay independent of what they check.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { type GoBuildOptions, goBin, goBuild, newestGo, ROOT } from "../support/fixtures.js";

// ---------------------------------------------------------------------------------------------
// Building

/** Every file under a directory, recursively, sorted (relative paths). */
function treeFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

/**
 * goBuild keyed by the program's whole source tree (goBuild itself hashes only the top-level files,
 * and our programs have sub-packages), so an edit anywhere in the program rebuilds it.
 */
export function buildProgram(prog: string, name: string, opts: GoBuildOptions): string {
  const dir = join(ROOT, "test/fixtures/go", prog);
  const h = createHash("sha256");
  for (const f of treeFiles(dir))
    h.update(f)
      .update("\0")
      .update(readFileSync(join(dir, f)));
  h.update(JSON.stringify(opts));
  return goBuild(prog, { ...opts, tag: `${name}-${h.digest("hex").slice(0, 12)}` });
}

/** Minor version number of a Debian toolchain name ("1.21" → 21). */
export function goMinor(version: string): number {
  const m = /^1\.(\d+)$/.exec(version);
  if (!m) throw new Error(`unexpected Go version ${version}`);
  return Number(m[1]);
}

// ---------------------------------------------------------------------------------------------
// The goroutine dump

export interface DumpFrame {
  /** Function name as printed (after the runtime's display transformations). */
  func: string;
  /** Text between the argument parentheses ("..." for inlined frames). */
  args: string;
  file: string;
  line: number;
  /** The `+0x` offset from the physical function's entry; undefined for inlined frames or pc == entry. */
  offset?: number;
  /** Runtime PC (`pc=`); present exactly on physical frames at GOTRACEBACK=system. */
  pc?: number;
  sp?: number;
  fp?: number;
  /** 1-based line number of the function line in the dump (for messages). */
  textLine: number;
}

export interface CreatedBy {
  func: string;
  file: string;
  line: number;
  offset?: number;
}

export interface DumpGoroutine {
  id: number;
  /** Status text in brackets, e.g. "chan receive", "syscall". */
  state: string;
  frames: DumpFrame[];
  createdBy?: CreatedBy;
  /** "goroutine running on other thread; stack unavailable" and similar. */
  notes: string[];
  /** Whether this block directly follows the signal's `PC=` line (it was traced from the signal context). */
  afterSignal: boolean;
}

export interface GoroutineDump {
  /** "SIGQUIT: quit" and the like. */
  signal?: string;
  /** The `PC=0x...` of the signal line. */
  signalPC?: number;
  goroutines: DumpGoroutine[];
  /** Lines inside goroutine blocks the parser did not understand (should be none). */
  unparsed: string[];
}

const GOROUTINE_RE = /^goroutine (\d+)(?: gp=0x[0-9a-f]+ m=(?:\d+|nil)(?: mp=0x[0-9a-f]+)?)? \[(.*)\]:$/;
const LOCATION_RE =
  /^\t(.+):(\d+)(?: \+0x([0-9a-f]+))?(?: fp=0x([0-9a-f]+) sp=0x([0-9a-f]+) pc=0x([0-9a-f]+))?$/;
const CREATED_RE = /^created by (.+?)(?: in goroutine \d+)?$/;
const KNOWN_NOTES = [
  /^\tgoroutine running on other thread; stack unavailable$/,
  /^\.\.\.additional frames elided\.\.\.$/,
  /^\.\.\.\d+ frames elided\.\.\.$/,
];

/** Splits `name(args)` at the argument list's opening parenthesis (names may hold parentheses). */
export function splitFuncLine(s: string): { func: string; args: string } | undefined {
  if (!s.endsWith(")")) return undefined;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s[i];
    if (c === ")") depth++;
    else if (c === "(") {
      depth--;
      if (depth === 0) {
        if (i === 0) return undefined;
        return { func: s.slice(0, i), args: s.slice(i + 1, -1) };
      }
    }
  }
  return undefined;
}

const hexNum = (s: string | undefined): number | undefined =>
  s === undefined ? undefined : Number.parseInt(s, 16);

/**
 * Parses the text the runtime writes on a fatal signal with GOTRACEBACK=system: the signal header,
 * then goroutine blocks of two-line frames, `created by` trailers, register dumps. An explicit line
 * state machine; anything unexpected inside a goroutine block goes to `unparsed`.
 */
export function parseGoroutineDump(text: string): GoroutineDump {
  const lines = text.split("\n");
  const dump: GoroutineDump = { goroutines: [], unparsed: [] };
  let g: DumpGoroutine | undefined;
  let sawSignalPC = false;
  let pendingFunc: { func: string; args: string; textLine: number } | undefined;
  let pendingCreated: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (dump.signal === undefined && /^SIG[A-Z]+: /.test(line)) {
      dump.signal = line;
      continue;
    }
    const pcm = /^PC=0x([0-9a-f]+) m=/.exec(line);
    if (pcm && dump.signalPC === undefined) {
      dump.signalPC = hexNum(pcm[1]);
      sawSignalPC = true;
      continue;
    }
    const gm = GOROUTINE_RE.exec(line);
    if (gm) {
      g = {
        id: Number(gm[1]),
        state: gm[2]!,
        frames: [],
        notes: [],
        afterSignal: sawSignalPC && dump.goroutines.length === 0,
      };
      dump.goroutines.push(g);
      pendingFunc = undefined;
      pendingCreated = undefined;
      continue;
    }
    if (g === undefined) continue;
    if (line === "") {
      if (pendingFunc || pendingCreated)
        dump.unparsed.push(`goroutine ${g.id}: dangling frame before blank line`);
      g = undefined;
      pendingFunc = undefined;
      pendingCreated = undefined;
      continue;
    }
    if (pendingFunc || pendingCreated !== undefined) {
      const lm = LOCATION_RE.exec(line);
      if (!lm) {
        dump.unparsed.push(`goroutine ${g.id} line ${i + 1}: ${line}`);
        pendingFunc = undefined;
        pendingCreated = undefined;
        continue;
      }
      if (pendingCreated !== undefined) {
        g.createdBy = { func: pendingCreated, file: lm[1]!, line: Number(lm[2]), offset: hexNum(lm[3]) };
        if (lm[6] !== undefined) dump.unparsed.push(`goroutine ${g.id} line ${i + 1}: pc= on created-by`);
      } else if (pendingFunc) {
        g.frames.push({
          ...pendingFunc,
          file: lm[1]!,
          line: Number(lm[2]),
          offset: hexNum(lm[3]),
          fp: hexNum(lm[4]),
          sp: hexNum(lm[5]),
          pc: hexNum(lm[6]),
        });
      }
      pendingFunc = undefined;
      pendingCreated = undefined;
      continue;
    }
    const cm = CREATED_RE.exec(line);
    if (cm) {
      pendingCreated = cm[1]!;
      continue;
    }
    // Not the runtime's: qemu-user reports the signal that ended the emulated program on the same
    // stderr, right after the dump (newer qemu prints it; seen in CI, bookworm-backports' qemu).
    if (/^qemu(?:-[\w-]+)?: uncaught target signal \d+ \([^)]*\)/.test(line)) {
      g = undefined;
      continue;
    }
    if (KNOWN_NOTES.some((re) => re.test(line))) {
      g.notes.push(line.trim());
      continue;
    }
    if (!line.startsWith("\t")) {
      const fl = splitFuncLine(line);
      if (fl) {
        pendingFunc = { ...fl, textLine: i + 1 };
        continue;
      }
    }
    dump.unparsed.push(`goroutine ${g.id} line ${i + 1}: ${line}`);
  }
  return dump;
}

/** One physical frame with the inlined frames printed before it: innermost first, physical last. */
export interface DumpChain {
  frames: DumpFrame[];
  physical: DumpFrame;
  /** Index of this chain in its goroutine (0 = innermost physical frame). */
  index: number;
}

/** Groups a goroutine's frames into physical frames with their inlined callees. */
export function chainsOf(g: DumpGoroutine): { chains: DumpChain[]; problems: string[] } {
  const chains: DumpChain[] = [];
  const problems: string[] = [];
  let acc: DumpFrame[] = [];
  for (const f of g.frames) {
    acc.push(f);
    if (f.pc !== undefined) {
      chains.push({ frames: acc, physical: f, index: chains.length });
      acc = [];
    } else if (f.args !== "..." || f.offset !== undefined) {
      problems.push(
        `goroutine ${g.id}: frame ${f.func} (dump line ${f.textLine}) has no pc= and is not inlined`,
      );
    }
  }
  if (acc.length > 0) problems.push(`goroutine ${g.id}: inlined frames without a physical frame at the end`);
  return { chains, problems };
}

/**
 * The runtime's choice of PC to look a physical frame up at (runtime/traceback.go: `symPC` in
 * 1.21+, `tracepc` in gentraceback before): the return address minus one, except
 *  - when pc is the function's entry (printed without `+0x`),
 *  - for the first frame traced from a signal context (the block right after `PC=`, when that
 *    frame's pc is the signal PC; a goroutine in a syscall is traced from its saved syscall PC),
 *  - for the frame whose callee was an injected call: runtime.sigpanic in every version, and from
 *    1.21 also runtime.asyncPreempt and runtime.debugCallV2.
 */
export function runtimeLookupPC(
  g: DumpGoroutine,
  chains: DumpChain[],
  i: number,
  signalPC: number | undefined,
  minor: number,
): number {
  const c = chains[i]!;
  const pc = c.physical.pc!;
  if (c.physical.offset === undefined) return pc;
  if (i === 0 && g.afterSignal && signalPC !== undefined && pc === signalPC) return pc;
  if (i > 0) {
    const callee = chains[i - 1]!.physical.func;
    const injected =
      minor >= 21
        ? ["runtime.sigpanic", "runtime.asyncPreempt", "runtime.debugCallV2"]
        : ["runtime.sigpanic"];
    if (injected.includes(callee)) return pc;
  }
  return pc - 1;
}

/**
 * How the runtime prints a symbol name in a traceback. 1.21+ (`printFuncName`): runtime.gopanic as
 * "panic", and everything from the first '[' to the last ']' as "[...]" (generic shapes), for
 * inlined and physical frames alike. Before (gentraceback): physical runtime.gopanic as "panic",
 * every other name raw.
 */
export function runtimePrintName(symbol: string, minor: number, inlined: boolean): string {
  if (minor >= 21) {
    if (symbol === "runtime.gopanic") return "panic";
    const i = symbol.indexOf("[");
    if (i < 0) return symbol;
    const j = symbol.lastIndexOf("]");
    if (j <= i) return symbol;
    return symbol.slice(0, i) + "[...]" + symbol.slice(j + 1);
  }
  if (!inlined && symbol === "runtime.gopanic") return "panic";
  return symbol;
}

// ---------------------------------------------------------------------------------------------
// Process helpers

/**
 * Load bias of a running executable: start of its offset-0 mapping in /proc/<pid>/maps minus the
 * page-aligned p_vaddr of its offset-0 PT_LOAD (from readelf).
 */
export function loadBias(pid: number, exe: string): number {
  const real = realpathSync(exe);
  const maps = readFileSync(`/proc/${pid}/maps`, "utf8").split("\n");
  let start: number | undefined;
  for (const l of maps) {
    const m = /^([0-9a-f]+)-[0-9a-f]+ \S+ ([0-9a-f]+) \S+ \d+\s+(.*)$/.exec(l);
    if (m && m[3] === real && Number.parseInt(m[2]!, 16) === 0) {
      start = Number.parseInt(m[1]!, 16);
      break;
    }
  }
  if (start === undefined) throw new Error(`no offset-0 mapping of ${real} in /proc/${pid}/maps`);
  const ph = execFileSync("readelf", ["-lW", exe], { encoding: "utf8" });
  for (const l of ph.split("\n")) {
    const m = /^\s*LOAD\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)/.exec(l);
    if (m && Number.parseInt(m[1]!, 16) === 0) {
      const vaddr = Number.parseInt(m[2]!, 16);
      return start - (vaddr - (vaddr % 4096));
    }
  }
  throw new Error(`no offset-0 PT_LOAD in ${exe}`);
}

// ---------------------------------------------------------------------------------------------
// Symbol oracles

/** The main module as `go version -m` (Go's own debug/buildinfo reader) reports it. */
export function goVersionModule(go: string, bin: string): { path: string; version: string } {
  const out = execFileSync(goBin(go), ["version", "-m", bin], {
    encoding: "utf8",
    env: { ...process.env, GOTOOLCHAIN: "local" },
  });
  const m = /^\tmod\t(\S+)\t(\S+)/m.exec(out);
  if (!m) throw new Error(`go version -m ${bin}: no mod line`);
  return { path: m[1]!, version: m[2]! };
}

/**
 * The runtime's funcpkgpath (runtime/symtab.go): after the last '/', up to the first '.'; applied
 * to the name without its generic type arguments.
 */
export function funcPackagePath(name: string): string {
  const b = name.indexOf("[");
  const base = b >= 0 ? name.slice(0, b) : name;
  const slash = base.lastIndexOf("/");
  const dot = base.indexOf(".", slash + 1);
  return dot >= 0 ? base.slice(0, dot) : base;
}

export interface NmSymbol {
  addr: number;
  size: number;
  type: string;
  name: string;
}

/** `go tool nm -size -sort address` of the given toolchain; undefined when the binary has no symbols. */
export function goToolNm(go: string, bin: string): NmSymbol[] | undefined {
  let out: string;
  try {
    out = execFileSync(goBin(go), ["tool", "nm", "-size", "-sort", "address", bin], {
      encoding: "utf8",
      maxBuffer: 256 << 20,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GOTOOLCHAIN: "local" },
    });
  } catch {
    return undefined;
  }
  const syms: NmSymbol[] = [];
  for (const l of out.split("\n")) {
    const m = /^\s*([0-9a-f]+)\s+(\d+)\s+(\S)\s+(.+)$/.exec(l);
    if (m) syms.push({ addr: Number.parseInt(m[1]!, 16), size: Number(m[2]), type: m[3]!, name: m[4]! });
  }
  return syms.length > 0 ? syms : undefined;
}

/** binutils `nm -S --defined-only` text symbols with a size (ELF only). */
export function binutilsNm(bin: string): NmSymbol[] {
  const out = execFileSync("nm", ["-S", "--defined-only", bin], { encoding: "utf8", maxBuffer: 256 << 20 });
  const syms: NmSymbol[] = [];
  for (const l of out.split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (\S) (.+)$/.exec(l);
    if (m && /^[tT]$/.test(m[3]!)) {
      syms.push({
        addr: Number.parseInt(m[1]!, 16),
        size: Number.parseInt(m[2]!, 16),
        type: m[3]!,
        name: m[4]!,
      });
    }
  }
  return syms;
}

/**
 * What `go tool addr2line` (and our debug/gosym oracle) answer: physical function, innermost
 * position. func "?" when no Go function covers the PC; line -1 (file "") when the function's
 * tables have no entry there (alignment padding after the code).
 */
export interface LineAnswer {
  func: string;
  file: string;
  line: number;
}

/** `go tool addr2line` over many PCs in one run; throws (with its message) if it cannot read the binary. */
export function goToolAddr2line(go: string, bin: string, pcs: number[]): LineAnswer[] {
  const out = execFileSync(goBin(go), ["tool", "addr2line", bin], {
    input: pcs.map((p) => `0x${p.toString(16)}`).join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 256 << 20,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, GOTOOLCHAIN: "local" },
  });
  const lines = out.split("\n");
  const res: LineAnswer[] = [];
  for (let i = 0; i < pcs.length; i++) {
    const func = lines[2 * i];
    const pos = lines[2 * i + 1];
    const m = pos === undefined ? null : /^(.*):(-?\d+)$/.exec(pos);
    if (func === undefined || !m)
      throw new Error(`addr2line: unexpected output for pc #${i}: ${func} / ${pos}`);
    res.push({ func, file: m[1]!, line: Number(m[2]) });
  }
  return res;
}

export interface GosymOracle {
  /** How it found the pclntab: "section .gopclntab", "symbol runtime.pclntab", "scan .rdata"... */
  how: string;
  addr: number;
  textStart: number;
  funcCount: number;
}

let gosymOracleBin: string | undefined;
function gosymOracleExe(): string {
  const go = newestGo();
  if (!go) throw new Error("no Go toolchain for the debug/gosym oracle");
  gosymOracleBin ??= buildProgram("matrix-gosym-oracle", "native", { go });
  return gosymOracleBin;
}

function parseGosymHeader(line: string | undefined): GosymOracle {
  const m = line === undefined ? null : /^pclntab\t(.+)\t([0-9a-f]+)\t([0-9a-f]+)\t(\d+)$/.exec(line);
  if (!m) throw new Error(`gosym oracle: bad header ${line}`);
  return {
    how: m[1]!,
    addr: Number.parseInt(m[2]!, 16),
    textStart: Number.parseInt(m[3]!, 16),
    funcCount: Number(m[4]),
  };
}

/** Functions (entry, end, name) as debug/gosym decodes them from a pclntab our oracle located. */
export function gosymFuncs(bin: string): { header: GosymOracle; funcs: NmSymbol[] } {
  const out = execFileSync(gosymOracleExe(), ["funcs", bin], { encoding: "utf8", maxBuffer: 256 << 20 });
  const lines = out.split("\n");
  const header = parseGosymHeader(lines[0]);
  const funcs: NmSymbol[] = [];
  for (const l of lines.slice(1)) {
    const m = /^([0-9a-f]+)\t([0-9a-f]+)\t(.+)$/.exec(l);
    if (m) {
      const addr = Number.parseInt(m[1]!, 16);
      funcs.push({ addr, size: Number.parseInt(m[2]!, 16) - addr, type: "T", name: m[3]! });
    }
  }
  return { header, funcs };
}

/** debug/gosym's PCToLine for many PCs (same answer shape as addr2line). */
export function gosymLookup(bin: string, pcs: number[]): { header: GosymOracle; answers: LineAnswer[] } {
  const out = execFileSync(gosymOracleExe(), ["lookup", bin], {
    input: pcs.map((p) => p.toString(16)).join("\n") + "\n",
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  const lines = out.split("\n");
  const header = parseGosymHeader(lines[0]);
  const answers: LineAnswer[] = [];
  for (let i = 0; i < pcs.length; i++) {
    const m = /^(.+)\t(.*)\t(-?\d+)$/.exec(lines[i + 1] ?? "");
    if (!m) throw new Error(`gosym oracle: bad line for pc #${i}: ${lines[i + 1]}`);
    answers.push({ func: m[1]!, file: m[2]!, line: Number(m[3]) });
  }
  return { header, answers };
}

// ---------------------------------------------------------------------------------------------
// Sampling

/** mulberry32: a small deterministic PRNG, seeded from a string, so failures reproduce. */
export function prng(seed: string): () => number {
  let a = createHash("sha256").update(seed).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SampledPC {
  pc: number;
  /** The range it was drawn from. */
  sym: NmSymbol;
}

/**
 * n PCs inside the given ranges: functions are visited in a shuffled order (so nearly every
 * function is hit once before any twice), each at a random offset aligned to `align`.
 */
export function samplePCs(ranges: NmSymbol[], n: number, seed: string, align = 1): SampledPC[] {
  const rnd = prng(seed);
  const usable = ranges.filter((r) => r.size >= align);
  if (usable.length === 0) return [];
  const order = usable.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const out: SampledPC[] = [];
  for (let k = 0; k < n; k++) {
    const sym = usable[order[k % order.length]!]!;
    const slots = Math.floor(sym.size / align);
    out.push({ pc: sym.addr + Math.floor(rnd() * slots) * align, sym });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Expected failures

/** A known wrong answer, checked in with its reason; the test asserts it still fails. */
export interface ExpectedFailure {
  oracle: "dump" | "addr2line";
  /** Binary label exactly as the test names it, e.g. "go1.21/pie" or "go1.23/darwin-arm64". */
  label: string;
  /** Physical function (dump) or oracle function (addr2line) of the failing PCs. */
  func: string;
  /** Why it fails (engine bug, toolchain quirk...), with the reproduction. */
  reason: string;
}

export interface Mismatch {
  label: string;
  func: string;
  /** Full detail: PCs, expected vs got. */
  detail: string;
}

/**
 * Splits one binary's mismatches into unexpected ones and expectations that no longer fail (so
 * fixing a bug forces updating the list).
 */
export function reconcile(
  oracle: ExpectedFailure["oracle"],
  label: string,
  mismatches: Mismatch[],
  expected: ExpectedFailure[],
): { unexpected: Mismatch[]; stale: ExpectedFailure[]; expectedHits: number } {
  const mine = expected.filter((e) => e.oracle === oracle && e.label === label);
  const listed = (m: Mismatch): boolean => mine.some((e) => e.func === m.func);
  const unexpected = mismatches.filter((m) => !listed(m));
  const stale = mine.filter((e) => !mismatches.some((m) => m.func === e.func));
  return { unexpected, stale, expectedHits: mismatches.length - unexpected.length };
}

/** Formats at most `max` mismatches for an assertion message. */
export function describeMismatches(ms: Mismatch[], max = 25): string {
  const head = ms.slice(0, max).map((m) => `  [${m.label}] ${m.func}: ${m.detail}`);
  if (ms.length > max) head.push(`  ... and ${ms.length - max} more`);
  return head.join("\n");
}
