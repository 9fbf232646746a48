/**
 * What kind of crash a parsed text is, its message and message template, and the range of Go
 * versions whose runtime prints text of that shape. Message tables follow the Go runtime
 * (runtime/error.go boundsErrorFmt, runtime/panic.go, sync, runtime/map*.go throws).
 */
import type { Classification, CrashCategory, Goroutine, GoVersionRange, ParsedCrash } from "./types.js";

const DEADLOCK_RE =
  /^(?:all goroutines are asleep - deadlock!|no goroutines \(main called runtime\.Goexit\) - deadlock!|deadlock: )/;
const MAP_RE = /^concurrent map (?:writes|read and map write|iteration and map write|clone and map write)/;
const SYNC_RE =
  /^sync: (?:unlock of unlocked mutex|RUnlock of unlocked RWMutex|Unlock of unlocked RWMutex|inconsistent mutex state|negative WaitGroup counter|WaitGroup misuse|WaitGroup is reused|Cond|Once|misuse)/;
const CORRUPTION_RE =
  /^(?:found bad pointer in Go heap|invalid pointer found on stack|fault$|unexpected signal during runtime execution|found pointer to free object|sweep increased allocation count|mSpan|span has no free|workbuf|marking free object|non-empty mark queue|bad pointer|unknown pc|gc: unswept span|heapBitsSetType|unaligned sysUnused|runtime: wrong goroutine|malloc deadlock|free list corrupted|bulkBarrierPreWrite|unexpected return pc|traceback stuck|invalid memory address|accessed data from freed user arena|stack not a power of 2|missing stack in|bad g|checkptr)/;
const OOM_RE = /^(?:runtime: )?out of memory|^runtime: cannot allocate memory|cannot allocate \d+-byte block/;
const THREAD_RE =
  /^(?:thread exhaustion|newosproc|runtime: failed to create new OS thread|pthread_create failed|failed to create new OS thread)/;

/** The goroutine a crash is about; set `crashed` on it. Deadlocks and dumps have none. */
export function markCrashed(crash: ParsedCrash, category: CrashCategory): Goroutine | undefined {
  for (const g of crash.goroutines) g.crashed = false;
  if (
    category === "CRASH_CATEGORY_DEADLOCK" ||
    category === "CRASH_CATEGORY_GOROUTINE_DUMP" ||
    category === "CRASH_CATEGORY_OOM_KILLED" ||
    category === "CRASH_CATEGORY_UNKNOWN"
  )
    return undefined;
  if (category === "CRASH_CATEGORY_DATA_RACE") {
    const g = crash.goroutines[0];
    if (g) g.crashed = true;
    return g;
  }
  // dopanic_m prints the failing goroutine first (tracebackothers then prints curg first too).
  const g = crash.goroutines.find((x) => !x.stackUnavailable) ?? crash.goroutines[0];
  if (g) g.crashed = true;
  return g;
}

/** The primary message of a crash: innermost panic value, else fatal error, else signal. */
export function crashMessage(crash: ParsedCrash): string {
  const h = crash.header;
  if (h.kind === "CRASH_KIND_OOM_KILL" && h.oomKill)
    return `Killed process ${h.oomKill.pid ?? "?"} (${h.oomKill.command})`;
  if (h.kind === "CRASH_KIND_RACE_REPORT") return "data race";
  // Runtime throws of interest beat a panic that turned fatal.
  const fatal = h.fatalErrors.find((f) => f !== "panic during panic") ?? h.fatalErrors[0];
  if (h.panics.length > 0) {
    // The last printed panic is the one that killed the program (nested panics follow with a tab).
    const last = h.panics[h.panics.length - 1]!;
    if (fatal !== undefined && h.kind !== "CRASH_KIND_PANIC") return fatal;
    return last.message;
  }
  if (fatal !== undefined) return fatal;
  if (h.signal)
    return h.signal.description !== "" ? `${h.signal.name}: ${h.signal.description}` : h.signal.name;
  return "";
}

