/**
 * Oracle: the Go runtime's own goroutine dump of linux/arm64 programs, run under qemu-user.
 *
 * goroutine-dump.test.ts's check for GOARCH=arm64 builds of test/fixtures/go/dump-oracle, run as
 * `qemu-aarch64-static ./prog` (see test/core/arm64-support.ts) with GOTRACEBACK=system: wait for
 * "ready", send SIGQUIT (qemu delivers it to the guest), parse the dump. For every physical frame
 * (it carries `pc=`) we look up the PC the runtime itself used and require gosymd's frames to be
 * exactly the printed chain: functions through the runtime's display rules, files, lines, inlined
 * flags, and the printed `+0x` offset equal to pc − entry; `created by` trailers where `go tool nm`
 * gives the creator's entry. The load bias comes from the marker address the program prints minus
 * main.marker in `go tool nm` (qemu's /proc/<pid>/maps is the host's, not the guest's).
 *
 * Variants: as built, -ldflags=-s -w (pclntab only), a PIE linked so that qemu relocates it (a
 * stripped PIE is left out: only the symbols give its bias here).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { HAVE_AARCH64_LOADER, PIE_RELOCATED, QEMU_SKIP, qemuArgv } from "../core/arm64-support.js";
import { availableGoVersions, newestGo } from "../support/fixtures.js";
import { CHILD_PATH, runUntilReady } from "../support/ready-run.js";
import { assertDumpCoverage, compareDump, type DumpRun, hex, parseQuitDump } from "./dump-compare.js";
import { buildProgram, describeMismatches, goMinor } from "./support.js";

interface Variant {
  name: string;
  flags: string[];
  pie: boolean;
  stripped: boolean;
}

const VARIANTS: Variant[] = [
  { name: "default", flags: [], pie: false, stripped: false },
  { name: "stripped", flags: ["-ldflags=-s -w"], pie: false, stripped: true },
  // Linked to be relocated: qemu maps a PIE at its link address when it is free.
  { name: "pie", flags: PIE_RELOCATED, pie: true, stripped: false },
];

interface RunResult extends DumpRun {
  ms: number;
}

/**
 * Runs the program under qemu, waits for "ready", sends SIGQUIT and collects the dump. qemu-user
 * 10 (bookworm-backports) now and then ends the emulated program with SIGSEGV instead of the
 * runtime's exit 2 after SIGQUIT (seen once in a CI run: go1.19, stripped, 1 of 12 programs): such
 * a run is the emulator's failure and is run again, at most twice more; any other ending is
 * returned as it is.
 */
async function runDump(bin: string): Promise<RunResult> {
  const [qemu, ...args] = qemuArgv(bin, []);
  for (let attempt = 1; ; attempt++) {
    const run = await runUntilReady(qemu!, args, {
      env: { PATH: CHILD_PATH, GOTRACEBACK: "system" },
      timeoutMs: 60_000,
      onReady: (child) => child.kill("SIGQUIT"),
    });
    if (!run.ready)
      throw new Error(`exited before "ready" (${run.code ?? run.signal}): ${run.stderr.slice(0, 2000)}`);
    if (run.signal === "SIGSEGV" && attempt < 3) continue;
    return run;
  }
}

/** Functions the dump must show (printed form), so a run that compared nothing cannot pass. */
const MUST_SHOW = [
  "main.Box.Get",
  "main.(*Box).Get",
  "main.Recv[...]",
  "main.deferBlock.func1",
  "main.nilDeref",
  "runtime.sigpanic",
  "panic",
  "main.selectWait",
  "sync.(*Mutex).Lock",
  "sync.(*WaitGroup).Wait",
  "time.Sleep",
  "main.pipeRead",
  "example.com/dumporacle/sub.Worker",
  "runtime.gopark",
];

const tools = newestGo() ?? "";

describe("oracle: linux/arm64 goroutine dump under qemu-user (GOTRACEBACK=system, SIGQUIT)", {
  skip: QEMU_SKIP,
}, () => {
  for (const go of availableGoVersions()) {
    const minor = goMinor(go);
    for (const v of VARIANTS) {
      const label = `arm64/go${go}/${v.name}`;
      const skip =
        v.pie && !HAVE_AARCH64_LOADER
          ? "no aarch64 dynamic loader in /usr/aarch64-linux-gnu (libc6-arm64-cross): Go's arm64 PIEs need it"
          : false;
      test(label, { skip }, async (t) => {
        const bin = buildProgram("dump-oracle", `arm64-${v.name}`, {
          go,
          flags: v.flags,
          env: { GOARCH: "arm64" },
        });
        const run = await runDump(bin);
        const { dump, nm } = parseQuitDump(run, tools, bin, v.stripped);
        const marker = /marker=0x([0-9a-f]+)/.exec(run.stdout);
        assert.ok(marker, "program printed its marker address");
        const markerSym = nm?.find((s) => s.name === "main.marker");
        if (nm) assert.ok(markerSym, "main.marker in go tool nm");
        // Non-PIE executables run at their link address; a PIE's bias is marker − nm.
        const bias = markerSym !== undefined ? Number.parseInt(marker[1]!, 16) - markerSym.addr : 0;
        if (!v.pie) assert.equal(bias, 0, "non-PIE executables load at their link address");
        else assert.notEqual(bias, 0, "the PIE was relocated");

        const { mismatches, stats } = compareDump(label, minor, bin, dump, bias, nm);
        t.diagnostic(
          `${stats.chains} physical frames (${stats.inlined} inlined), ${stats.createdBy} created-by, bias ${hex(bias)}, qemu run ${run.ms} ms`,
        );
        assertDumpCoverage(stats, MUST_SHOW, nm !== undefined);
        assert.equal(
          mismatches.length,
          0,
          `${mismatches.length} of ${stats.chains} physical frames (+${stats.createdBy} created-by) disagree with the runtime:\n${describeMismatches(mismatches)}`,
        );
      });
    }
  }
});
