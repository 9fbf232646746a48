/** The service's collector settings: applied by default, and GOSYMD_GC_TUNING=0 keeps V8's. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { GC_FLAGS, tuneGcForLatency } from "../../src/gc-tuning.js";

test("GOSYMD_GC_TUNING=0 applies nothing", () => {
  assert.deepEqual(tuneGcForLatency({ GOSYMD_GC_TUNING: "0" }), []);
});

/**
 * Major GCs a child process does while objects that outlive a few minor GCs pile up and die (what
 * a busy server's old generation sees), with or without the tuning applied at start.
 */
function majorGcs(tune: boolean): number {
  const script = `
    import { PerformanceObserver, constants } from "node:perf_hooks";
    import { tuneGcForLatency } from ${JSON.stringify(new URL("../../src/gc-tuning.ts", import.meta.url).href)};
    ${tune ? "tuneGcForLatency({});" : ""}
    let majors = 0;
    new PerformanceObserver((l) => {
      for (const e of l.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
    }).observe({ entryTypes: ["gc"] });
    globalThis.live = Array.from({ length: 100000 }, (_, i) => ({ i, s: "x" + i }));
    const ring = new Array(1024);
    for (let k = 0; k < 50000; k++) ring[k % 1024] = Array.from({ length: 500 }, (_, i) => ({ k, i }));
    setTimeout(() => process.stdout.write(String(majors)), 50);
  `;
  return Number(
    execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    }),
  );
}

test("by default the flags are applied: far fewer major GCs for the same garbage", () => {
  const tuned = majorGcs(true);
  const defaults = majorGcs(false);
  assert.ok(GC_FLAGS.length > 0);
  assert.ok(defaults >= 3, `V8's defaults did ${defaults} major GCs (the probe must make some)`);
  assert.ok(tuned * 2 <= defaults, `tuned ${tuned} vs defaults ${defaults} major GCs`);
});
