/**
 * V8 garbage-collector settings for the service, applied when it starts: latency over memory.
 *
 * A warm Symbolize call allocates ~30 KB of short-lived objects, so at thousands of calls a
 * second the old generation grows by what little survives each minor GC, and with V8's defaults a
 * major GC follows every second or less — started by the heap limit (live size × ~1.5) and by
 * the memory reducer, which starts them on its own schedule. Each one stalls the event loop for
 * 10–25 ms (marking steps, then the atomic pause), and every call arriving meanwhile waits: that
 * was the service's p99 latency. Letting the old generation grow to 11× its live size before the
 * next major GC (--heap-growing-percent=1000), and no memory reducer, leaves a major GC every
 * several seconds at the same load instead of several a second (measured with bench/loadgen at
 * 8,600 100-address calls/s: 1–2 in 10 s against 10–50). The cost is memory: the JavaScript
 * heap's live part is ~15–30 MB (the decoded tables are outside it), so the heap may reach ~11×
 * that between collections — a fixed overhead, not one that grows with the cache.
 *
 * GOSYMD_GC_TUNING=0 keeps V8's defaults.
 */
import { setFlagsFromString } from "node:v8";

export const GC_FLAGS = ["--heap-growing-percent=1000", "--no-memory-reducer"] as const;

/** Applies GC_FLAGS unless turned off; returns the flags applied. */
export function tuneGcForLatency(env: NodeJS.ProcessEnv = process.env): readonly string[] {
  if (env.GOSYMD_GC_TUNING === "0") return [];
  for (const f of GC_FLAGS) setFlagsFromString(f);
  return GC_FLAGS;
}
