/**
 * Crash attribution: text (or goroutines from any other source) in, category + culprit +
 * fingerprint + buckets + findings out.
 *
 * Several crashes in one log: every crash is attributed (`crashes`, input order) and the top-level
 * fields describe the primary one, chosen by rank — a crash that ended the process (panic, fatal
 * error, fatal signal, OOM kill, test timeout) before a recovered or non-fatal report (a logged
 * `http: panic serving`, a race report) before a goroutine dump — and, within a rank, the first
 * in the log (later ones are often consequences of the first).
 */
import { bucketize } from "./bucket.js";
import { classify, markCrashed } from "./classify.js";
import {
  type CulpritOptions,
  culpritOf,
  inferModuleRoot,
  isCandidate,
  isGoStatementWrapper,
  isInApp,
  isSkippable,
  pickCulprit,
  type SourceContext,
} from "./culprit.js";
import { fingerprint } from "./fingerprint.js";
import { packageOf } from "./funcname.js";
import { type CrashLimits, resolveLimits } from "./limits.js";
import { parseCrashText, raceGoroutines } from "./parse.js";
import {
  applyRules,
  type BuiltinThresholds,
  type OwnersFile,
  ownersOf,
  parseOwners,
  parseRules,
  type RuleSet,
} from "./rules.js";
import type {
  AttributeResult,
  BucketSimilarity,
  CrashAttribution,
  CrashHeader,
  CrashKind,
  Goroutine,
  ParseDiagnostic,
  ParsedCrash,
  StackFrame,
} from "./types.js";

export interface AttributeOptions extends CulpritOptions {
  /** User rules: YAML text or a parsed RuleSet. */
  rules?: string | RuleSet;
  /** Owners: CODEOWNERS-style text or a parsed file. */
  owners?: string | OwnersFile;
  similarity?: BucketSimilarity;
  limits?: Partial<CrashLimits>;
  thresholds?: Partial<BuiltinThresholds>;
}

interface Prepared {
  rules?: RuleSet;
  owners?: OwnersFile;
  limits: CrashLimits;
}

function prepare(opts: AttributeOptions): Prepared {
  const p: Prepared = { limits: resolveLimits(opts.limits) };
  if (opts.rules !== undefined)
    p.rules = typeof opts.rules === "string" ? parseRules(opts.rules) : opts.rules;
  if (opts.owners !== undefined)
    p.owners = typeof opts.owners === "string" ? parseOwners(opts.owners) : opts.owners;
  return p;
}

function ownersSubject(pkg: string, opts: AttributeOptions): string {
  return pkg === "main" && opts.mainModule !== undefined ? opts.mainModule : pkg;
}

function attributeParsed(crash: ParsedCrash, opts: AttributeOptions, prep: Prepared): CrashAttribution {
  if (crash.header.kind === "CRASH_KIND_RACE_REPORT" && crash.goroutines.length === 0)
    crash.goroutines = raceGoroutines(crash);
  const cls = classify(crash);
  const crashed = markCrashed(crash, cls.category);
  const buckets = bucketize(
    crash.goroutines,
    opts.similarity ?? "BUCKET_SIMILARITY_ANY_ARGS",
    prep.limits.maxBucketIds,
  );
  const choice = pickCulprit(crash, cls.category, crashed, buckets, opts);

  const frames = function* (): Generator<StackFrame> {
    for (const g of crash.goroutines) yield* g.frames;
  };
  const ctx: SourceContext = { modules: opts.modules ?? [] };
  if (opts.mainModule !== undefined) {
    ctx.mainModule = opts.mainModule;
    const root = inferModuleRoot(frames(), opts.mainModule);
    if (root !== undefined) ctx.moduleRoot = root;
  }
  if (opts.vcsRevision !== undefined) ctx.vcsRevision = opts.vcsRevision;
  const owners =
    prep.owners !== undefined && choice.frame !== undefined
      ? ownersOf(ownersSubject(choice.frame.packagePath, opts), prep.owners)
      : [];
  const culprit = culpritOf(choice, ctx, owners);

  const fp = fingerprint({
    category: cls.category,
    messageTemplate: cls.messageTemplate,
    ...(cls.signal?.name ? { signalName: cls.signal.name } : {}),
    frames: choice.frames,
    culpritIndex: choice.frameIndex,
    ...(choice.createdBy ? { createdBy: choice.createdBy } : {}),
    isCandidate: (f) => isCandidate(f, opts) && !isGoStatementWrapper(f, choice.createdBy),
    isSkippable,
  });

  const findings = applyRules(
    {
      category: cls.category,
      message: cls.message,
      buckets,
      inAppFunction: (fn) => isInApp(packageOf(fn), opts) && !fn.startsWith("runtime."),
      ...(opts.thresholds ? { thresholds: opts.thresholds } : {}),
      maxSubjectChars: prep.limits.maxRuleSubjectChars,
    },
    prep.rules,
  );

  const out: CrashAttribution = {
    kind: crash.header.kind,
    category: cls.category,
    message: cls.message,
    messageTemplate: cls.messageTemplate,
    panics: crash.header.panics,
    goVersion: cls.goVersion,
    fingerprint: fp.fingerprint,
    fingerprintInputs: fp.inputs,
    goroutines: crash.goroutines,
    buckets,
    findings,
    startLine: crash.startLine,
    endLine: crash.endLine,
    truncated: crash.truncated,
  };
  if (cls.signal) out.signal = cls.signal;
  if (culprit) out.culprit = culprit;
  return out;
}

