/**
 * Goroutines from real linux/arm64 cores vs the text the same process printed before dying.
 *
 * The amd64 checks of core.test.ts, on arm64: test/fixtures/go/core-crash (a nil dereference in a
 * goroutine other than main; goroutines parked in many ways) and core-hang (300 leaked goroutines;
 * SIGQUIT) built with GOARCH=arm64 by every installed toolchain (as built, `-ldflags=-s -w`,
 * `objcopy --strip-all`, a stripped PIE that qemu relocates), and core-arm64-spin (goroutines
 * executing Go code when SIGQUIT comes: interrupted on their threads or preempted asynchronously;
 * as built and `-s -w`), run under qemu-user with GOTRACEBACK=crash (see arm64-support.ts for how
 * qemu dumps the guest). Every goroutine the runtime printed must be in
 * the core with the same id, status, frames (inlined included) and `created by`, and attribution
 * of the core must equal attribution of the text. This exercises the aarch64 NT_PRSTATUS layout
 * (x28 = g, x29, x30 = LR, sp, pc), link-register unwinding (leaf frames without a frame, the
 * frame the signal handler faked for sigpanic), frame records (x29 = sp − 8 in every frame) and
 * the arm64 rt_sigframe (siginfo, then ucontext with uc_mcontext at +176).
 *
 * Independent of the frame comparison, the signal frames are checked against the register dumps
 * the runtime printed: with GOTRACEBACK=crash every M prints `SIGQUIT: quit / PC=… m=N` and its
 * interrupted registers; the core's thread of that M must carry a SIGQUIT frame with that pc, sp
 * and code, reached by unwinding from the thread's NT_PRSTATUS registers through sigtramp.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { openElfCore } from "../../src/core/elfcore.js";
import { goMinor } from "../oracle/support.js";
import { availableGoVersions } from "../support/fixtures.js";
import {
  buildArm64Variant,
  HAVE_AARCH64_LOADER,
  makeQemuCore,
  QEMU_SKIP,
  signalRegisterDumps,
} from "./arm64-support.js";
import {
  assertAttributionAgrees,
  assertCoreMatchesDump,
  assertNilDereferenceCrash,
  assertScanMatchesAllgs,
  readCoreFiles,
  VARIANTS,
  type Variant,
} from "./support.js";

const PROGRAMS: Array<{
  prog: string;
  args: string[];
  mode: "crash" | "quit";
  minGoroutines: number;
  variants: readonly Variant[];
}> = [
  { prog: "core-crash", args: [], mode: "crash", minGoroutines: 10, variants: VARIANTS },
  { prog: "core-hang", args: ["-n", "300"], mode: "quit", minGoroutines: 250, variants: VARIANTS },
  // Goroutines executing Go code at the signal: interrupted on their thread (the signal frame's
  // LR and a frameless leaf) or preempted asynchronously (the frame below asyncPreempt).
  { prog: "core-arm64-spin", args: [], mode: "quit", minGoroutines: 8, variants: ["default", "sw"] },
];

const hex = (n: number | undefined): string => (n === undefined ? "-" : `0x${n.toString(16)}`);

describe("linux/arm64 cores (qemu-user): goroutines match the runtime's own dump", {
  skip: QEMU_SKIP,
  timeout: 900_000,
}, () => {
  for (const go of availableGoVersions()) {
    for (const p of PROGRAMS) {
      for (const variant of p.variants) {
        const skip =
          variant === "pie-sw" && !HAVE_AARCH64_LOADER
            ? "no aarch64 dynamic loader in /usr/aarch64-linux-gnu (gcc-aarch64-linux-gnu's libc6-arm64-cross): Go's arm64 PIEs need it"
            : false;
        test(`${p.prog} go${go} ${variant}`, { skip }, async (t) => {
          const run = await makeQemuCore(buildArm64Variant(p.prog, go, variant), p.args, p.mode);
          const t0 = performance.now();
          const r = readCoreFiles(run.core, run.binary);
          const readMs = performance.now() - t0;
          assert.equal(r.arch, "arm64");
          if (variant === "pie-sw") assert.notEqual(r.bias, 0, "the PIE was relocated");
          else assert.equal(r.bias, 0);
          // qemu leaves the program's text (it starts with an ELF header) out of the core: the build
          // IDs cannot be compared there; moduledata still ties the core to the binary (see below).
          assert.ok(["match", "unknown"].includes(r.buildIdCheck), r.buildIdCheck);
          const { compared, frames } = assertCoreMatchesDump(
            r,
            run.stderr,
            variant,
            p.minGoroutines,
            true, // qemu-user: see compareWithDump
          );
          // Frame records agree with pcsp in every parked goroutine. Before 1.21 copystack did not
          // adjust arm64 frame records (runtime/stack.go adjustframe: "TODO what about arm64 frame
          // pointer adjustment?"): a goroutine whose stack grew keeps saved x29s into the old stack.
          if (goMinor(go) >= 21)
            for (const g of r.goroutines)
              if ((g.startedFrom === "sched" || g.startedFrom === "syscall") && g.status !== 2)
                assert.equal(g.fpMismatches, 0, `goroutine ${g.id}: frame pointers disagree with pcsp`);
          assert.ok(r.stats.fpChecked > r.goroutines.length, "frame pointers were checked");

          // Every thread's registers lead somewhere: on a goroutine's stack, or a system stack that
          // unwinds from pc through Go frames.
          for (const th of r.threads) {
            assert.ok(th.m !== undefined, `thread ${th.tid} is mapped to an M`);
            if (th.on !== "goroutine")
              assert.ok(th.frames.length > 0, `thread ${th.tid} (${th.on}): no frames`);
          }

          if (p.mode === "crash") {
            assertNilDereferenceCrash(r);
            assert.equal(
              r.goroutines[0]!.startedFrom,
              "signal",
              "the crashed goroutine resumes from the SIGABRT frame",
            );
            const printed =
              /\[signal SIGSEGV: segmentation violation code=(0x[0-9a-f]+) addr=0x8 pc=(0x[0-9a-f]+)\]/.exec(
                run.stderr,
              );
            assert.ok(printed, "the runtime printed the signal line");
            assert.equal(hex(r.header.signal?.pc), printed[2], "faulting pc (g.sigpc)");
            assert.equal(hex(r.header.signal?.code), printed[1], "si_code (g.sigcode0)");
          } else {
            assert.equal(r.header.signal?.name, "SIGQUIT");
            assert.equal(r.header.kind, "CRASH_KIND_FATAL_SIGNAL");
            // Signal frames vs the register dumps the runtime printed, M by M.
            const dumps = signalRegisterDumps(run.stderr);
            assert.ok(dumps.length >= 2, `${dumps.length} register dumps printed`);
            const seen: string[] = [];
            for (const d of dumps) {
              const th = r.threads.find((x) => x.m?.id === d.m);
              assert.ok(th, `a thread of the core runs m${d.m}`);
              const sq = th.signals.filter((s) => s.name === d.signal);
              const hit = sq.find((s) => s.pc === d.regs.pc && s.sp === d.regs.sp);
              assert.ok(
                hit,
                `m${d.m}: printed ${d.signal} pc=${hex(d.regs.pc)} sp=${hex(d.regs.sp)}; core's signal frames: ${th.signals
                  .map((s) => `${s.name} pc=${hex(s.pc)} sp=${hex(s.sp)}`)
                  .join(", ")}`,
              );
              assert.equal(hit.code, d.code, `m${d.m}: si_code`);
              seen.push(`m${d.m}`);
            }
            t.diagnostic(`signal frames matched the printed registers of ${seen.join(" ")}`);
            if (p.prog === "core-arm64-spin") {
              const spinners = r.goroutines.filter((g) =>
                g.frames.some((f) => f.frames.some((x) => /^main\.(leafSpin|framedSpin)$/.test(x.function))),
              );
              assert.equal(spinners.length, 2, "both spinning goroutines are in the core");
              t.diagnostic(
                spinners
                  .map(
                    (g) =>
                      `goroutine ${g.id} [${g.statusText}] from ${g.startedFrom}: ${g.frames[0]?.frames.at(-1)?.function}`,
                  )
                  .join("; "),
              );
            }
          }
          assert.equal(r.fatalSignal?.name, "SIGABRT");
          const notes = openElfCore(new FileSource(run.core));
          if (notes.siginfo === undefined)
            assert.ok(
              r.warnings.some((w) => w.includes("no NT_SIGINFO")),
              "the fallback to pr_cursig is reported",
            );
          notes.source.close();

          // Attribution: the core and the text name the same crash (the culprits: one group).
          assertAttributionAgrees(run, r, variant, p.mode, { sameGroup: true });
          t.diagnostic(
            `${compared} goroutines, ${frames} frames; qemu run ${run.ms} ms (cached after the first), read ${readMs.toFixed(0)} ms, fp checked ${r.stats.fpChecked}`,
          );
        });
      }
    }
    test(`go${go}: scanning memory finds the same goroutines as runtime.allgs`, async () => {
      const run = await makeQemuCore(buildArm64Variant("core-hang", go, "default"), ["-n", "300"], "quit");
      assertScanMatchesAllgs(run);
    });
    test(`go${go}: a core read with another arm64 binary is refused`, async () => {
      // The build-ID check has nothing to compare in a qemu core; moduledata must catch it.
      const run = await makeQemuCore(buildArm64Variant("core-crash", go, "default"), [], "crash");
      const other = buildArm64Variant("core-hang", go, "default");
      assert.throws(() => readCoreFiles(run.core, other), /not produced by this binary/);
    });
  }
});
