/**
 * Domain types of crash attribution. They map 1:1 onto the proto `AttributeResponse` later: enums
 * are string unions spelled like the proto values, lists are arrays, absent scalars are optional.
 * Frame lists are always INNERMOST FIRST (frames[0] is where the goroutine is executing).
 *
 * The goroutine/frame model is independent of text: a core-dump reader or a crash reporter's raw
 * PCs, once symbolized, produce the same `Goroutine[]` and go through `attributeGoroutines`.
 */

export type CrashCategory =
  | "CRASH_CATEGORY_UNKNOWN"
  | "CRASH_CATEGORY_NIL_DEREFERENCE"
  | "CRASH_CATEGORY_INDEX_OUT_OF_RANGE"
  | "CRASH_CATEGORY_SLICE_BOUNDS_OUT_OF_RANGE"
  | "CRASH_CATEGORY_NIL_MAP_WRITE"
  | "CRASH_CATEGORY_TYPE_ASSERTION"
  | "CRASH_CATEGORY_DIVIDE_BY_ZERO"
  | "CRASH_CATEGORY_CLOSED_CHANNEL"
  | "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS"
  | "CRASH_CATEGORY_DEADLOCK"
  | "CRASH_CATEGORY_STACK_OVERFLOW"
  | "CRASH_CATEGORY_OUT_OF_MEMORY"
  | "CRASH_CATEGORY_THREAD_EXHAUSTION"
  | "CRASH_CATEGORY_SYNC_MISUSE"
  | "CRASH_CATEGORY_EXPLICIT_PANIC"
  | "CRASH_CATEGORY_CGO_CRASH"
  | "CRASH_CATEGORY_MEMORY_CORRUPTION"
  | "CRASH_CATEGORY_SIGNAL"
  | "CRASH_CATEGORY_DATA_RACE"
  | "CRASH_CATEGORY_TEST_TIMEOUT"
  | "CRASH_CATEGORY_GOROUTINE_DUMP"
  | "CRASH_CATEGORY_OOM_KILLED"
  | "CRASH_CATEGORY_RUNTIME_FATAL";

export const CRASH_CATEGORIES: readonly CrashCategory[] = [
  "CRASH_CATEGORY_UNKNOWN",
  "CRASH_CATEGORY_NIL_DEREFERENCE",
  "CRASH_CATEGORY_INDEX_OUT_OF_RANGE",
  "CRASH_CATEGORY_SLICE_BOUNDS_OUT_OF_RANGE",
  "CRASH_CATEGORY_NIL_MAP_WRITE",
  "CRASH_CATEGORY_TYPE_ASSERTION",
  "CRASH_CATEGORY_DIVIDE_BY_ZERO",
  "CRASH_CATEGORY_CLOSED_CHANNEL",
  "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS",
  "CRASH_CATEGORY_DEADLOCK",
  "CRASH_CATEGORY_STACK_OVERFLOW",
  "CRASH_CATEGORY_OUT_OF_MEMORY",
  "CRASH_CATEGORY_THREAD_EXHAUSTION",
  "CRASH_CATEGORY_SYNC_MISUSE",
  "CRASH_CATEGORY_EXPLICIT_PANIC",
  "CRASH_CATEGORY_CGO_CRASH",
  "CRASH_CATEGORY_MEMORY_CORRUPTION",
  "CRASH_CATEGORY_SIGNAL",
  "CRASH_CATEGORY_DATA_RACE",
  "CRASH_CATEGORY_TEST_TIMEOUT",
  "CRASH_CATEGORY_GOROUTINE_DUMP",
  "CRASH_CATEGORY_OOM_KILLED",
  "CRASH_CATEGORY_RUNTIME_FATAL",
];

/** How the text announced itself (what kind of report the runtime or the host printed). */
export type CrashKind =
  | "CRASH_KIND_UNKNOWN"
  /** `panic: ...` (including `http: panic serving ...`, which net/http logs and survives). */
  | "CRASH_KIND_PANIC"
  /** `fatal error: ...` (runtime throw / fatal). */
  | "CRASH_KIND_FATAL_ERROR"
  /** `SIGSEGV: segmentation violation` + `PC=...`: a signal the runtime could not turn into a panic. */
  | "CRASH_KIND_FATAL_SIGNAL"
  /** Goroutines without any panic/fatal header (SIGQUIT, debug=2 profile, runtime.Stack). */
  | "CRASH_KIND_GOROUTINE_DUMP"
  /** `WARNING: DATA RACE` report of the race detector. */
  | "CRASH_KIND_RACE_REPORT"
  /** A kernel OOM-killer line; no Go text. */
  | "CRASH_KIND_OOM_KILL";