const RANK: Record<CrashKind, number> = {
  CRASH_KIND_PANIC: 0,
  CRASH_KIND_FATAL_ERROR: 0,
  CRASH_KIND_FATAL_SIGNAL: 0,
  CRASH_KIND_OOM_KILL: 0,
  CRASH_KIND_RACE_REPORT: 1,
  CRASH_KIND_GOROUTINE_DUMP: 2,
  CRASH_KIND_UNKNOWN: 3,
};

function rankOf(c: CrashAttribution): number {
  if (c.kind === "CRASH_KIND_PANIC" && c.panics.length > 0 && c.goroutines.length > 0 && isLoggedPanic(c))
    return 1;
  if (c.category === "CRASH_CATEGORY_GOROUTINE_DUMP") return 2;
  return RANK[c.kind];
}

function isLoggedPanic(c: CrashAttribution): boolean {
  return c.panics.every((p) => p.recovered) && c.panics.length === 1;
}

export function primaryIndex(crashes: CrashAttribution[]): number {
  let best = -1;
  for (let i = 0; i < crashes.length; i++)
    if (best < 0 || rankOf(crashes[i]!) < rankOf(crashes[best]!)) best = i;
  return best;
}

function emptyAttribution(): CrashAttribution {
  return {
    kind: "CRASH_KIND_UNKNOWN",
    category: "CRASH_CATEGORY_UNKNOWN",
    message: "",
    messageTemplate: "",
    panics: [],
    goVersion: { evidence: [] },
    fingerprint: "",
    fingerprintInputs: [],
    goroutines: [],
    buckets: [],
    findings: [],
    startLine: 0,
    endLine: 0,
    truncated: false,
  };
}

/** Attributes every crash in `text`. Never throws on the text (only on malformed rules/owners options). */
export function attributeText(text: string, opts: AttributeOptions = {}): AttributeResult {
  const prep = prepare(opts);
  const parsed = parseCrashText(text, { limits: prep.limits });
  const crashes = parsed.crashes.map((c) => attributeParsed(c, opts, prep));
  const primary = primaryIndex(crashes);
  const diagnostics: ParseDiagnostic[] = parsed.diagnostics;
  const top = primary >= 0 ? crashes[primary]! : emptyAttribution();
  return {
    ...top,
    primaryIndex: primary,
    crashes,
    diagnostics,
    diagnosticsDropped: parsed.diagnosticsDropped,
    stats: parsed.stats,
  };
}

/** What a non-text source (core dump, crash reporter) knows besides its goroutines. */
export interface HeaderInfo {
  kind?: CrashKind;
  /** Panic values, outermost first. */
  panics?: { message: string; recovered?: boolean; repanicked?: boolean }[];
  fatalErrors?: string[];
  runtimeLines?: string[];
  signal?: CrashHeader["signal"];
  runningTests?: string[];
}

/**
 * Attributes goroutines that did not come from text (a core dump's goroutines or a crash reporter's
 * symbolized PCs). Frames must be innermost first; `packagePath` is derived when empty. The first
 * goroutine is taken as the crashed one for panics, fatal errors and signals.
 */
export function attributeGoroutines(
  goroutines: Goroutine[],
  header: HeaderInfo,
  opts: AttributeOptions = {},
): CrashAttribution {
  const prep = prepare(opts);
  const gs = goroutines.slice(0, prep.limits.maxGoroutines).map((g) => ({
    ...g,
    frames: g.frames
      .slice(0, prep.limits.maxFramesPerGoroutine)
      .map((f) =>
        f.packagePath === "" && f.function !== "" ? { ...f, packagePath: packageOf(f.function) } : f,
      ),
    labels: g.labels ?? [],
    flags: g.flags ?? [],
  }));
  const panics = (header.panics ?? []).map((p) => ({
    message: p.message,
    recovered: p.recovered ?? false,
    repanicked: p.repanicked ?? false,
  }));
  const kind: CrashKind =
    header.kind ??
    (panics.length > 0
      ? "CRASH_KIND_PANIC"
      : (header.fatalErrors?.length ?? 0) > 0
        ? "CRASH_KIND_FATAL_ERROR"
        : header.signal
          ? "CRASH_KIND_FATAL_SIGNAL"
          : "CRASH_KIND_GOROUTINE_DUMP");
  const crash: ParsedCrash = {
    header: {
      kind,
      panics,
      fatalErrors: header.fatalErrors ?? [],
      runtimeLines: header.runtimeLines ?? [],
      httpPanic: false,
      runningTests: header.runningTests ?? [],
      runtimeStack: [],
      ...(header.signal ? { signal: header.signal } : {}),
    },
    goroutines: gs,
    startLine: 0,
    endLine: 0,
    truncated: goroutines.length > gs.length,
  };
  return attributeParsed(crash, opts, prep);
}
