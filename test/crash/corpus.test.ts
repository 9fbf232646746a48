/**
 * Real crash outputs: the crash-corpus program is built with every installed Go toolchain (plus a
 * -race build, which also carries cgo) and with every line of every file shifted; each scenario is
 * run and its stderr attributed. Checks category, exact culprit function, that the Go version range
 * contains the toolchain that produced the text, that fingerprints agree across toolchains and
 * line shifts, and that they differ between scenarios.
 */
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { attributeText } from "../../src/crash/index.js";
import type { AttributeResult, CrashCategory } from "../../src/crash/types.js";
import { availableGoVersions } from "../support/fixtures.js";
import { buildCorpus, CORPUS_MODULE, pool, runScenario } from "./support.js";

const W = `${CORPUS_MODULE}/internal/work`;
const S = `${CORPUS_MODULE}/internal/store`;

interface Scenario {
  name: string;
  category: CrashCategory;
  culprit: string;
  race?: boolean;
  quitOnReady?: boolean;
  template?: string;
}

const SCENARIOS: Scenario[] = [
  { name: "nilderef", category: "CRASH_CATEGORY_NIL_DEREFERENCE", culprit: `${S}.(*Store).Get` },
  {
    name: "index",
    category: "CRASH_CATEGORY_INDEX_OUT_OF_RANGE",
    culprit: `${W}.Index`,
    template: "runtime error: index out of range [<n>] with length <n>",
  },
  { name: "slice", category: "CRASH_CATEGORY_SLICE_BOUNDS_OUT_OF_RANGE", culprit: `${W}.Slice` },
  { name: "nilmap", category: "CRASH_CATEGORY_NIL_MAP_WRITE", culprit: `${W}.NilMapWrite` },
  { name: "typeassert", category: "CRASH_CATEGORY_TYPE_ASSERTION", culprit: `${W}.Assert` },
  { name: "divzero", category: "CRASH_CATEGORY_DIVIDE_BY_ZERO", culprit: `${W}.Div` },
  { name: "closedchan", category: "CRASH_CATEGORY_CLOSED_CHANNEL", culprit: `${W}.SendOnClosed` },
  {
    name: "concmap",
    category: "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS",
    culprit: `${W}.ConcurrentMapWrites.func1`,
  },
  { name: "unlock", category: "CRASH_CATEGORY_SYNC_MISUSE", culprit: `${W}.UnlockUnlocked` },
  { name: "waitgroup", category: "CRASH_CATEGORY_SYNC_MISUSE", culprit: `${W}.NegativeWaitGroup` },
  {
    name: "panicerr",
    category: "CRASH_CATEGORY_EXPLICIT_PANIC",
    culprit: `${S}.(*Store).Load`,
    template: "store: corrupt record <n>",
  },
  { name: "repanic", category: "CRASH_CATEGORY_EXPLICIT_PANIC", culprit: `${W}.Guarded.func1` },
  { name: "stackoverflow", category: "CRASH_CATEGORY_STACK_OVERFLOW", culprit: `${W}.recurse` },
  { name: "oom", category: "CRASH_CATEGORY_OUT_OF_MEMORY", culprit: `${W}.HugeAlloc` },
  { name: "threads", category: "CRASH_CATEGORY_THREAD_EXHAUSTION", culprit: `${W}.holdThread` },
  { name: "deadlock", category: "CRASH_CATEGORY_DEADLOCK", culprit: `${W}.Deadlock.func1` },
  {
    name: "workerpanic",
    category: "CRASH_CATEGORY_EXPLICIT_PANIC",
    culprit: `${W}.worker`,
    template: "worker: cannot process job <n>",
  },
  {
    name: "hang",
    category: "CRASH_CATEGORY_GOROUTINE_DUMP",
    culprit: `${W}.leakyReceiver`,
    quitOnReady: true,
  },
  {
    name: "cgo",
    category: "CRASH_CATEGORY_CGO_CRASH",
    culprit: `${CORPUS_MODULE}/internal/native.Crash`,
    race: true,
  },
  { name: "race", category: "CRASH_CATEGORY_DATA_RACE", culprit: `${W}.bump`, race: true },
];