export function categorize(crash: ParsedCrash, message: string): CrashCategory {
  const h = crash.header;
  if (h.kind === "CRASH_KIND_OOM_KILL") return "CRASH_CATEGORY_OOM_KILLED";
  if (h.kind === "CRASH_KIND_RACE_REPORT") return "CRASH_CATEGORY_DATA_RACE";
  const fatal = h.fatalErrors;
  const runtimeText = h.runtimeLines.join("\n");
  const isThrow = fatal.length > 0;
  const anyFatal = (re: RegExp) => fatal.some((f) => re.test(f));
  if (h.panics.some((p) => p.message.startsWith("test timed out after")))
    return "CRASH_CATEGORY_TEST_TIMEOUT";
  if (anyFatal(DEADLOCK_RE) || (!isThrow && DEADLOCK_RE.test(message))) return "CRASH_CATEGORY_DEADLOCK";
  if (anyFatal(MAP_RE) || MAP_RE.test(message)) return "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS";
  if (
    anyFatal(/^stack overflow/) ||
    /goroutine stack exceeds/.test(runtimeText) ||
    /^stack overflow/.test(message)
  )
    return "CRASH_CATEGORY_STACK_OVERFLOW";
  if (anyFatal(OOM_RE) || /out of memory: cannot allocate/.test(runtimeText))
    return "CRASH_CATEGORY_OUT_OF_MEMORY";
  if (
    anyFatal(THREAD_RE) ||
    /program exceeds \d+-thread limit|failed to create new OS thread/.test(runtimeText)
  )
    return "CRASH_CATEGORY_THREAD_EXHAUSTION";
  if (h.signal?.duringCgo || crashedInCgo(crash)) return "CRASH_CATEGORY_CGO_CRASH";
  if (anyFatal(SYNC_RE)) return "CRASH_CATEGORY_SYNC_MISUSE";
  if (isThrow && (anyFatal(CORRUPTION_RE) || /unexpected fault address|found bad pointer/.test(runtimeText)))
    return "CRASH_CATEGORY_MEMORY_CORRUPTION";
  if (h.kind === "CRASH_KIND_FATAL_SIGNAL" || (h.kind === "CRASH_KIND_GOROUTINE_DUMP" && h.signal)) {
    const name = h.signal?.name ?? "";
    if (name === "SIGQUIT" && h.panics.length === 0 && fatal.length === 0)
      return "CRASH_CATEGORY_GOROUTINE_DUMP";
    if (h.panics.length === 0 && fatal.length === 0) return "CRASH_CATEGORY_SIGNAL";
  }
  if (h.kind === "CRASH_KIND_GOROUTINE_DUMP" && h.panics.length === 0 && fatal.length === 0)
    return crash.goroutines.length > 0 ? "CRASH_CATEGORY_GOROUTINE_DUMP" : "CRASH_CATEGORY_UNKNOWN";
  if (h.panics.length > 0) return categorizePanic(message);
  if (isThrow) return "CRASH_CATEGORY_RUNTIME_FATAL";
  return "CRASH_CATEGORY_UNKNOWN";
}

/** Category of a panic value (the text after `panic: `). */
export function categorizePanic(message: string): CrashCategory {
  const m = message.replace(/^runtime error: /, "");
  const runtimeError = message.startsWith("runtime error: ");
  if (m.startsWith("invalid memory address or nil pointer dereference"))
    return "CRASH_CATEGORY_NIL_DEREFERENCE";
  if (m.startsWith("index out of range")) return "CRASH_CATEGORY_INDEX_OUT_OF_RANGE";
  if (m.startsWith("slice bounds out of range") || m.startsWith("cannot convert slice with length"))
    return "CRASH_CATEGORY_SLICE_BOUNDS_OUT_OF_RANGE";
  if (m.startsWith("assignment to entry in nil map")) return "CRASH_CATEGORY_NIL_MAP_WRITE";
  if (m.startsWith("interface conversion: ")) return "CRASH_CATEGORY_TYPE_ASSERTION";
  if (m.startsWith("integer divide by zero")) return "CRASH_CATEGORY_DIVIDE_BY_ZERO";
  if (/^(?:send on closed channel|close of closed channel|close of nil channel)/.test(m))
    return "CRASH_CATEGORY_CLOSED_CHANNEL";
  if (SYNC_RE.test(m)) return "CRASH_CATEGORY_SYNC_MISUSE";
  if (MAP_RE.test(m)) return "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS";
  if (DEADLOCK_RE.test(m)) return "CRASH_CATEGORY_DEADLOCK";
  if (runtimeError && /^(?:integer overflow|floating point error)/.test(m)) return "CRASH_CATEGORY_SIGNAL";
  if (runtimeError) return "CRASH_CATEGORY_RUNTIME_FATAL";
  return "CRASH_CATEGORY_EXPLICIT_PANIC";
}

