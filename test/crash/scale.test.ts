/**
 * 100,000-goroutine dumps: attributed within a generous bound, and the work grows about linearly
 * (10k vs 100k) — bucketing is hash-based, not pairwise. Timed numbers belong to bench/crash.ts.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { attributeText } from "../../src/crash/index.js";
import { generateDump } from "./gen.js";

test("100k-goroutine dump: correct buckets and findings, fast, not quadratic", () => {
  const small = generateDump(10_000);
  const big = generateDump(100_000);
  attributeText(small); // warm up the JIT
  // CPU time, not wall time: the test machine is shared, wall time swings with its load.
  const cpuMs = (f: () => void) => {
    const c = process.cpuUsage();
    f();
    const d = process.cpuUsage(c);
    return (d.user + d.system) / 1000;
  };
  let rs!: ReturnType<typeof attributeText>;
  let r!: ReturnType<typeof attributeText>;
  const tSmall = cpuMs(() => {
    rs = attributeText(small);
  });
  const tBig = cpuMs(() => {
    r = attributeText(big);
  });

  assert.equal(rs.goroutines.length, 10_000);
  assert.equal(r.goroutines.length, 100_000);
  assert.equal(r.category, "CRASH_CATEGORY_GOROUTINE_DUMP");
  assert.equal(r.culprit?.function, "example.com/svc/internal/fanout.(*Pool).wait");
  // chan receive waits vary 0..6 minutes but stack and state are equal: 7 minute values, one bucket.
  assert.equal(r.buckets[0]!.count, 60_000);
  assert.equal(r.buckets[0]!.minWaitMinutes, 0);
  assert.equal(r.buckets[0]!.maxWaitMinutes, 6);
  assert.equal(r.buckets[1]!.count, 30_000);
  // readLoop frames at three different lines: three buckets at the default level.
  assert.equal(r.buckets.length, 5);
  assert.equal(r.buckets[0]!.ids.length, 10_000, "ids capped");
  assert.equal(r.buckets[0]!.idsDropped, 50_000);
  const rules = r.findings.map((f) => f.ruleId);
  assert.ok(rules.includes("builtin/goroutine-leak"));
  assert.ok(rules.includes("builtin/lock-contention"));
  assert.ok(rules.includes("builtin/http-body-not-closed"));
  const fn = attributeText(big, { similarity: "BUCKET_SIMILARITY_FUNCTION" });
  assert.equal(fn.buckets.length, 3);
  const exact = attributeText(small, { similarity: "BUCKET_SIMILARITY_EXACT" });
  assert.ok(exact.buckets.length > 1000, "argument values differ per goroutine");

  assert.ok(tBig < 10_000, `100k goroutines took ${tBig.toFixed(0)} ms of CPU`);
  assert.ok(tBig / Math.max(tSmall, 1) < 30, `10k: ${tSmall.toFixed(0)} ms, 100k: ${tBig.toFixed(0)} ms`);
  console.log(
    `# attribute CPU 10k: ${tSmall.toFixed(0)} ms, 100k: ${tBig.toFixed(0)} ms (${big.length} chars)`,
  );
});
