/**
 * Crash-text parser: an explicit line state machine over normalized lines (see normalize.ts).
 * It never throws on input: what it cannot place becomes a diagnostic with the physical line
 * number and a reason, and parsing goes on. Formats follow the Go runtime's printers
 * (runtime/traceback.go goroutineheader, traceback2, printcreatedby; panic.go printpanics,
 * dopanic_m; signal_unix.go fatalsignal) from Go 1.14 to 1.27, plus the race detector's reports,
 * `testing`'s timeout panic, net/http's `http: panic serving` and the kernel's OOM-killer line.
 */

import { packageOf } from "./funcname.js";
import { type CrashLimits, resolveLimits } from "./limits.js";
import { excerpt, normalizeInput } from "./normalize.js";
import type {
  CrashHeader,
  CrashKind,
  Goroutine,
  Label,
  OomKill,
  ParseDiagnostic,
  ParsedCrash,
  ParseResult,
  RaceAccess,
  StackFrame,
} from "./types.js";

export interface ParseOptions {
  limits?: Partial<CrashLimits>;
}

const RE_GOROUTINE = /^goroutine (\d+)((?: (?:gp|m|mp)=(?:0x[0-9a-fA-F]+|\d+|nil))*) \[/;
const RE_FILE =
  /^\s*(.+?):(\d+)(?:\s+\+0x([0-9a-fA-F]+))?(?:\s+fp=0x[0-9a-fA-F]+\s+sp=0x[0-9a-fA-F]+)?(?:\s+pc=0x([0-9a-fA-F]+))?\s*$/;
const RE_CREATED_BY = /^created by (.+?)(?: in goroutine (\d+))?\s*$/;
const RE_ELIDED_N = /^\.\.\.(\d+) frames elided\.\.\.\s*$/;
const RE_ELIDED_OLD = /^\.\.\.additional frames elided\.\.\.\s*$/;
const RE_SIGNAL_BRACKET =
  /^\[signal (SIG[A-Z0-9]+|0x[0-9a-fA-F]+)(?:: ([^\]]*?))?\s+code=(0x[0-9a-fA-F]+|-?\d+)\s+addr=(0x[0-9a-fA-F]+)\s+pc=(0x[0-9a-fA-F]+)\]\s*$/;
const RE_SIGNAL_HEADER = /^(SIG[A-Z0-9]+|Signal \d+): ?(.*)$/;
const RE_PC_LINE = /^PC=(0x[0-9a-fA-F]+) m=(\d+) sigcode=(-?\d+)(?: addr=(0x[0-9a-fA-F]+))?\s*$/;
/**
 * A line in which whatever ran the program reports how it died, after the program's own output:
 * qemu-user ("qemu: uncaught target signal 6 (Aborted) - core dumped") or a shell ("Aborted (core
 * dumped)", "Segmentation fault", "Killed").
 */
const RE_DEATH_REPORT =
  /^(?:qemu(?:-[\w-]+)?: uncaught target signal \d+ \([^)]*\)(?: - core dumped)?|(?:Aborted|Segmentation fault|Bus error|Illegal instruction|Quit|Killed|Terminated)(?: \(core dumped\))?)\s*$/;

const RE_REGISTER = /^[a-z][a-z0-9]{0,7}\s+0x[0-9a-fA-F]+\s*$/;
const RE_HTTP_PANIC = /http: panic serving (\S+): (.*)$/;
const RE_OOM =
  /(?:Out of memory|Memory cgroup out of memory): Killed process (\d+) \(([^)]*)\)(?:.*?total-vm:(\d+)kB)?(?:.*?anon-rss:(\d+)kB)?/;
const RE_RACE_ACCESS =
  /^((?:Previous )?(?:[Aa]tomic )?(?:[Rr]ead|[Ww]rite))(?: of size \d+)? at (0x[0-9a-fA-F]+) by (?:goroutine (\d+)|(main) goroutine):\s*$/;
const RE_RACE_CREATED = /^Goroutine (\d+) \(([a-z]+)\) created at:\s*$/;
const RE_RUNTIME_LINE =
  /^(?:runtime: |unexpected fault address |accessed data from freed user arena |runtime\/cgo: )/;