/** The crashed goroutine sits in a cgo call (`runtime.cgocall` / `_Cfunc_`) when a signal hit. */
function crashedInCgo(crash: ParsedCrash): boolean {
  const h = crash.header;
  if (!h.signal && !h.fatalErrors.some((f) => f.startsWith("unexpected signal"))) return false;
  if (h.panics.length > 0) return false;
  const g = crash.goroutines.find((x) => !x.stackUnavailable);
  if (g === undefined || g.state !== "syscall") return false;
  return g.frames
    .slice(0, 4)
    .some(
      (f) =>
        f.function === "runtime.cgocall" || /\._Cfunc_/.test(f.function) || f.function === "non-Go function",
    );
}

/**
 * The message with what varies between occurrences of the same bug replaced by placeholders:
 * quoted strings → `"<str>"`, hex → `<hex>`, durations → `<dur>`, numbers → `<n>`, UUIDs → `<uuid>`.
 * Only the first line of a multi-line value is kept (later lines are usually data).
 */
export function messageTemplate(message: string): string {
  let s = message.split("\n", 1)[0]!.slice(0, 1024);
  s = s.replace(/"(?:[^"\\]|\\.)*"/g, '"<str>"');
  s = s.replace(/`[^`]*`/g, "`<str>`");
  s = s.replace(/'(?:[^'\\]|\\.)*'/g, "'<str>'");
  s = s.replace(/\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b/g, "<uuid>");
  s = s.replace(/\b0x[0-9a-fA-F]+\b/g, "<hex>");
  s = s.replace(/\b\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|µs|us|ms|s|m|h))*\b/g, "<dur>");
  s = s.replace(/-?\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/g, "<n>");
  s = s.replace(/\b[0-9a-f]{12,}\b/g, "<hex>");
  return s;
}

interface Marker {
  min?: number;
  max?: number;
  what: string;
}

/**
 * Go version range implied by the text. Markers (Go runtime sources): `{...}`/`_`/`...` argument
 * forms ≥ 1.17; `?` argument suffix ≥ 1.18; `in goroutine N` and `...N frames elided...` ≥ 1.21
 * (`created by` without it on a goroutine other than 1, and `...additional frames elided...` in a
 * goroutine's own stack, ≤ 1.20); `.gowrapN` ≥ 1.22 (`glob..funcN` ≤ 1.21); `gp=` headers ≥ 1.22;
 * `internal/runtime/maps.` frames ≥ 1.24 (`runtime.mapassign`... with a map fatal ≤ 1.23);
 * `synctest group` ≥ 1.24; `[recovered, repanicked]` and `synctest bubble` ≥ 1.25; header labels
 * and `(leaked)` ≥ 1.26; a GOROOT path naming its version (`/go1.22.3/src/runtime/`,
 * `/usr/lib/go-1.23/src/`, `toolchain@v0.0.1-go1.24.1`) pins the minor version.
 */
export function goVersionRange(crash: ParsedCrash): GoVersionRange {
  const found = new Map<string, Marker>();
  const add = (m: Marker) => {
    if (!found.has(m.what)) found.set(m.what, m);
  };
  const h = crash.header;
  if (h.panics.some((p) => p.repanicked)) add({ min: 25, what: "`[recovered, repanicked]` (>= 1.25)" });
  const all: Goroutine[] = crash.goroutines;
  let steps = 0;
  for (const g of all) {
    if (++steps > 20_000) break;
    if (g.createdByGoroutine !== undefined)
      add({ min: 21, what: "`created by ... in goroutine N` (>= 1.21)" });
    else if (g.createdBy !== undefined && g.id !== 1 && crash.header.kind !== "CRASH_KIND_RACE_REPORT")
      add({ max: 20, what: "`created by` without `in goroutine N` (<= 1.20)" });
    if (g.framesElided > 0) add({ min: 21, what: "`...N frames elided...` (>= 1.21)" });
    if (g.framesElided < 0) add({ max: 20, what: "`...additional frames elided...` (<= 1.20)" });
    if (g.labels.length > 0) add({ min: 26, what: "goroutine labels in the header (>= 1.26)" });
    if (g.flags.includes("leaked")) add({ min: 26, what: "`(leaked)` goroutine status (>= 1.26)" });
    if (g.flags.some((f) => f.startsWith("synctest group")))
      add({ min: 24, what: "`synctest group` (>= 1.24)" });
    if (g.flags.some((f) => f.startsWith("synctest bubble")))
      add({ min: 25, what: "`synctest bubble` (>= 1.25)" });
    for (const f of g.frames) {
      versionFromFrame(f.function, f.args, f.file, add);
    }
    if (g.createdBy) versionFromFrame(g.createdBy.function, "", g.createdBy.file, add);
  }
  for (const f of h.runtimeStack) versionFromFrame(f.function, f.args, f.file, add);
  const gpHeader = crash.goroutines.some((g) => g.m !== undefined);
  if (gpHeader) add({ min: 22, what: "`gp= m=` in goroutine headers (>= 1.22)" });
  if (
    /^concurrent map/.test(h.fatalErrors[0] ?? "") &&
    crash.goroutines.some((g) =>
      g.frames.some((f) => /^runtime\.map(?:assign|access|delete|iter)/.test(f.function)),
    )
  )
    add({ max: 23, what: "map fatal in `runtime.map*` frames (<= 1.23)" });

  let min: number | undefined;
  let max: number | undefined;
  for (const m of found.values()) {
    if (m.min !== undefined) min = min === undefined ? m.min : Math.max(min, m.min);
    if (m.max !== undefined) max = max === undefined ? m.max : Math.min(max, m.max);
  }
  const evidence = [...found.values()].map((m) => m.what);
  const out: GoVersionRange = { evidence };
  if (min !== undefined && max !== undefined && min > max) {
    evidence.push("markers disagree (mixed output of several programs, or a runtime not known here)");
    max = undefined;
  }
  if (min !== undefined) out.min = `1.${min}`;
  if (max !== undefined) out.max = `1.${max}`;
  return out;
}

function versionFromFrame(fn: string, args: string, file: string, add: (m: Marker) => void): void {
  if (args !== "" && args !== "..." && /\{|(?:^|, )(?:_|\.\.\.)(?:,|$)/.test(args))
    add({ min: 17, what: "aggregate/elided argument forms `{...}` `_` `...` (>= 1.17)" });
  if (/\?(?:,|\}|$)/.test(args)) add({ min: 18, what: "`?` after argument values (>= 1.18)" });
  if (/\.gowrap\d+$/.test(fn)) add({ min: 22, what: "`.gowrapN` go-statement wrappers (>= 1.22)" });
  if (/\.glob\.\.func\d+/.test(fn)) add({ max: 21, what: "`glob..funcN` package-level closures (<= 1.21)" });
  if (fn.startsWith("internal/runtime/maps."))
    add({ min: 24, what: "`internal/runtime/maps` frames (>= 1.24)" });
  const v =
    /\/go-?1\.(\d+)(?:\.\d+)?(?:[a-z]+\d*)?\/src\//.exec(file) ??
    /toolchain@v0\.0\.1-go1\.(\d+)(?:\.\d+)?/.exec(file);
  if (v !== null) {
    const minor = Number.parseInt(v[1]!, 10);
    if (minor >= 0 && minor < 1000) {
      add({ min: minor, max: minor, what: `GOROOT path names go1.${minor}` });
    }
  }
}

export function classify(crash: ParsedCrash): Classification {
  const message = crashMessage(crash);
  const category = categorize(crash, message);
  const out: Classification = {
    category,
    message,
    messageTemplate: messageTemplate(message),
    goVersion: goVersionRange(crash),
  };
  if (crash.header.signal) out.signal = crash.header.signal;
  return out;
}
