/**
 * Findings: built-in rules over buckets (goroutine leaks, lock contention, unclosed HTTP response
 * bodies, log/write contention, deadlocks), one remediation finding per category, and user rules
 * from YAML. Owners: a CODEOWNERS-style file over package/module paths.
 *
 * User rule file (YAML):
 *   rules:
 *     - id: payments-nil-config          # required, unique
 *       severity: error                  # info | warning | error | critical (default warning)
 *       title: Nil config in payments
 *       detail: ...
 *       remediation: ...
 *       match:                           # every given condition must hold
 *         category: [CRASH_CATEGORY_NIL_DEREFERENCE]   # one or a list (the CRASH_CATEGORY_ prefix may be omitted)
 *         message: "regex"               # on the crash message
 *         frame: "regex"                 # some frame function of an evidence bucket
 *         wait_reason: "regex"           # the bucket's wait reason
 *         min_count: 10                  # the bucket has at least this many goroutines
 * With `frame`, `wait_reason` or `min_count` the rule is checked per bucket and its evidence is
 * the matching buckets; otherwise it is checked once per crash with the crashed goroutine's
 * bucket as evidence. Regexes are JavaScript syntax; subjects are capped in length.
 */
import { parse as parseYaml } from "yaml";
import { GosymdError } from "../bytes/errors.js";
import { type Bucket, CRASH_CATEGORIES, type CrashCategory, type Finding, type Severity } from "./types.js";

export interface UserRule {
  id: string;
  severity: Severity;
  title: string;
  detail: string;
  remediation: string;
  categories: CrashCategory[];
  message?: RegExp;
  frame?: RegExp;
  waitReason?: RegExp;
  minCount?: number;
}

export interface RuleSet {
  rules: UserRule[];
}

const SEVERITIES: Record<string, Severity> = {
  info: "SEVERITY_INFO",
  warning: "SEVERITY_WARNING",
  warn: "SEVERITY_WARNING",
  error: "SEVERITY_ERROR",
  critical: "SEVERITY_CRITICAL",
};

function bad(msg: string, field?: string): GosymdError {
  return new GosymdError("invalid_argument", msg, { format: "crash-rules", ...(field ? { field } : {}) });
}

function regex(v: unknown, field: string): RegExp | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string" || v.length > 2000)
    throw bad("must be a regular expression string (at most 2000 characters)", field);
  try {
    return new RegExp(v);
  } catch (e) {
    throw bad(`invalid regular expression: ${(e as Error).message}`, field);
  }
}

function str(v: unknown, field: string, def = ""): string {
  if (v === undefined || v === null) return def;
  if (typeof v !== "string") throw bad("must be a string", field);
  return v;
}

