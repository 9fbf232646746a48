/**
 * Oracle: the Go runtime's own goroutine dump.
 *
 * test/fixtures/go/dump-oracle parks goroutines in varied places (chan send/recv, select, mutex,
 * WaitGroup, sleep, a raw read(2), deferred calls during a panic and a nil-dereference fault),
 * each reached through chains of inlinable calls. We run it with GOTRACEBACK=system, wait for
 * "ready", send SIGQUIT and parse the dump. For every physical frame (it carries `pc=`) we look up
 * the PC the runtime itself used (runtime/traceback.go) and require gosymd's frames to be exactly
 * the printed chain: same functions in the same order (through the runtime's display rules), same
 * files and lines, inlined flags, and the printed `+0x` offset equal to pc − entry. `created by`
 * trailers are checked too where `go tool nm` gives the creator's entry.
 *
 * Built with every installed Debian toolchain, as default, PIE (the load bias comes from
 * /proc/<pid>/maps, cross-checked against the marker address the program prints), -trimpath,
 * stripped (-s -w: pclntab only), stripped PIE, and linux/386 (run natively).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { availableGoVersions, newestGo } from "../support/fixtures.js";
import { CHILD_PATH, runUntilReady } from "../support/ready-run.js";
import { assertDumpCoverage, compareDump, type DumpRun, hex, parseQuitDump } from "./dump-compare.js";
import { EXPECTED_FAILURES } from "./expected-failures.js";
import {
  buildProgram,
  describeMismatches,
  goMinor,
  goVersionModule,
  loadBias,
  reconcile,
} from "./support.js";

interface Variant {
  name: string;
  flags: string[];
  env?: Record<string, string>;
  pie: boolean;
  stripped: boolean;
}

const VARIANTS: Variant[] = [
  { name: "default", flags: [], pie: false, stripped: false },
  { name: "pie", flags: ["-buildmode=pie"], pie: true, stripped: false },
  { name: "trimpath", flags: ["-trimpath"], pie: false, stripped: false },
  { name: "stripped", flags: ["-ldflags=-s -w"], pie: false, stripped: true },
  { name: "pie-stripped", flags: ["-buildmode=pie", "-ldflags=-s -w"], pie: true, stripped: true },
  // 32-bit: runs natively on amd64 Linux (4-byte pointers in the pclntab and in the dump).
  { name: "linux-386", flags: [], env: { GOARCH: "386" }, pie: false, stripped: false },
];

interface RunResult extends DumpRun {
  bias: number;
}

/** Runs the program, waits for "ready", reads its load bias, sends SIGQUIT and collects the dump. */
async function runDump(bin: string): Promise<RunResult> {
  let bias: number | undefined;
  const run = await runUntilReady(bin, [], {
    env: { PATH: CHILD_PATH, GOTRACEBACK: "system" },
    timeoutMs: 30_000,
    onReady: (child) => {
      bias = loadBias(child.pid!, bin);
      child.kill("SIGQUIT");
    },
  });
  if (run.timedOut) throw new Error(`no dump within 30 s; stdout so far: ${run.stdout}`);
  if (bias === undefined) throw new Error(`exited before "ready" (${run.code ?? run.signal}): ${run.stderr}`);
  return { ...run, bias };
}

/** Functions our program must show (printed form), so a test that compared nothing cannot pass. */
const MUST_SHOW = [
  "main.Box.Get",
  "main.(*Box).Get",
  "main.Box.Get-fm",
  "main.(*Sender).Send",
  "main.viaPointer",
  "main.Recv[...]",
  "main.(*Queue[...]).Pop",
  "main.deferBlock.func1",
  "main.nilDeref",
  "main.nilDeref.func1",
  "runtime.sigpanic",
  "panic",
  "main.explicitPanic",
  "main.selectWait",
  "runtime.selectgo",
  "sync.(*Mutex).Lock",
  "sync.(*WaitGroup).Wait",
  "time.Sleep",
  "main.pipeRead",
  "example.com/dumporacle/sub.Wait",
  "example.com/dumporacle/sub.inner",
  "example.com/dumporacle/sub.First[...]",
  "example.com/dumporacle/sub.(*Gate).Enter",
  "example.com/dumporacle/sub.Nap",
  "example.com/dumporacle/sub.ReadFD",
  "example.com/dumporacle/sub.Worker",
  "runtime.gopark",
];

const versions = availableGoVersions();
// go tool nm of the newest toolchain reads every older binary (see addr2line-matrix.test.ts).
const tools = newestGo() ?? "";

describe("oracle: Go runtime goroutine dump (GOTRACEBACK=system, SIGQUIT)", () => {
  test("at least one Go toolchain is installed", () => {
    assert.ok(versions.length > 0, "no /usr/lib/go-1.x toolchain found");
  });
  for (const go of versions) {
    const minor = goMinor(go);
    for (const v of VARIANTS) {
      const label = `go${go}/${v.name}`;
      test(label, async (t) => {
        const bin = buildProgram("dump-oracle", v.name, { go, flags: v.flags, env: v.env ?? {} });
        const run = await runDump(bin);
        const { dump, nm } = parseQuitDump(run, tools, bin, v.stripped);

        // The load bias: /proc/<pid>/maps, cross-checked with the marker address the program
        // printed and main.marker's link-time address from `go tool nm` when symbols exist.
        if (!v.pie) assert.equal(run.bias, 0, "non-PIE executables load at their link address");
        else assert.notEqual(run.bias, 0, "PIE executables are relocated");
        const marker = /marker=0x([0-9a-f]+)/.exec(run.stdout);
        assert.ok(marker, "program printed its marker address");
        const markerSym = nm?.find((s) => s.name === "main.marker");
        if (nm) {
          assert.ok(markerSym, "main.marker in go tool nm");
          assert.equal(
            Number.parseInt(marker[1]!, 16) - run.bias,
            markerSym.addr,
            "bias from maps = marker − nm",
          );
        }

        const mainModule = goVersionModule(tools, bin);
        assert.equal(mainModule.path, "example.com/dumporacle", "go version -m: main module");
        const { mismatches, stats } = compareDump(label, minor, bin, dump, run.bias, nm, mainModule);
        t.diagnostic(
          `${stats.chains} physical frames (${stats.inlined} inlined frames), ${stats.createdBy} created-by, bias ${hex(run.bias)}`,
        );
        assertDumpCoverage(stats, MUST_SHOW, nm !== undefined);
        assert.ok(stats.states.has("syscall"), "a goroutine blocked in read(2) shows as [syscall]");

        const { unexpected, stale, expectedHits } = reconcile("dump", label, mismatches, EXPECTED_FAILURES);
        assert.deepEqual(
          stale.map((e) => `${e.label} ${e.func}`),
          [],
          "expected failures that now pass: remove them from test/oracle/expected-failures.ts",
        );
        assert.equal(
          unexpected.length,
          0,
          `${unexpected.length} of ${stats.chains} physical frames (+${stats.createdBy} created-by) disagree with the runtime ` +
            `(${expectedHits} expected):\n${describeMismatches(unexpected)}`,
        );
      });
    }
  }
});