/** One printed frame. Innermost first within a goroutine. */
export interface StackFrame {
  /** Function as printed, e.g. `example.com/m/pkg.(*T).Method`, `main.main.func1`, `panic`. */
  function: string;
  /** Argument text between the parentheses, as printed (`0x1, {0xc000..., 0x3, 0x3}`, `...`). */
  args: string;
  /** Source file as printed ("" when the location line is missing). */
  file: string;
  /** 1-based line, 0 when unknown. */
  line: number;
  /** The `+0x..` PC offset from the function entry; absent for inlined frames and some others. */
  offset?: number;
  /** `pc=0x..` when printed (traceback level system, throws). */
  pc?: number;
  /** True when the frame was inlined into its caller: args `(...)` and no `+0x` offset. */
  inlined: boolean;
  /** Import path of the function's package ("" for C/unknown functions). */
  packagePath: string;
}

export interface Label {
  key: string;
  value: string;
}

/** One goroutine as printed. */
export interface Goroutine {
  id: number;
  /**
   * Scheduler state: `running`, `runnable`, `syscall`, `waiting`, `dead`, `copystack`,
   * `preempted`, `idle`, or `unknown`. A printed wait reason implies `waiting`.
   */
  state: string;
  /** Wait reason when waiting (`chan receive`, `sync.Mutex.Lock`, `IO wait`...), else "". */
  waitReason: string;
  /** The status text exactly as printed between the brackets (before the comma parts). */
  status: string;
  /** Minutes blocked, as printed (0 when not printed). */
  waitMinutes: number;
  lockedToThread: boolean;
  /** True for the goroutine whose failure the report is about. */
  crashed: boolean;
  /** Innermost first. */
  frames: StackFrame[];
  /** `created by` frame, when printed. */
  createdBy?: StackFrame;
  /** `created by ... in goroutine N` (Go 1.21+). */
  createdByGoroutine?: number;
  /** pprof labels printed in the header (Go 1.26+ with tracebacklabels). */
  labels: Label[];
  /** Extra status flags: `scan`, `leaked`, `durable`, `synctest bubble 3`... */
  flags: string[];
  /** Frames the runtime elided (`...N frames elided...`); -1 when elided without a count. */
  framesElided: number;
  /** `goroutine running on other thread; stack unavailable`. */
  stackUnavailable: boolean;
  /** M id when printed (`m=3`); absent when `m=nil` or not printed. */
  m?: number;
  /** 1-based line of the header in the (normalized) input; 0 when not from text. */
  sourceLine: number;
}

export interface SignalInfo {
  /** `SIGSEGV`, or `0x1f` style when the runtime had no name. */
  name: string;
  /** `segmentation violation` (from the `SIGSEGV: segmentation violation` line), when printed. */
  description: string;
  code?: number;
  /** Fault address (`addr=`). */
  addr?: number;
  pc?: number;
  /** The M the signal arrived on (fatal-signal form). */
  m?: number;
  /** `signal arrived during cgo execution`. */
  duringCgo: boolean;
}

export interface PanicValue {
  /** The value as printed (multi-line values joined with "\n"). */
  message: string;
  recovered: boolean;
  /** Go 1.25+ `[recovered, repanicked]`. */
  repanicked: boolean;
}

export interface RaceAccess {
  /** `read`, `write`, `previous read`, `previous write` (with `atomic` when printed). */
  kind: string;
  addr?: number;
  goroutineId: number;
  frames: StackFrame[];
}

export interface OomKill {
  pid?: number;
  command: string;
  /** The kernel line, as found. */
  line: string;
  anonRssKb?: number;
  totalVmKb?: number;
}

/** Everything a crash says besides its goroutines. */
export interface CrashHeader {
  kind: CrashKind;
  /** Panics in print order (outermost first, as `printpanics` writes them). */
  panics: PanicValue[];
  /** `fatal error: ...` messages (more than one when several Ms threw). */
  fatalErrors: string[];
  /** `runtime: ...` and other diagnostic lines the runtime printed around the crash. */
  runtimeLines: string[];
  signal?: SignalInfo;
  /** `http: panic serving <addr>: ...` */
  httpPanic: boolean;
  /** Tests that were running when `panic: test timed out after ...` fired. */
  runningTests: string[];
  race?: { accesses: RaceAccess[] };
  oomKill?: OomKill;
  /** Frames of the `runtime stack:` (system stack) section, innermost first. */
  runtimeStack: StackFrame[];
}

/** One crash found in a log, parsed. */
export interface ParsedCrash {
  header: CrashHeader;
  goroutines: Goroutine[];
  /** 1-based first and last line (normalized input lines). */
  startLine: number;
  endLine: number;
  /** True when the text ended inside this crash or parts of it were unparseable. */
  truncated: boolean;
}