/** Parses a YAML rule file; throws GosymdError(invalid_argument) saying which rule/field is wrong. */
export function parseRules(yamlText: string): RuleSet {
  if (yamlText.length > 1024 * 1024) throw bad("rule file larger than 1 MiB");
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { maxAliasCount: 100 });
  } catch (e) {
    throw bad(`rule file is not valid YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return { rules: [] };
  const list = Array.isArray(doc) ? doc : (doc as { rules?: unknown }).rules;
  if (!Array.isArray(list)) throw bad("expected a `rules:` list", "rules");
  if (list.length > 1000) throw bad("more than 1000 rules", "rules");
  const seen = new Set<string>();
  const rules: UserRule[] = [];
  list.forEach((r: unknown, i) => {
    const where = `rules[${i}]`;
    if (r === null || typeof r !== "object") throw bad("rule must be a mapping", where);
    const o = r as Record<string, unknown>;
    const id = str(o.id, `${where}.id`);
    if (id === "") throw bad("rule needs an id", `${where}.id`);
    if (seen.has(id)) throw bad(`duplicate rule id ${id}`, `${where}.id`);
    seen.add(id);
    const sevText = str(o.severity, `${where}.severity`, "warning").toLowerCase();
    const severity =
      SEVERITIES[sevText] ??
      (Object.values(SEVERITIES).includes(sevText.toUpperCase() as Severity)
        ? (sevText.toUpperCase() as Severity)
        : undefined);
    if (severity === undefined) throw bad(`unknown severity ${sevText}`, `${where}.severity`);
    const match = (o.match ?? {}) as Record<string, unknown>;
    if (typeof match !== "object") throw bad("match must be a mapping", `${where}.match`);
    const cats =
      match.category === undefined ? [] : Array.isArray(match.category) ? match.category : [match.category];
    const categories = cats.map((c: unknown, j: number) => {
      const s = str(c, `${where}.match.category[${j}]`).toUpperCase();
      const full = (s.startsWith("CRASH_CATEGORY_") ? s : `CRASH_CATEGORY_${s}`) as CrashCategory;
      if (!CRASH_CATEGORIES.includes(full)) throw bad(`unknown category ${s}`, `${where}.match.category`);
      return full;
    });
    const rule: UserRule = {
      id,
      severity,
      title: str(o.title, `${where}.title`, id),
      detail: str(o.detail, `${where}.detail`),
      remediation: str(o.remediation, `${where}.remediation`),
      categories,
    };
    const message = regex(match.message, `${where}.match.message`);
    if (message) rule.message = message;
    const frame = regex(match.frame, `${where}.match.frame`);
    if (frame) rule.frame = frame;
    const wr = regex(match.wait_reason ?? match.waitReason, `${where}.match.wait_reason`);
    if (wr) rule.waitReason = wr;
    const mc = match.min_count ?? match.minCount;
    if (mc !== undefined) {
      if (typeof mc !== "number" || !Number.isInteger(mc) || mc < 1)
        throw bad("min_count must be a positive integer", `${where}.match.min_count`);
      rule.minCount = mc;
    }
    rules.push(rule);
  });
  return { rules };
}

/** What a remediation finding says for each category. */
export const CATEGORY_ADVICE: Record<
  CrashCategory,
  { title: string; remediation: string; severity: Severity }
> = {
  CRASH_CATEGORY_UNKNOWN: {
    title: "Unrecognized crash",
    remediation:
      "The text did not match a known Go crash form; check the diagnostics for lines that could not be parsed.",
    severity: "SEVERITY_WARNING",
  },
  CRASH_CATEGORY_NIL_DEREFERENCE: {
    title: "Nil pointer dereference",
    remediation:
      "A nil pointer (or nil interface/method receiver) was used at the culprit line. Check where it is set, return an error instead of a nil value, or guard the use with a nil check.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_INDEX_OUT_OF_RANGE: {
    title: "Index out of range",
    remediation: "Check the index against len() before indexing; the message shows the index and the length.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_SLICE_BOUNDS_OUT_OF_RANGE: {
    title: "Slice bounds out of range",
    remediation:
      "Check slice bounds against len()/cap() (and low <= high) before slicing; the message shows the bounds used.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_NIL_MAP_WRITE: {
    title: "Write to a nil map",
    remediation:
      "Initialize the map with make() (or a literal) before assigning to it, e.g. in the constructor.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_TYPE_ASSERTION: {
    title: "Failed type assertion",
    remediation: "Use the two-value form `v, ok := x.(T)` or a type switch, and handle the unexpected type.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_DIVIDE_BY_ZERO: {
    title: "Integer division by zero",
    remediation: "Check the divisor before dividing and return an error for zero.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_CLOSED_CHANNEL: {
    title: "Send on / close of a closed channel",
    remediation:
      "Only the sender side should close a channel, exactly once; coordinate shutdown with a sync.Once, a context, or a done channel instead of closing shared channels from several goroutines.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_CONCURRENT_MAP_ACCESS: {
    title: "Concurrent map access",
    remediation:
      "The map is used from several goroutines without synchronization. Guard it with a sync.Mutex/RWMutex, use sync.Map, or confine it to one goroutine; run the tests with -race to find the other access.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_DEADLOCK: {
    title: "Deadlock: every goroutine is blocked",
    remediation:
      "Find who should have sent, received, unlocked or called Done for the blocked goroutines (largest groups first); make sure every channel has a reader, every Add has a Done, and locks are taken in one order.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_STACK_OVERFLOW: {
    title: "Stack overflow (unbounded recursion)",
    remediation:
      "The culprit recurses without a reachable base case (or through a String/Error method calling itself via fmt). Add a depth limit or rewrite iteratively.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_OUT_OF_MEMORY: {
    title: "Out of memory",
    remediation:
      "The runtime could not get memory from the OS. Check the size of the allocation at the culprit (an unchecked length from input?), set GOMEMLIMIT below the container limit, and look at a heap profile.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_THREAD_EXHAUSTION: {
    title: "Thread exhaustion",
    remediation:
      "Too many OS threads: goroutines blocked in syscalls or cgo calls, or locked to threads (runtime.LockOSThread), each hold one. Bound the concurrency of blocking calls (worker pool / semaphore) and unlock threads when done.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_SYNC_MISUSE: {
    title: "Misuse of a sync primitive",
    remediation:
      "Unlock only what this goroutine locked (pair Lock with a deferred Unlock), call WaitGroup.Add before starting the goroutine and exactly one Done per Add, and never copy a Mutex or WaitGroup after first use (go vet copylocks).",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_EXPLICIT_PANIC: {
    title: "Panic raised by the program",
    remediation:
      "The program called panic() with this value; handle the condition by returning an error, or fix the invariant the panic protects.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_CGO_CRASH: {
    title: "Crash in C code (cgo)",
    remediation:
      "A signal arrived while C code ran: check pointers and lifetimes passed to C (cgo pointer rules, GODEBUG=cgocheck=2), run the C side under ASan/valgrind, and build with debug info for a C backtrace.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_MEMORY_CORRUPTION: {
    title: "Memory corruption",
    remediation:
      "The runtime found an invalid pointer: suspect unsafe, cgo, or a data race. Run the tests with -race, build with -gcflags=all=-d=checkptr, and audit unsafe.Pointer conversions.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_SIGNAL: {
    title: "Fatal signal",
    remediation:
      "The process died of a signal the runtime could not turn into a panic. Check what sent it (kill, OOM, the host) or what fault it reports.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_DATA_RACE: {
    title: "Data race",
    remediation:
      "Two goroutines access the same memory without synchronization and at least one writes. Protect it with a mutex, use atomics, or pass ownership over a channel.",
    severity: "SEVERITY_ERROR",
  },
  CRASH_CATEGORY_TEST_TIMEOUT: {
    title: "Test timed out",
    remediation:
      "The test (culprit) did not finish in time: look for a blocked goroutine (channel, lock, network) in its stack; use contexts with deadlines in tests.",
    severity: "SEVERITY_WARNING",
  },
  CRASH_CATEGORY_GOROUTINE_DUMP: {
    title: "Goroutine dump",
    remediation:
      "A dump of a live or hung program: look at the largest groups of blocked goroutines and at the findings.",
    severity: "SEVERITY_INFO",
  },
  CRASH_CATEGORY_OOM_KILLED: {
    title: "Killed by the kernel OOM killer",
    remediation:
      "The kernel killed the process for memory (no Go text). Set GOMEMLIMIT below the container memory limit, raise the limit, or find the growth with heap profiles.",
    severity: "SEVERITY_CRITICAL",
  },
  CRASH_CATEGORY_RUNTIME_FATAL: {
    title: "Runtime error",
    remediation:
      "The Go runtime stopped the program; read the message and the culprit. Runtime throws that are not the program's fault are worth reporting upstream with the full text.",
    severity: "SEVERITY_ERROR",
  },
};

const LEAK_WAIT =
  /^(?:chan receive|chan send|select|chan receive \(nil chan\)|chan send \(nil chan\)|select \(no cases\)|sync\.Cond\.Wait|sync\.WaitGroup\.Wait)$/;
const LOCK_WAIT = /^(?:sync\.Mutex\.Lock|sync\.RWMutex\.Lock|sync\.RWMutex\.RLock|semacquire)$/;
const LOCK_FRAME = /^sync\.\(\*(?:RW)?Mutex\)\.(?:R?Lock|lockSlow|rUnlockSlow)$/;
const WRITE_FRAME =
  /^(?:log\.\(\*Logger\)\.(?:Output|output|Printf|Println|Print)|internal\/poll\.\(\*FD\)\.(?:writeLock|Write)|internal\/poll\.\(\*fdMutex\)\.rwlock|os\.\(\*File\)\.Write|log\/slog\.|go\.uber\.org\/zap|github\.com\/sirupsen\/logrus)/;
const HTTP_LOOP = /^net\/http\.\(\*persistConn\)\.(?:readLoop|writeLoop)$/;

export interface BuiltinThresholds {
  leakMinCount: number;
  lockMinCount: number;
  httpMinCount: number;
  writeMinCount: number;
}

export const DEFAULT_THRESHOLDS: BuiltinThresholds = {
  leakMinCount: 100,
  lockMinCount: 10,
  httpMinCount: 50,
  writeMinCount: 10,
};

export interface RuleContext {
  category: CrashCategory;
  message: string;
  buckets: Bucket[];
  /** Whether a frame function is in-app (for leak suspects). */
  inAppFunction: (fn: string) => boolean;
  thresholds?: Partial<BuiltinThresholds>;
  maxSubjectChars?: number;
}

function where(b: Bucket, inApp: (fn: string) => boolean): string {
  const f =
    b.frames.find((x) => inApp(x.function)) ??
    b.frames.find((x) => !x.function.startsWith("runtime.")) ??
    b.frames[0];
  return f === undefined ? "(no frames)" : `${f.function} (${f.file}:${f.line})`;
}

function waitText(b: Bucket): string {
  return b.maxWaitMinutes > 0
    ? b.minWaitMinutes === b.maxWaitMinutes
      ? `, ${b.maxWaitMinutes} minutes`
      : `, ${b.minWaitMinutes}-${b.maxWaitMinutes} minutes`
    : "";
}

/** Built-in findings plus the category remediation and user rules. */
export function applyRules(ctx: RuleContext, user?: RuleSet): Finding[] {
  const t = { ...DEFAULT_THRESHOLDS, ...(ctx.thresholds ?? {}) };
  const out: Finding[] = [];
  const advice = CATEGORY_ADVICE[ctx.category];
  out.push({
    ruleId: `category/${ctx.category.replace(/^CRASH_CATEGORY_/, "").toLowerCase()}`,
    severity: advice.severity,
    title: advice.title,
    detail: ctx.message === "" ? advice.title : ctx.message.split("\n", 1)[0]!.slice(0, 500),
    remediation: advice.remediation,
    evidenceBuckets: ctx.buckets.flatMap((b, i) => (b.crashed ? [i] : [])),
  });
  const bs = ctx.buckets;

  bs.forEach((b, i) => {
    if (
      b.count >= t.leakMinCount &&
      b.state === "waiting" &&
      LEAK_WAIT.test(b.waitReason) &&
      b.frames.some((f) => ctx.inAppFunction(f.function))
    ) {
      out.push({
        ruleId: "builtin/goroutine-leak",
        severity: b.count >= 10 * t.leakMinCount ? "SEVERITY_ERROR" : "SEVERITY_WARNING",
        title: "Goroutine leak suspect",
        detail: `${b.count} goroutines parked in ${b.waitReason}${waitText(b)} at ${where(b, ctx.inAppFunction)}`,
        remediation:
          "Goroutines that wait on a channel or select nobody will serve never exit. Give them a way out (context cancellation, closing the channel, a done channel) and make sure every started goroutine is waited for.",
        evidenceBuckets: [i],
      });
    }
  });

  const lockIdx = bs.flatMap((b, i) =>
    b.state === "waiting" &&
    LOCK_WAIT.test(b.waitReason) &&
    b.frames.some((f) => LOCK_FRAME.test(f.function)) &&
    !b.frames.some((f) => WRITE_FRAME.test(f.function))
      ? [i]
      : [],
  );
  const lockTotal = lockIdx.reduce((s, i) => s + bs[i]!.count, 0);
  if (lockTotal >= t.lockMinCount) {
    const top = bs[lockIdx[0]!]!;
    out.push({
      ruleId: "builtin/lock-contention",
      severity: "SEVERITY_WARNING",
      title: "Lock contention",
      detail: `${lockTotal} goroutines wait for a sync.Mutex/RWMutex; the largest group (${top.count}) at ${where(top, ctx.inAppFunction)}`,
      remediation:
        "Many goroutines queue on one lock: find the holder (a goroutine running or blocked while holding it), shorten the critical section, avoid I/O under the lock, or shard the protected state.",
      evidenceBuckets: lockIdx,
    });
  }

  const httpIdx = bs.flatMap((b, i) =>
    b.frames.length > 0 && b.frames.slice(0, 8).some((f) => HTTP_LOOP.test(f.function)) ? [i] : [],
  );
  const httpTotal = httpIdx.reduce((s, i) => s + bs[i]!.count, 0);
  if (httpTotal >= t.httpMinCount) {
    out.push({
      ruleId: "builtin/http-body-not-closed",
      severity: "SEVERITY_WARNING",
      title: "HTTP response bodies not closed (connection leak)",
      detail: `${httpTotal} goroutines in net/http.(*persistConn).readLoop/writeLoop: idle or leaked client connections`,
      remediation:
        "Every http.Response.Body must be read to EOF and closed (defer resp.Body.Close()), even on error status codes; reuse one http.Client and set timeouts.",
      evidenceBuckets: httpIdx,
    });
  }

  const writeIdx = bs.flatMap((b, i) =>
    b.state === "waiting" &&
    LOCK_WAIT.test(b.waitReason) &&
    b.frames.some((f) => WRITE_FRAME.test(f.function))
      ? [i]
      : [],
  );
  const writeTotal = writeIdx.reduce((s, i) => s + bs[i]!.count, 0);
  if (writeTotal >= t.writeMinCount) {
    out.push({
      ruleId: "builtin/log-write-contention",
      severity: "SEVERITY_WARNING",
      title: "Log / write contention",
      detail: `${writeTotal} goroutines wait to write (logger or file lock)`,
      remediation:
        "Goroutines serialize on a logger or an output file: reduce log volume in hot paths, log asynchronously or buffered, and make sure the output (stderr, a pipe) is drained.",
      evidenceBuckets: writeIdx,
    });
  }

  if (ctx.category === "CRASH_CATEGORY_DEADLOCK") {
    const blocked = bs.flatMap((b, i) => (b.state === "waiting" ? [i] : []));
    const lockSites = new Set(
      blocked
        .filter(
          (i) => LOCK_WAIT.test(bs[i]!.waitReason) && bs[i]!.frames.some((f) => LOCK_FRAME.test(f.function)),
        )
        .map((i) => where(bs[i]!, ctx.inAppFunction)),
    );
    const cycle = lockSites.size >= 2;
    out.push({
      ruleId: cycle ? "builtin/deadlock-lock-cycle" : "builtin/deadlock",
      severity: "SEVERITY_CRITICAL",
      title: cycle ? "Deadlock: lock-order cycle suspected" : "Deadlock: no goroutine can make progress",
      detail: cycle
        ? `goroutines wait for locks at ${lockSites.size} different sites (${[...lockSites].slice(0, 4).join("; ")}) while nothing runs: they likely hold each other's locks`
        : `${blocked.length} groups of blocked goroutines; largest: ${bs[blocked[0] ?? 0] ? where(bs[blocked[0] ?? 0]!, ctx.inAppFunction) : "(none)"}`,
      remediation: cycle
        ? "Acquire locks in one global order, or merge them; never call out to unknown code while holding a lock."
        : CATEGORY_ADVICE.CRASH_CATEGORY_DEADLOCK.remediation,
      evidenceBuckets: blocked.slice(0, 16),
    });
  }

  if (user !== undefined) out.push(...applyUserRules(ctx, user));
  return out;
}