const BLANK = /^\s*$/;
const RE_PANIC_SUFFIX = / \[recovered(, repanicked)?\]$/;

function hexNum(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.startsWith("0x") || s.startsWith("0X") ? s.slice(2) : s;
  if (t.length === 0 || t.length > 16) return undefined;
  const v = Number.parseInt(t, 16);
  return Number.isSafeInteger(v) ? v : undefined;
}

function intNum(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const v = s.startsWith("0x") ? hexNum(s) : Number.parseInt(s, 10);
  return v !== undefined && Number.isSafeInteger(v) ? v : undefined;
}

function emptyHeader(kind: CrashKind): CrashHeader {
  return {
    kind,
    panics: [],
    fatalErrors: [],
    runtimeLines: [],
    httpPanic: false,
    runningTests: [],
    runtimeStack: [],
  };
}

/**
 * Splits a function line `pkg.(*T).M(0x1, {0x2, 0x3})` into name and argument text, scanning the
 * last balanced parentheses from the end. Undefined when the line is not of that form.
 */
export function splitFunctionLine(line: string): { fn: string; args: string } | undefined {
  const s = line.trimEnd();
  if (!s.endsWith(")")) return undefined;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c === 0x29) depth++;
    else if (c === 0x28) {
      depth--;
      if (depth === 0) {
        const fn = s.slice(0, i).trim();
        if (fn.length === 0) return undefined;
        if (fn.includes(" ") || fn.includes("\t")) {
          if (/\s/.test(fn.replace(/\[[^\]]*\]/g, ""))) return undefined;
        }
        return { fn, args: s.slice(i + 1, -1) };
      }
    }
  }
  return undefined;
}

export function makeFrame(fn: string, args: string): StackFrame {
  return { function: fn, args, file: "", line: 0, inlined: args === "...", packagePath: packageOf(fn) };
}

/** Parses the part of a goroutine header after `[`; undefined when malformed. */
export function parseGoroutineHeader(line: string): Goroutine | undefined {
  const m = RE_GOROUTINE.exec(line);
  if (m === null) return undefined;
  const id = intNum(m[1]);
  if (id === undefined) return undefined;
  // Status: up to the matching `]`, quote- and brace-aware (labels may hold brackets).
  let i = m[0].length;
  let depth = 0;
  let inQuote = false;
  const start = i;
  for (; i < line.length; i++) {
    const c = line[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === "{") depth++;
    else if (c === "}") depth = Math.max(0, depth - 1);
    else if (c === "]" && depth === 0) break;
  }
  if (i >= line.length) return undefined;
  const inside = line.slice(start, i);
  let rest = line.slice(i + 1).trim();
  if (!rest.endsWith(":")) return undefined;
  rest = rest.slice(0, -1).trim();

  const g: Goroutine = {
    id,
    state: "unknown",
    waitReason: "",
    status: "",
    waitMinutes: 0,
    lockedToThread: false,
    crashed: false,
    frames: [],
    labels: [],
    flags: [],
    framesElided: 0,
    stackUnavailable: false,
    sourceLine: 0,
  };
  const mm = / m=(\d+)/.exec(m[2] ?? "");
  if (mm) g.m = intNum(mm[1]);

  const parts = splitTopLevel(inside);
  let status = (parts[0] ?? "").trim();
  for (;;) {
    const f = /\s*\((scan|leaked|durable)\)$/.exec(status);
    if (f === null) break;
    g.flags.push(f[1]!);
    status = status.slice(0, f.index);
  }
  g.status = status;
  for (const p of parts.slice(1)) {
    const t = p.trim();
    const x = /^(\d+) minutes?$/.exec(t);
    if (x !== null) g.waitMinutes = intNum(x[1]) ?? 0;
    else if (t === "locked to thread") g.lockedToThread = true;
    else if (t.startsWith("labels:")) g.labels.push(...parseLabels(t.slice(7)));
    else if (t.startsWith("{")) g.labels.push(...parseLabels(t));
    else if (t !== "") g.flags.push(t);
  }
  if (rest.startsWith("labels:")) rest = rest.slice(7).trim();
  if (rest.startsWith("{")) g.labels.push(...parseLabels(rest));
  else if (rest !== "") g.flags.push(rest);

  const st = STATES.has(status) ? status : undefined;
  if (st !== undefined) g.state = st;
  else if (status !== "") {
    g.state = "waiting";
    g.waitReason = status;
  }
  return g;
}

