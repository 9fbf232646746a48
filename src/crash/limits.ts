/**
 * Caps that bound the work done on one crash text. Crash text is untrusted: every loop below is
 * bounded by one of these, and exceeding one is reported (diagnostic / truncated flag), never thrown.
 */
export interface CrashLimits {
  /** Input characters read; the rest is cut and reported. */
  maxInputChars: number;
  /** Characters kept of one line; longer lines are cut and reported. */
  maxLineChars: number;
  /** Lines processed after normalization. */
  maxLines: number;
  /** Goroutines kept per crash; the rest are counted in a diagnostic. */
  maxGoroutines: number;
  /** Frames kept per goroutine; the rest count as elided. */
  maxFramesPerGoroutine: number;
  /** Crashes kept per input. */
  maxCrashes: number;
  /** Diagnostics kept; the rest are counted. */
  maxDiagnostics: number;
  /** Distinct log-prefix shapes learned. */
  maxPrefixShapes: number;
  /** Goroutine ids listed per bucket. */
  maxBucketIds: number;
  /** Characters of a message a user rule regex is run on. */
  maxRuleSubjectChars: number;
}

export const DEFAULT_CRASH_LIMITS: CrashLimits = {
  maxInputChars: 256 * 1024 * 1024,
  maxLineChars: 64 * 1024,
  maxLines: 8_000_000,
  maxGoroutines: 1_000_000,
  maxFramesPerGoroutine: 4096,
  maxCrashes: 1000,
  maxDiagnostics: 500,
  maxPrefixShapes: 8,
  maxBucketIds: 10_000,
  maxRuleSubjectChars: 4096,
};

export function resolveLimits(partial?: Partial<CrashLimits>): CrashLimits {
  if (partial === undefined) return DEFAULT_CRASH_LIMITS;
  const out = { ...DEFAULT_CRASH_LIMITS };
  for (const k of Object.keys(out) as (keyof CrashLimits)[]) {
    const v = partial[k];
    if (typeof v === "number" && Number.isFinite(v) && v >= 1) out[k] = Math.floor(v);
  }
  return out;
}