function cap(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}

export function applyUserRules(ctx: RuleContext, set: RuleSet): Finding[] {
  const max = ctx.maxSubjectChars ?? 4096;
  const out: Finding[] = [];
  const message = cap(ctx.message, max);
  for (const r of set.rules) {
    if (r.categories.length > 0 && !r.categories.includes(ctx.category)) continue;
    if (r.message !== undefined && !r.message.test(message)) continue;
    const perBucket = r.frame !== undefined || r.waitReason !== undefined || r.minCount !== undefined;
    let evidence: number[];
    if (perBucket) {
      evidence = [];
      ctx.buckets.forEach((b, i) => {
        if (r.minCount !== undefined && b.count < r.minCount) return;
        if (r.waitReason !== undefined && !r.waitReason.test(cap(b.waitReason, max))) return;
        if (r.frame !== undefined && !b.frames.some((f) => r.frame!.test(cap(f.function, max)))) return;
        evidence.push(i);
      });
      if (evidence.length === 0) continue;
    } else {
      evidence = ctx.buckets.flatMap((b, i) => (b.crashed ? [i] : []));
    }
    out.push({
      ruleId: r.id,
      severity: r.severity,
      title: r.title,
      detail: r.detail !== "" ? r.detail : r.title,
      remediation: r.remediation,
      evidenceBuckets: evidence,
    });
  }
  return out;
}