const STATES = new Set([
  "idle",
  "runnable",
  "running",
  "syscall",
  "waiting",
  "dead",
  "moribund",
  "enqueue",
  "copystack",
  "preempted",
  "leaked",
  "???",
]);

/** Splits on ", " outside quotes and braces. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inQuote = false;
  let last = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inQuote) {
      if (c === "\\") i++;
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === "{") depth++;
    else if (c === "}") depth = Math.max(0, depth - 1);
    else if (c === "," && depth === 0) {
      out.push(s.slice(last, i));
      last = i + 1;
    }
  }
  out.push(s.slice(last));
  return out;
}

/** `{"k": "v", "k2": "v2"}` or `{k: "v"}`: pairs, quotes removed, escapes decoded. */
export function parseLabels(s: string): Label[] {
  const t = s.trim();
  if (!t.startsWith("{")) return [];
  const body = t.slice(1, t.endsWith("}") ? -1 : undefined);
  const out: Label[] = [];
  const re = /\s*("(?:[^"\\]|\\.)*"|[^:,"\s]+)\s*:\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*,?/gy;
  for (let n = 0; n < 1000; n++) {
    const m = re.exec(body);
    if (m === null) break;
    if (m[0].length === 0) break;
    out.push({ key: unquote(m[1]!), value: unquote(m[2]!.trim()) });
  }
  return out;
}

function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) {
    try {
      const v = JSON.parse(s) as unknown;
      if (typeof v === "string") return v;
    } catch {
      // Go's %q-like escapes (\x..) are not JSON: strip the quotes only.
    }
    return s.slice(1, -1);
  }
  return s;
}

interface Builder {
  crash: ParsedCrash;
  seenIds: Map<number, number>;
  /** The crash has seen its first goroutine (header phase is over). */
  inBody: boolean;
  /** A `-----` separator was seen: the next signal header continues this crash (GOTRACEBACK=crash). */
  continuation: boolean;
  /** Lines of a multi-line panic value may still follow. */
  panicOpen: boolean;
  timeoutOpen: boolean;
  raceOpen: boolean;
  race?: { current?: RaceAccess; createdFor?: number };
}

type Mode = "header" | "goroutine" | "runtimeStack" | "ancestors" | "race";

