/**
 * Crash fingerprints: equal for the same bug across rebuilds, Go versions, line shifts, goroutine
 * ids, addresses and argument values; different for different crash kinds or sites.
 *
 * What goes in (version "v1"; docs/fingerprint.md says the same), one component per line, hashed
 * with SHA-256 (hex):
 *   1. `v1`
 *   2. the category (e.g. CRASH_CATEGORY_NIL_DEREFERENCE)
 *   3. the message template (messageTemplate(): numbers, hex, quoted values, durations, UUIDs as
 *      placeholders) — only for categories whose message identifies the bug: EXPLICIT_PANIC,
 *      RUNTIME_FATAL, MEMORY_CORRUPTION, SIGNAL, CGO_CRASH (signal name) and the panic categories;
 *      left empty for categories whose message is fixed or varies for one bug (deadlock,
 *      concurrent map access, stack overflow, out of memory, thread exhaustion, data race, test
 *      timeout, goroutine dump, OOM kill);
 *   4. the culprit function, normalized (normalizeFunction: type arguments dropped, closure and
 *      wrapper numbers dropped, `glob..funcN` spelled `init.func`);
 *   5. up to 3 further functions of the culprit's stack that are candidates (in-app, not runtime,
 *      not stdlib, not cgo or compiler wrappers), outward from the culprit, normalized; when the
 *      stack has fewer, the `created by` function completes it.
 *   Without a culprit: up to 5 normalized non-runtime functions of the crashed goroutine.
 * Never in: line numbers, file paths, module versions, goroutine ids, addresses, argument values,
 * wait minutes, Go version.
 */
import { createHash } from "node:crypto";
import { normalizeFunction } from "./funcname.js";
import type { CrashCategory, StackFrame } from "./types.js";

export const FINGERPRINT_VERSION = "v1";
export const FINGERPRINT_CALLERS = 3;

const MESSAGE_FREE: ReadonlySet<CrashCategory> = new Set<CrashCategory>([
  "CRASH_CATEGORY_DEADLOCK",
  "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS",
  "CRASH_CATEGORY_STACK_OVERFLOW",
  "CRASH_CATEGORY_OUT_OF_MEMORY",
  "CRASH_CATEGORY_THREAD_EXHAUSTION",
  "CRASH_CATEGORY_DATA_RACE",
  "CRASH_CATEGORY_TEST_TIMEOUT",
  "CRASH_CATEGORY_GOROUTINE_DUMP",
  "CRASH_CATEGORY_OOM_KILLED",
]);

export interface FingerprintInput {
  category: CrashCategory;
  messageTemplate: string;
  signalName?: string;
  /** Frames the culprit was chosen from, innermost first; `culpritIndex` into them (-1: none). */
  frames: StackFrame[];
  culpritIndex: number;
  createdBy?: StackFrame;
  /** Whether a frame may be named in the fingerprint (the culprit's in-app test). */
  isCandidate: (f: StackFrame) => boolean;
  /** Whether a frame is runtime/wrapper noise (used when there is no culprit). */
  isSkippable: (f: StackFrame) => boolean;
}

export function fingerprintInputs(inp: FingerprintInput): string[] {
  const parts = [FINGERPRINT_VERSION, inp.category];
  if (MESSAGE_FREE.has(inp.category)) parts.push("");
  else if (
    inp.category === "CRASH_CATEGORY_CGO_CRASH" ||
    (inp.category === "CRASH_CATEGORY_SIGNAL" && inp.signalName)
  )
    parts.push(inp.signalName ?? inp.messageTemplate);
  else parts.push(inp.messageTemplate);
  const culprit = inp.frames[inp.culpritIndex];
  if (culprit !== undefined) {
    parts.push(normalizeFunction(culprit.function));
    let n = 0;
    for (let i = inp.culpritIndex + 1; i < inp.frames.length && n < FINGERPRINT_CALLERS; i++) {
      const f = inp.frames[i]!;
      if (inp.isCandidate(f)) {
        parts.push(normalizeFunction(f.function));
        n++;
      }
    }
    if (n < FINGERPRINT_CALLERS && inp.createdBy !== undefined && !inp.isSkippable(inp.createdBy))
      parts.push(`created by ${normalizeFunction(inp.createdBy.function)}`);
  } else {
    let n = 0;
    for (const f of inp.frames) {
      if (n >= 5) break;
      if (!inp.isSkippable(f)) {
        parts.push(normalizeFunction(f.function));
        n++;
      }
    }
  }
  return parts;
}

export function fingerprintOf(parts: string[]): string {
  return createHash("sha256").update(parts.join("\n")).digest("hex");
}

export function fingerprint(inp: FingerprintInput): { fingerprint: string; inputs: string[] } {
  const inputs = fingerprintInputs(inp);
  return { fingerprint: fingerprintOf(inputs), inputs };
}