interface Outcome {
  go: string;
  shift: boolean;
  scenario: Scenario;
  stderr: string;
  result: AttributeResult;
}

const versions = availableGoVersions();
const outcomes: Outcome[] = [];

function minor(v: string): number {
  return Number.parseInt(v.split(".")[1] ?? "0", 10);
}

describe("crash corpus: real runtime output", { timeout: 240_000 }, () => {
  before(async () => {
    assert.ok(versions.length > 0, "no Go toolchain installed under /usr/lib/go-*");
    const builds = versions.flatMap((go) =>
      [false, true].flatMap((shift) => [false, true].map((race) => ({ go, race, shift }))),
    );
    const bins = await pool(builds, 2, async (b) => ({ ...b, bin: await buildCorpus(b) }));
    const runs = bins.flatMap((b) =>
      SCENARIOS.filter((s) => (s.race ?? false) === b.race).map((s) => ({ b, s })),
    );
    const results = await pool(runs, 2, async ({ b, s }) => {
      const r = await runScenario(b.bin, s.name, s.quitOnReady ? { quitOnReady: true } : {});
      return { b, s, r };
    });
    for (const { b, s, r } of results) {
      assert.ok(!r.timedOut, `${s.name} (go${b.go}${b.shift ? ", shifted" : ""}) did not end in time`);
      outcomes.push({
        go: b.go,
        shift: b.shift,
        scenario: s,
        stderr: r.stderr,
        result: attributeText(r.stderr, { mainModule: CORPUS_MODULE }),
      });
    }
  });

  for (const s of SCENARIOS) {
    test(`${s.name}: ${s.category.replace("CRASH_CATEGORY_", "").toLowerCase()} blamed on ${s.culprit.slice(CORPUS_MODULE.length + 1)}`, () => {
      const mine = outcomes.filter((o) => o.scenario === s);
      assert.equal(mine.length, versions.length * 2);
      for (const o of mine) {
        const where = `go${o.go}${o.shift ? " shifted" : ""}:\n${o.stderr.slice(0, 3000)}`;
        const r = o.result;
        assert.equal(r.category, s.category, where);
        assert.equal(r.culprit?.function, s.culprit, where);
        assert.equal(r.culprit?.inApp, true, where);
        assert.equal(r.culprit?.modulePath, CORPUS_MODULE, where);
        assert.ok((r.culprit?.line ?? 0) > 0, where);
        assert.ok(r.culprit?.file.endsWith(".go"), where);
        if (s.template !== undefined) assert.equal(r.messageTemplate, s.template, where);
        // The version markers must admit the toolchain that printed the text.
        const v = minor(o.go);
        if (r.goVersion.min !== undefined)
          assert.ok(minor(r.goVersion.min) <= v, `${where}\n${JSON.stringify(r.goVersion)}`);
        if (r.goVersion.max !== undefined)
          assert.ok(minor(r.goVersion.max) >= v, `${where}\n${JSON.stringify(r.goVersion)}`);
        assert.equal(
          r.crashes.length,
          1,
          `${where}\ncrashes: ${r.crashes.map((c) => c.category).join(", ")}`,
        );
        assert.ok(r.goroutines.length >= 1, where);
      }
      const fps = new Set(mine.map((o) => o.result.fingerprint));
      assert.equal(
        fps.size,
        1,
        `fingerprints differ across toolchains/shifts:\n${mine.map((o) => `go${o.go}${o.shift ? "s" : ""} ${o.result.fingerprintInputs.join(" | ")}`).join("\n")}`,
      );
      // Line shifts really moved the culprit line.
      const a = mine.find((o) => !o.shift);
      const b = mine.find((o) => o.shift && o.go === a?.go);
      assert.ok(a && b);
      assert.equal(b.result.culprit!.line - a.result.culprit!.line, 7);
    });
  }

  test("fingerprints differ between scenarios", () => {
    const byScenario = new Map<string, string>();
    for (const o of outcomes) byScenario.set(o.scenario.name, o.result.fingerprint);
    const seen = new Map<string, string>();
    for (const [name, fp] of byScenario) {
      assert.ok(!seen.has(fp), `${name} and ${seen.get(fp)} share fingerprint ${fp}`);
      seen.set(fp, name);
    }
    assert.equal(seen.size, SCENARIOS.length);
  });

  test("the SIGQUIT dump names the leak and the lock pile", () => {
    for (const o of outcomes.filter((x) => x.scenario.name === "hang")) {
      const r = o.result;
      assert.equal(r.signal?.name, "SIGQUIT");
      const leak = r.findings.find((f) => f.ruleId === "builtin/goroutine-leak");
      assert.ok(leak, `go${o.go}: ${JSON.stringify(r.findings.map((f) => f.ruleId))}`);
      const leakBucket = r.buckets[leak.evidenceBuckets[0]!]!;
      assert.equal(leakBucket.count, 300);
      assert.equal(leakBucket.waitReason, "chan receive");
      assert.equal(leakBucket.ids.length, 300);
      const lock = r.findings.find((f) => f.ruleId === "builtin/lock-contention");
      assert.ok(lock, `go${o.go}`);
      const lockCount = lock.evidenceBuckets.reduce((n, i) => n + r.buckets[i]!.count, 0);
      assert.equal(lockCount, 40);
      assert.equal(r.buckets[0]!.count, 300, "largest bucket first");
    }
  });

  test("crashed goroutine, signal and panic details are parsed", () => {
    for (const o of outcomes) {
      const r = o.result;
      const crashed = r.goroutines.filter((g) => g.crashed);
      if (["deadlock", "hang"].includes(o.scenario.name)) assert.equal(crashed.length, 0);
      else assert.equal(crashed.length, 1, `${o.scenario.name} go${o.go}`);
    }
    for (const o of outcomes.filter((x) => x.scenario.name === "nilderef")) {
      assert.equal(o.result.signal?.name, "SIGSEGV");
      assert.equal(o.result.signal?.addr, 0);
      const top = o.result.goroutines[0]!.frames[0]!;
      assert.equal(top.inlined, true, "Get is inlined: `(...)` and no +0x offset");
      assert.equal(top.offset, undefined);
    }
    for (const o of outcomes.filter((x) => x.scenario.name === "repanic")) {
      assert.equal(o.result.panics.length >= 1, true);
      assert.equal(o.result.panics[0]!.recovered, true);
      assert.equal(o.result.message, "risky: invariant broken");
    }
    for (const o of outcomes.filter((x) => x.scenario.name === "cgo")) {
      // Go >= 1.21 prints `SIGSEGV: ...` + `signal arrived during cgo execution`; older Go a
      // `fatal error: unexpected signal` with the goroutine in runtime.cgocall.
      assert.equal(o.result.signal?.name, "SIGSEGV");
      assert.equal(o.result.signal?.duringCgo, o.stderr.includes("signal arrived during cgo execution"));
    }
    for (const o of outcomes.filter((x) => x.scenario.name === "deadlock")) {
      assert.equal(o.result.buckets[0]!.count, 4);
      assert.equal(o.result.buckets[0]!.waitReason, "chan send");
      assert.ok(o.result.findings.some((f) => f.ruleId.startsWith("builtin/deadlock")));
    }
    for (const o of outcomes.filter((x) => x.scenario.name === "workerpanic")) {
      const g = o.result.goroutines.find((x) => x.crashed)!;
      assert.equal(g.createdBy?.function, `${W}.RunWorkers`);
      if (minor(o.go) >= 21) assert.equal(g.createdByGoroutine, 1);
    }
  });
});
