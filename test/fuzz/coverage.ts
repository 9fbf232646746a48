/**
 * Block coverage of our own sources (src/**) from V8's precise coverage, taken through the
 * in-process inspector (synchronous in the same thread). `take()` returns the coverage since the
 * previous take (counters are reset by V8), as a set of numeric block keys.
 *
 * V8 reports a nested block only where its count differs from the enclosing range, so a block
 * that runs exactly as often as its parent disappears from the report. Every block ever reported
 * is remembered, and its effective count is the count of the innermost reported range that
 * contains it: a block seen once as "not run" is credited when it runs later.
 *
 * Coverage must be started before the modules under test are loaded: functions compiled earlier
 * have function-level counts only.
 */
import { Session } from "node:inspector";

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCov {
  ranges: Range[];
}
interface ScriptCov {
  url: string;
  functions: FunctionCov[];
}

export class Coverage {
  private readonly session = new Session();
  private readonly urls = new Map<string, number>();
  /** Known block ranges per function (key: url id × 1e6 + function start): [start, end] pairs. */
  private readonly known = new Map<number, { starts: number[]; ends: number[]; set: Set<number> }>();
  /** Total time spent in take(), for sizing batches. */
  takeMs = 0;
  takes = 0;

  constructor(private readonly filter: (url: string) => boolean) {
    this.session.connect();
    this.post("Profiler.enable");
    this.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
  }

  private post(method: string, params: object = {}): unknown {
    let out: unknown;
    let err: unknown;
    this.session.post(method, params, (e, r) => {
      err = e;
      out = r;
    });
    if (err) throw err;
    return out;
  }

  /** Blocks run since the last take (keys are stable for the life of this process). */
  take(): Set<number> {
    const t0 = performance.now();
    const res = this.post("Profiler.takePreciseCoverage") as { result: ScriptCov[] };
    const out = new Set<number>();
    for (const sc of res.result) {
      if (!this.filter(sc.url)) continue;
      let id = this.urls.get(sc.url);
      if (id === undefined) {
        id = this.urls.size + 1;
        this.urls.set(sc.url, id);
      }
      for (const fn of sc.functions) {
        const rs = fn.ranges;
        const top = rs[0];
        if (top === undefined || top.count === 0) continue;
        const fk = id * 1e6 + top.startOffset;
        let k = this.known.get(fk);
        if (k === undefined) {
          k = { starts: [], ends: [], set: new Set() };
          this.known.set(fk, k);
        }
        for (const r of rs) {
          const key = r.startOffset * 1e6 + r.endOffset;
          if (!k.set.has(key)) {
            k.set.add(key);
            k.starts.push(r.startOffset);
            k.ends.push(r.endOffset);
          }
        }
        for (let i = 0; i < k.starts.length; i++) {
          const s = k.starts[i]!;
          const e = k.ends[i]!;
          // Innermost reported range containing [s, e): ranges are in pre-order, so the last one.
          let count = 0;
          for (const r of rs) if (r.startOffset <= s && e <= r.endOffset) count = r.count;
          if (count > 0) out.add((id * 1e6 + s) * 1e6 + (e - s));
        }
      }
    }
    this.takeMs += performance.now() - t0;
    this.takes++;
    return out;
  }

  /** Resets the counters without looking at them. */
  reset(): void {
    this.post("Profiler.takePreciseCoverage");
  }
}

/** Coverage of gosymd's sources only (not tests, not node_modules, not generated code). */
export function srcFilter(url: string): boolean {
  return url.includes("/src/") && !url.includes("/src/gen/") && !url.includes("node_modules");
}