export interface ParseDiagnostic {
  /** 1-based line in the normalized input (0 for whole-input problems). */
  line: number;
  reason: string;
  /** The start of the offending line (at most 120 characters). */
  excerpt: string;
}

export interface ParseResult {
  crashes: ParsedCrash[];
  diagnostics: ParseDiagnostic[];
  /** Diagnostics beyond the cap are counted, not kept. */
  diagnosticsDropped: number;
  stats: InputStats;
}

export interface InputStats {
  inputBytes: number;
  /** Lines after normalization (unescaping, prefix stripping). */
  lines: number;
  /** The input exceeded the size cap and was cut. */
  inputTruncated: boolean;
  /** Lines longer than the line cap (cut). */
  longLines: number;
  /** Distinct log-prefix shapes stripped from lines. */
  prefixesStripped: number;
  /** Physical lines whose JSON/escaped string content was unpacked. */
  unescapedLines: number;
}

export interface GoVersionRange {
  /** Lowest Go version (e.g. "1.21") the text can come from; absent when unknown. */
  min?: string;
  /** Highest Go version the text can come from; absent when unbounded. */
  max?: string;
  /** Why: each marker found, e.g. "`in goroutine N` in created-by (>= 1.21)". */
  evidence: string[];
}

export interface Classification {
  category: CrashCategory;
  /** The panic value / fatal error / signal description the crash is about. */
  message: string;
  /** `message` with numbers, addresses, quoted values and durations replaced by placeholders. */
  messageTemplate: string;
  signal?: SignalInfo;
  goVersion: GoVersionRange;
}

export interface Module {
  path: string;
  version: string;
}

export interface Culprit {
  function: string;
  file: string;
  line: number;
  packagePath: string;
  modulePath?: string;
  moduleVersion?: string;
  inApp: boolean;
  /** Teams from the owners file (last matching pattern). */
  owners: string[];
  sourceUrl?: string;
  /** Goroutine the frame belongs to, and its index in that goroutine's frames (innermost = 0). */
  goroutineId: number;
  frameIndex: number;
  /** Why this frame was chosen (one sentence). */
  reason: string;
}

export type BucketSimilarity =
  /** Same functions, files, lines and argument values. */
  | "BUCKET_SIMILARITY_EXACT"
  /** Same functions, files and lines; any argument values (default). */
  | "BUCKET_SIMILARITY_ANY_ARGS"
  /** Same function names only (lines may differ). */
  | "BUCKET_SIMILARITY_FUNCTION";

export interface Bucket {
  count: number;
  /** Scheduler state of the goroutines (identical within a bucket). */
  state: string;
  waitReason: string;
  lockedToThread: boolean;
  /** Frames of the first goroutine of the bucket (innermost first). */
  frames: StackFrame[];
  createdBy?: StackFrame;
  minWaitMinutes: number;
  maxWaitMinutes: number;
  /** Goroutine ids (at most `maxBucketIds`; `idsDropped` counts the rest). */
  ids: number[];
  idsDropped: number;
  /** True when the crashed goroutine is in this bucket. */
  crashed: boolean;
}

export type Severity = "SEVERITY_INFO" | "SEVERITY_WARNING" | "SEVERITY_ERROR" | "SEVERITY_CRITICAL";

export interface Finding {
  ruleId: string;
  severity: Severity;
  title: string;
  detail: string;
  remediation: string;
  /** Indexes into `buckets` that support the finding. */
  evidenceBuckets: number[];
}

/** The attribution of one crash. */
export interface CrashAttribution {
  kind: CrashKind;
  category: CrashCategory;
  message: string;
  messageTemplate: string;
  /** All panic values in print order (re-panics, nested panics). */
  panics: PanicValue[];
  signal?: SignalInfo;
  goVersion: GoVersionRange;
  culprit?: Culprit;
  /** Hex sha256; see fingerprint.ts and docs/fingerprint.md for what goes in. */
  fingerprint: string;
  /** The normalized components the fingerprint was computed over (for humans and debugging). */
  fingerprintInputs: string[];
  goroutines: Goroutine[];
  /** Largest first. */
  buckets: Bucket[];
  findings: Finding[];
  startLine: number;
  endLine: number;
  truncated: boolean;
}

export interface AttributeResult extends CrashAttribution {
  /** Index in `crashes` of the crash the top-level fields describe (-1 when none was found). */
  primaryIndex: number;
  /** Every crash found in the input, in input order (the primary one included). */
  crashes: CrashAttribution[];
  diagnostics: ParseDiagnostic[];
  diagnosticsDropped: number;
  stats: InputStats;
}
