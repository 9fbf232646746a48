/**
 * Goroutines from real cores vs the text the same process printed before dying.
 *
 * test/fixtures/go/core-crash (a nil dereference in a goroutine other than main, with goroutines
 * parked in chan receive, select, Mutex, WaitGroup, sleep) and core-hang (hundreds of leaked
 * goroutines blocked in many ways, a raw syscall, a locked thread; sent SIGQUIT) run with
 * GOTRACEBACK=crash: the runtime prints every goroutine, then aborts and the kernel dumps core.
 * Built with every installed toolchain, as built (symbols: runtime.allgs), `-ldflags=-s -w` and
 * `objcopy --strip-all` (no symbols: goroutines found by scanning memory). For every goroutine the
 * text printed we require the same id in the core, the same status text, the same frames
 * (function as printed, file, line — inlined frames included) and the same `created by`; the
 * goroutine that was running may carry extra runtime frames on top (the crash path itself). No
 * goroutine may appear in the core that the text did not print. Attribution of the core must name
 * the same category, culprit and fingerprint as attribution of the text.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { availableGoVersions } from "../support/fixtures.js";
import {
  assertAttributionAgrees,
  assertCoreMatchesDump,
  assertNilDereferenceCrash,
  assertScanMatchesAllgs,
  buildVariant,
  makeCore,
  readCoreFiles,
  VARIANTS,
} from "./support.js";

const PROGRAMS = [
  { prog: "core-crash", args: [] as string[], mode: "crash" as const, minGoroutines: 10 },
  { prog: "core-hang", args: ["-n", "300"], mode: "quit" as const, minGoroutines: 250 },
];

describe("goroutines from cores match the runtime's own dump", { timeout: 600_000 }, () => {
  for (const go of availableGoVersions()) {
    for (const p of PROGRAMS) {
      for (const variant of VARIANTS) {
        test(`${p.prog} go${go} ${variant}`, async () => {
          const run = await makeCore(buildVariant(p.prog, go, variant), p.args, p.mode);
          const r = readCoreFiles(run.core, run.binary);
          assert.equal(r.buildIdCheck, "match");
          assertCoreMatchesDump(r, run.stderr, variant, p.minGoroutines);
          // Frame pointers agree with pcsp in every parked goroutine (a trap context may catch a
          // function before its prologue saved BP; a running goroutine's sched is a systemstack
          // snapshot whose BP some releases do not save).
          // The frames themselves were checked against the runtime's dump above; the frame
          // pointers are a cross-check of the pcsp walk. A goroutine caught mid-prologue by an
          // asynchronous preemption can legitimately disagree (seen once in ~300 with go1.21), so
          // at most 1% of parked goroutines may; a broken walk disagrees nearly everywhere.
          const parked = r.goroutines.filter(
            (g) => (g.startedFrom === "sched" || g.startedFrom === "syscall") && g.status !== 2,
          );
          const disagree = parked.filter((g) => g.fpMismatches > 0);
          assert.ok(
            disagree.length <= Math.floor(parked.length / 100),
            `frame pointers disagree with pcsp in goroutines ${disagree.map((g) => g.id).join(", ")} of ${parked.length}`,
          );
          assert.ok(r.stats.fpChecked > r.goroutines.length, "frame pointers were checked");

          if (p.mode === "crash") {
            assertNilDereferenceCrash(r);
          } else {
            assert.equal(r.header.signal?.name, "SIGQUIT");
            assert.equal(r.header.kind, "CRASH_KIND_FATAL_SIGNAL");
          }
          assert.equal(r.fatalSignal?.name, "SIGABRT");

          // Attribution: the core and the text name the same crash.
          assertAttributionAgrees(run, r, variant, p.mode);
        });
      }
    }
    test(`go${go}: scanning memory finds the same goroutines as runtime.allgs`, async () => {
      const run = await makeCore(buildVariant("core-hang", go, "default"), ["-n", "300"], "quit");
      assertScanMatchesAllgs(run);
    });
  }
});