/** Parses every crash in `text`. Never throws on any input. */
export function parseCrashText(text: string, options: ParseOptions = {}): ParseResult {
  const limits = resolveLimits(options.limits);
  const norm = normalizeInput(typeof text === "string" ? text : String(text), limits);
  const { lines, origin } = norm;
  const diagnostics: ParseDiagnostic[] = [...norm.diagnostics];
  let diagnosticsDropped = 0;
  const diag = (idx: number, reason: string) => {
    if (diagnostics.length >= limits.maxDiagnostics) {
      diagnosticsDropped++;
      return;
    }
    diagnostics.push({ line: idx < 0 ? 0 : (origin[idx] ?? 0), reason, excerpt: excerpt(lines[idx] ?? "") });
  };

  const crashes: ParsedCrash[] = [];
  let b: Builder | undefined;
  let g: Goroutine | undefined;
  let frame: StackFrame | undefined;
  let frameIsCreatedBy = false;
  const st: { mode: Mode } = { mode: "header" };
  let ignoredOutside = 0;
  let droppedGoroutines = 0;
  const recentRuntime: { idx: number; text: string }[] = [];

  const finishFrame = (idx: number) => {
    if (frame === undefined) return;
    if (frame.file === "" && !frameIsCreatedBy && frame.function !== "non-Go function")
      diag(idx, `frame ${frame.function} has no location line`);
    frame = undefined;
    frameIsCreatedBy = false;
  };
  const finishGoroutine = (idx: number) => {
    finishFrame(idx);
    g = undefined;
    if (st.mode === "goroutine" || st.mode === "ancestors" || st.mode === "runtimeStack") st.mode = "header";
  };
  const finishCrash = (idx: number) => {
    if (b === undefined) return;
    finishGoroutine(idx);
    if (b.raceOpen) {
      b.crash.truncated = true;
      diag(idx, "race report ends without its closing ==================");
    }
    b.crash.endLine = origin[Math.max(0, Math.min(idx, lines.length - 1))] ?? b.crash.startLine;
    if (crashes.length < limits.maxCrashes) crashes.push(b.crash);
    else diag(idx, `more than ${limits.maxCrashes} crashes; this one was dropped`);
    b = undefined;
    st.mode = "header";
  };
  const startCrash = (idx: number, kind: CrashKind): Builder => {
    finishCrash(idx - 1);
    const header = emptyHeader(kind);
    // `runtime: ...` lines printed just before the header belong to it.
    for (const r of recentRuntime) if (idx - r.idx <= 50) header.runtimeLines.push(r.text);
    recentRuntime.length = 0;
    b = {
      crash: {
        header,
        goroutines: [],
        startLine: origin[idx] ?? 0,
        endLine: origin[idx] ?? 0,
        truncated: false,
      },
      seenIds: new Map(),
      inBody: false,
      continuation: false,
      panicOpen: false,
      timeoutOpen: false,
      raceOpen: false,
    };
    st.mode = "header";
    return b;
  };
  const addGoroutine = (idx: number, ng: Goroutine) => {
    if (b === undefined) b = startCrash(idx, "CRASH_KIND_GOROUTINE_DUMP");
    const prev = b.seenIds.get(ng.id);
    if (prev !== undefined && !b.continuation) {
      const old = b.crash.goroutines[prev];
      if (old?.stackUnavailable) {
        // The thread that ran it prints its stack later: keep the later, complete one.
        b.crash.goroutines[prev] = ng;
        b.inBody = true;
        g = ng;
        st.mode = "goroutine";
        return;
      }
      // The same id twice: a second dump begins.
      b = startCrash(idx, "CRASH_KIND_GOROUTINE_DUMP");
    }
    if (b.crash.goroutines.length >= limits.maxGoroutines) {
      droppedGoroutines++;
      b.crash.truncated = true;
      g = undefined;
      st.mode = "goroutine";
      return;
    }
    b.seenIds.set(ng.id, b.crash.goroutines.length);
    b.crash.goroutines.push(ng);
    b.inBody = true;
    b.panicOpen = false;
    b.timeoutOpen = false;
    g = ng;
    st.mode = "goroutine";
  };
  const pushFrame = (list: StackFrame[], f: StackFrame, owner: Goroutine | undefined) => {
    if (list.length >= limits.maxFramesPerGoroutine) {
      if (owner !== undefined && owner.framesElided >= 0) owner.framesElided++;
      return;
    }
    list.push(f);
  };

  for (let idx = 0; idx < lines.length; idx++) {
    const raw = lines[idx]!;
    const line = raw.trimEnd();

    // --- lines that mean the same in every state ---------------------------------------------
    // A blank line, or what ran the program reporting its death after the dump (an emulator,
    // qemu-user, or a shell): the end of the block at hand.
    if (BLANK.test(line) || RE_DEATH_REPORT.test(line)) {
      if (b !== undefined) {
        if (st.mode === "race" && b.race?.current === undefined) {
          // blank lines separate race sections
        }
        finishFrame(idx);
        if (st.mode !== "race") finishGoroutine(idx);
        else if (b.race) {
          b.race.current = undefined;
          b.race.createdFor = undefined;
        }
        b.panicOpen = false;
        b.timeoutOpen = false;
      }
      continue;
    }

    const oom = line.includes("Killed process") ? RE_OOM.exec(line) : null;
    if (oom !== null) {
      const kill: OomKill = { command: oom[2] ?? "", line: line.trim() };
      const pid = intNum(oom[1]);
      if (pid !== undefined) kill.pid = pid;
      const vm = intNum(oom[3]);
      if (vm !== undefined) kill.totalVmKb = vm;
      const rss = intNum(oom[4]);
      if (rss !== undefined) kill.anonRssKb = rss;
      const header = emptyHeader("CRASH_KIND_OOM_KILL");
      header.oomKill = kill;
      const c: ParsedCrash = {
        header,
        goroutines: [],
        startLine: origin[idx] ?? 0,
        endLine: origin[idx] ?? 0,
        truncated: false,
      };
      if (crashes.length < limits.maxCrashes) crashes.push(c);
      continue;
    }

    // --- race reports ----------------------------------------------------------------------------
    if (line.startsWith("WARNING: DATA RACE")) {
      const nb = startCrash(idx, "CRASH_KIND_RACE_REPORT");
      nb.crash.header.race = { accesses: [] };
      nb.raceOpen = true;
      nb.race = {};
      st.mode = "race";
      continue;
    }
    if (st.mode === "race" && b !== undefined && b.race !== undefined) {
      const r = b.race;
      if (/^={10,}\s*$/.test(line)) {
        b.raceOpen = false;
        finishCrash(idx);
        continue;
      }
      let m: RegExpExecArray | null;
      m = RE_RACE_ACCESS.exec(line.trim());
      if (m !== null) {
        const gid = m[4] === "main" ? 1 : (intNum(m[3]) ?? 0);
        const acc: RaceAccess = { kind: m[1]!.toLowerCase(), goroutineId: gid, frames: [] };
        const addr = hexNum(m[2]);
        if (addr !== undefined) acc.addr = addr;
        b.crash.header.race!.accesses.push(acc);
        r.current = acc;
        r.createdFor = undefined;
        frame = undefined;
        continue;
      }
      m = RE_RACE_CREATED.exec(line.trim());
      if (m !== null) {
        r.current = undefined;
        r.createdFor = intNum(m[1]) ?? 0;
        frame = undefined;
        continue;
      }
      const fl = RE_FILE.exec(line);
      if (frame !== undefined && fl !== null && /^\s/.test(raw)) {
        frame.file = fl[1]!;
        frame.line = intNum(fl[2]) ?? 0;
        const off = hexNum(fl[3]);
        if (off !== undefined) frame.offset = off;
        frame = undefined;
        continue;
      }
      const fnl = /^\s+\S/.test(raw) ? splitFunctionLine(line.trim()) : undefined;
      if (fnl !== undefined) {
        const f = makeFrame(fnl.fn, fnl.args);
        f.inlined = false;
        if (r.current !== undefined) pushFrame(r.current.frames, f, undefined);
        frame = f;
        continue;
      }
      if (/^(?:Location is |Mutex |Goroutine \d+ \(|\s*\[failed to restore the stack\])/.test(line.trim()))
        continue;
      diag(idx, "unrecognized line in race report");
      continue;
    }

    // --- crash headers -----------------------------------------------------------------------------
    if (line.startsWith("panic: ") || line.startsWith("\tpanic: ")) {
      const nested = raw.startsWith("\t");
      let msg = line.trim().slice(7);
      const suf = RE_PANIC_SUFFIX.exec(msg);
      const recovered = suf !== null;
      const repanicked = suf?.[1] !== undefined;
      if (suf) msg = msg.slice(0, suf.index);
      if (b === undefined || b.inBody || (!nested && b.crash.header.kind !== "CRASH_KIND_PANIC")) {
        const nb = startCrash(idx, "CRASH_KIND_PANIC");
        nb.crash.header.panics.push({ message: msg, recovered, repanicked });
      } else {
        b.crash.header.panics.push({ message: msg, recovered, repanicked });
      }
      b!.panicOpen = true;
      b!.timeoutOpen = msg.startsWith("test timed out after");
      continue;
    }
    if (line.startsWith("fatal error: ")) {
      // Two Ms throwing at once interleave their writes: "fatal error: fatal error: concurrent map
      // writes" then the other's "concurrent map writes" on a line of its own.
      let msg = line.slice(13).trim();
      for (let k = 0; k < 8 && msg.startsWith("fatal error: "); k++) msg = msg.slice(13).trim();
      // ... or "fatal error: concurrent map writesfatal error: " when the other M came second.
      const again = msg.indexOf("fatal error:");
      if (again > 0) msg = msg.slice(0, again).trim();
      if (b !== undefined && !b.inBody && st.mode === "header") {
        // Several Ms threw, or a panic turned fatal: one crash.
        if (b.crash.header.kind === "CRASH_KIND_PANIC" || b.crash.header.kind === "CRASH_KIND_FATAL_SIGNAL")
          b.crash.header.fatalErrors.push(msg);
        else if (!b.crash.header.fatalErrors.includes(msg) || b.crash.header.fatalErrors.length < 16)
          b.crash.header.fatalErrors.push(msg);
        if (b.crash.header.kind === "CRASH_KIND_GOROUTINE_DUMP")
          b.crash.header.kind = "CRASH_KIND_FATAL_ERROR";
      } else {
        const nb = startCrash(idx, "CRASH_KIND_FATAL_ERROR");
        nb.crash.header.fatalErrors.push(msg);
      }
      b!.panicOpen = false;
      continue;
    }
    const http = line.includes("http: panic serving ") ? RE_HTTP_PANIC.exec(line) : null;
    if (http !== null) {
      const nb = startCrash(idx, "CRASH_KIND_PANIC");
      nb.crash.header.httpPanic = true;
      nb.crash.header.panics.push({ message: http[2]!.trim(), recovered: true, repanicked: false });
      continue;
    }
    const sig = RE_SIGNAL_HEADER.exec(line);
    if (sig !== null && idx + 1 < lines.length && /^PC=0x/.test(lines[idx + 1]!.trim())) {
      const name = sig[1]!.startsWith("Signal ") ? sig[1]! : sig[1]!;
      if (b !== undefined && (b.continuation || (!b.inBody && b.crash.header.signal === undefined))) {
        // GOTRACEBACK=crash: another M's section of the same crash; or the signal of a header.
        if (!b.continuation) {
          b.crash.header.signal = { name, description: sig[2] ?? "", duringCgo: false };
          if (b.crash.header.kind === "CRASH_KIND_GOROUTINE_DUMP")
            b.crash.header.kind = "CRASH_KIND_FATAL_SIGNAL";
        }
        st.mode = "header";
      } else {
        const nb = startCrash(idx, "CRASH_KIND_FATAL_SIGNAL");
        nb.crash.header.signal = { name, description: sig[2] ?? "", duringCgo: false };
      }
      continue;
    }

    // --- goroutine headers -----------------------------------------------------------------------
    if (line.startsWith("goroutine ")) {
      const ng = parseGoroutineHeader(line);
      if (ng !== undefined) {
        finishGoroutine(idx);
        ng.sourceLine = origin[idx] ?? 0;
        addGoroutine(idx, ng);
        continue;
      }
    }

    if (b === undefined) {
      if (RE_RUNTIME_LINE.test(line)) {
        recentRuntime.push({ idx, text: line });
        if (recentRuntime.length > 20) recentRuntime.shift();
      } else if (line.startsWith("runtime stack:")) {
        startCrash(idx, "CRASH_KIND_FATAL_ERROR");
        st.mode = "runtimeStack";
      } else ignoredOutside++;
      continue;
    }

    // --- inside a crash -----------------------------------------------------------------------------
    if (st.mode === "goroutine" || st.mode === "runtimeStack" || st.mode === "ancestors") {
      const target: StackFrame[] | undefined =
        st.mode === "runtimeStack"
          ? b.crash.header.runtimeStack
          : st.mode === "ancestors"
            ? undefined
            : g?.frames;
      const fl = frame !== undefined ? RE_FILE.exec(line) : null;
      if (fl !== null && frame !== undefined) {
        frame.file = fl[1]!;
        frame.line = intNum(fl[2]) ?? 0;
        const off = hexNum(fl[3]);
        if (off !== undefined) frame.offset = off;
        const pc = hexNum(fl[4]);
        if (pc !== undefined) frame.pc = pc;
        frame.inlined = frame.args === "..." && off === undefined;
        frame = undefined;
        frameIsCreatedBy = false;
        continue;
      }
      let m: RegExpExecArray | null;
      m = RE_CREATED_BY.exec(line);
      if (m !== null) {
        finishFrame(idx);
        const f = makeFrame(m[1]!.trim(), "");
        if (g !== undefined && st.mode === "goroutine") {
          g.createdBy = f;
          const cg = intNum(m[2]);
          if (cg !== undefined) g.createdByGoroutine = cg;
        }
        frame = f;
        frameIsCreatedBy = true;
        continue;
      }
      const c0 = line.charCodeAt(0);
      const rare =
        c0 === 0x2e /* . */ || c0 === 0x5b /* [ */ || c0 === 0x6e /* n */ || c0 === 0x09 || c0 === 0x20;
      m = rare ? RE_ELIDED_N.exec(line.trim()) : null;
      if (m !== null) {
        finishFrame(idx);
        if (g !== undefined && st.mode === "goroutine") g.framesElided += intNum(m[1]) ?? 0;
        continue;
      }
      if (rare && RE_ELIDED_OLD.test(line.trim())) {
        finishFrame(idx);
        if (g !== undefined && st.mode === "goroutine") g.framesElided = -1;
        continue;
      }
      if (rare && line.trim() === "goroutine running on other thread; stack unavailable") {
        if (g !== undefined) g.stackUnavailable = true;
        continue;
      }
      m = rare ? /^\[originating from goroutine (\d+)\]:\s*$/.exec(line) : null;
      if (m !== null) {
        finishFrame(idx);
        st.mode = "ancestors";
        continue;
      }
      if (rare && /^non-Go function at pc=0x[0-9a-fA-F]+\s*$/.test(line.trim())) {
        finishFrame(idx);
        const f = makeFrame("non-Go function", "");
        const pc = hexNum(/pc=(0x[0-9a-fA-F]+)/.exec(line)?.[1]);
        if (pc !== undefined) f.pc = pc;
        if (target !== undefined) pushFrame(target, f, g);
        continue;
      }
      if (!/^\s/.test(raw)) {
        const fnl = splitFunctionLine(line);
        if (fnl !== undefined) {
          finishFrame(idx);
          const f = makeFrame(fnl.fn, fnl.args);
          if (target !== undefined) pushFrame(target, f, g);
          frame = f;
          frameIsCreatedBy = false;
          continue;
        }
        // A C symbolizer frame: a bare name followed by `\tfile:line pc=0x..`.
        const next = lines[idx + 1];
        if (!/\s/.test(line) && next !== undefined && /^\s/.test(next) && RE_FILE.test(next)) {
          finishFrame(idx);
          const f = makeFrame(line, "");
          f.packagePath = "";
          if (target !== undefined) pushFrame(target, f, g);
          frame = f;
          continue;
        }
      }
      if (g === undefined && st.mode === "goroutine") continue; // goroutine over the cap: skip its lines
    }

    // Header-phase and between-goroutine lines.
    const h = b.crash.header;
    let m: RegExpExecArray | null;
    m = RE_SIGNAL_BRACKET.exec(line);
    if (m !== null) {
      const s = h.signal ?? { name: m[1]!, description: "", duringCgo: false };
      s.name = m[1]!;
      if (m[2]) s.description = m[2].trim();
      const code = intNum(m[3]);
      if (code !== undefined) s.code = code;
      const addr = hexNum(m[4]);
      if (addr !== undefined) s.addr = addr;
      const pc = hexNum(m[5]);
      if (pc !== undefined) s.pc = pc;
      h.signal = s;
      b.panicOpen = false;
      continue;
    }
    m = RE_PC_LINE.exec(line.trim());
    if (m !== null) {
      if (!b.continuation) {
        const s = h.signal ?? { name: "", description: "", duringCgo: false };
        const pc = hexNum(m[1]);
        if (pc !== undefined) s.pc = pc;
        s.m = intNum(m[2]);
        s.code = intNum(m[3]);
        const addr = hexNum(m[4]);
        if (addr !== undefined) s.addr = addr;
        h.signal = s;
      }
      continue;
    }
    if (line.trim() === "signal arrived during cgo execution") {
      if (h.signal !== undefined && !b.continuation) h.signal.duringCgo = true;
      else if (h.signal === undefined) h.signal = { name: "", description: "", duringCgo: true };
      continue;
    }
    if (line.startsWith("runtime stack:")) {
      finishGoroutine(idx);
      st.mode = "runtimeStack";
      continue;
    }
    if (/^-{5}\s*$/.test(line)) {
      finishGoroutine(idx);
      b.continuation = true;
      continue;
    }
    if (RE_RUNTIME_LINE.test(line)) {
      if (h.runtimeLines.length < 64) h.runtimeLines.push(line);
      continue;
    }
    if (RE_REGISTER.test(line.trim()) || /^instruction bytes:/.test(line)) continue;
    if (/^(?:exit status \d+|FAIL\b|Found \d+ data race|ok\s|PASS$|\*\*\* Test killed)/.test(line)) {
      continue;
    }
    if (b.timeoutOpen) {
      const t = line.trim();
      if (t === "running tests:") continue;
      if (/^\t\t/.test(raw) || /\(\d[^)]*\)$/.test(t)) {
        h.runningTests.push(t.replace(/\s*\([^)]*\)$/, ""));
        continue;
      }
    }
    if (b.panicOpen && !b.inBody && h.panics.length > 0) {
      const last = h.panics[h.panics.length - 1]!;
      if (last.message.length < 64 * 1024) last.message += `\n${raw.startsWith("\t") ? raw.slice(1) : raw}`;
      continue;
    }
    if (st.mode === "goroutine" && g !== undefined && frame !== undefined) {
      diag(idx, `expected the location line of ${frame.function}`);
      frame = undefined;
      b.crash.truncated = true;
      continue;
    }
    diag(idx, b.inBody ? "unrecognized line between goroutines" : "unrecognized line in crash header");
  }
  if (b !== undefined) {
    const bb = b as Builder;
    if (g !== undefined || frame !== undefined || bb.raceOpen) {
      const open = g as Goroutine | undefined;
      if (frame !== undefined && (frame as StackFrame).file === "") {
        bb.crash.truncated = true;
        diag(lines.length - 1, "input ends inside a frame (truncated)");
      } else if (open !== undefined && open.frames.length === 0 && !open.stackUnavailable) {
        bb.crash.truncated = true;
        diag(lines.length - 1, `input ends inside goroutine ${open.id} (truncated)`);
      }
    }
    if (
      !bb.inBody &&
      bb.crash.header.kind !== "CRASH_KIND_RACE_REPORT" &&
      bb.crash.header.runtimeStack.length === 0
    ) {
      bb.crash.truncated = true;
      diag(lines.length - 1, "input ends before any goroutine of the crash (truncated)");
    }
    finishCrash(lines.length - 1);
  }
  if (droppedGoroutines > 0)
    diag(-1, `${droppedGoroutines} goroutines beyond the cap of ${limits.maxGoroutines} were not kept`);
  if (ignoredOutside > 0 && crashes.length === 0)
    diag(
      -1,
      `${ignoredOutside} lines contain no Go crash text (no panic, fatal error, signal, goroutine or race report)`,
    );
  else if (ignoredOutside > 0)
    diag(-1, `${ignoredOutside} lines outside the crashes were ignored (unrelated log lines)`);
  crashes.sort((x, y) => x.startLine - y.startLine);
  return { crashes, diagnostics, diagnosticsDropped, stats: norm.stats };
}

/** Turns a race report's accesses into goroutines (the first access's goroutine is the crashed one). */
export function raceGoroutines(crash: ParsedCrash): Goroutine[] {
  const out: Goroutine[] = [];
  const acc = crash.header.race?.accesses ?? [];
  acc.forEach((a, i) => {
    out.push({
      id: a.goroutineId,
      state: i === 0 ? "running" : "unknown",
      waitReason: "",
      status: a.kind,
      waitMinutes: 0,
      lockedToThread: false,
      crashed: i === 0,
      frames: a.frames,
      labels: [],
      flags: [a.kind],
      framesElided: 0,
      stackUnavailable: false,
      sourceLine: 0,
    });
  });
  return out;
}