// --- owners ---------------------------------------------------------------------------------------

export interface OwnerRule {
  pattern: string;
  re: RegExp;
  owners: string[];
}

export interface OwnersFile {
  rules: OwnerRule[];
}

function globToRegExp(pattern: string): RegExp {
  let p = pattern.replace(/^\/+/, "");
  if (p.endsWith("/")) p = p.slice(0, -1);
  // `dir/**` covers dir itself too (a package path has no trailing slash); every pattern covers
  // the paths below what it matches.
  while (p.endsWith("/**")) p = p.slice(0, -3);
  let re = "";
  let i = 0;
  while (i < p.length) {
    if (p.startsWith("**/", i)) {
      re += "(?:.*/)?";
      i += 3;
    } else if (p.startsWith("**", i)) {
      re += ".*";
      i += 2;
    } else if (p[i] === "*") {
      re += "[^/]*";
      i++;
    } else if (p[i] === "?") {
      re += "[^/]";
      i++;
    } else {
      re += p[i]!.replace(/[\\^$.+()[\]{}|]/g, "\\$&");
      i++;
    }
  }
  // A pattern matches the path itself and everything below it.
  return new RegExp(`^${re}(?:/.*)?$`);
}

/** Parses `pattern owner...` lines (`#` comments, blank lines ignored). */
export function parseOwners(text: string): OwnersFile {
  if (text.length > 1024 * 1024)
    throw new GosymdError("invalid_argument", "owners file larger than 1 MiB", { format: "owners" });
  const rules: OwnerRule[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length && rules.length < 10_000; i++) {
    const line = lines[i]!.replace(/(^|\s)#.*$/, "").trim();
    if (line === "") continue;
    const [pattern, ...owners] = line.split(/\s+/);
    if (pattern === undefined) continue;
    rules.push({ pattern, re: globToRegExp(pattern), owners });
  }
  return { rules };
}

/** Owners of a package path (last matching rule wins; a rule with no owners clears ownership). */
export function ownersOf(path: string, file: OwnersFile): string[] {
  let owners: string[] = [];
  for (const r of file.rules) if (r.re.test(path)) owners = r.owners;
  return [...owners];
}
