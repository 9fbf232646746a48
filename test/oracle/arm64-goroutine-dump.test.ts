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
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { openBinaryFile } from "../../src/symtab/index.js";
import {
  AARCH64_SYSROOT,
  HAVE_AARCH64_LOADER,
  PIE_RELOCATED,
  QEMU,
  QEMU_SKIP,
} from "../core/arm64-support.js";
import { availableGoVersions, newestGo } from "../support/fixtures.js";
import {
  buildProgram,
  chainsOf,
  describeMismatches,
  type GoroutineDump,
  goMinor,
  goToolNm,
  type Mismatch,
  type NmSymbol,
  parseGoroutineDump,
  runtimeLookupPC,
  runtimePrintName,
} from "./support.js";

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

interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/** Runs the program under qemu, waits for "ready", sends SIGQUIT and collects the dump. */
function runDump(bin: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(QEMU!, [...(HAVE_AARCH64_LOADER ? ["-L", AARCH64_SYSROOT] : []), bin], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GOTRACEBACK: "system" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let sent = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (!sent && stdout.includes("ready\n")) {
        sent = true;
        child.kill("SIGQUIT");
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (!sent) reject(new Error(`exited before "ready" (${code ?? signal}): ${stderr.slice(0, 2000)}`));
      else resolve({ stdout, stderr, code, signal, ms: Date.now() - t0 });
    });
  });
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function compareDump(
  label: string,
  minor: number,
  bin: string,
  dump: GoroutineDump,
  bias: number,
  nm: NmSymbol[] | undefined,
): { mismatches: Mismatch[]; chains: number; inlined: number; createdBy: number; names: Set<string> } {
  const gb = openBinaryFile(bin);
  const mismatches: Mismatch[] = [];
  let chainsSeen = 0;
  let inlined = 0;
  let createdBy = 0;
  const names = new Set<string>();
  const entries = new Map<string, number>();
  for (const s of nm ?? []) if (/^[tT]$/.test(s.type) && !entries.has(s.name)) entries.set(s.name, s.addr);
  try {
    for (const g of dump.goroutines) {
      const { chains, problems } = chainsOf(g);
      for (const p of problems) mismatches.push({ label, func: "(parse)", detail: p });
      for (let i = 0; i < chains.length; i++) {
        const c = chains[i]!;
        const runtimePC = c.physical.pc!;
        const lookup = runtimeLookupPC(g, chains, i, dump.signalPC, minor) - bias;
        const res = gb.resolve(lookup);
        chainsSeen++;
        inlined += c.frames.length - 1;
        for (const f of c.frames) names.add(f.func);
        const want = c.frames.map((f) => `${f.func} ${f.file}:${f.line}`);
        const got = res.frames.map(
          (f, k) => `${runtimePrintName(f.function, minor, k < res.frames.length - 1)} ${f.file}:${f.line}`,
        );
        const problems: string[] = [];
        if (res.frames.length === 0) problems.push(`unresolved (${res.reason}: ${res.detail ?? ""})`);
        else {
          if (want.join(" | ") !== got.join(" | ")) problems.push("frames differ");
          res.frames.forEach((f, k) => {
            if (f.inlined !== k < res.frames.length - 1) problems.push(`frame ${k} inlined=${f.inlined}`);
          });
          const outer = res.frames.at(-1)!;
          const offset = runtimePC - bias - outer.entry;
          if (offset !== (c.physical.offset ?? 0))
            problems.push(
              `entry ${hex(outer.entry)}: pc-entry=${hex(offset)}, printed +${hex(c.physical.offset ?? 0)}`,
            );
        }
        if (problems.length > 0) {
          mismatches.push({
            label,
            func: c.physical.func,
            detail: `goroutine ${g.id} [${g.state}] frame #${i} pc=${hex(runtimePC)} lookup=${hex(lookup)}: ${problems.join("; ")}\n    want: ${want.join(" | ")}\n    got:  ${got.join(" | ")}`,
          });
        }
      }
      const cb = g.createdBy;
      const entry = cb ? entries.get(cb.func) : undefined;
      if (cb && entry !== undefined && !cb.func.includes("[")) {
        const pc = entry + (cb.offset ?? 0);
        const res = gb.resolve(cb.offset ? pc - 1 : pc);
        const outer = res.frames.at(-1);
        const inner = res.frames[0];
        createdBy++;
        const got = `${outer ? runtimePrintName(outer.function, minor, false) : "?"} ${inner?.file}:${inner?.line}`;
        const want = `${cb.func} ${cb.file}:${cb.line}`;
        if (got !== want || outer?.entry !== entry)
          mismatches.push({
            label,
            func: cb.func,
            detail: `created-by of goroutine ${g.id}: want ${want}, got ${got}`,
          });
      }
    }
  } finally {
    gb.close();
  }
  return { mismatches, chains: chainsSeen, inlined, createdBy, names };
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
        assert.equal(run.code, 2, `exit status after SIGQUIT: ${run.code ?? run.signal}`);
        const dump = parseGoroutineDump(run.stderr);
        assert.equal(dump.signal, "SIGQUIT: quit", "dump header");
        assert.deepEqual(dump.unparsed, [], "every line inside goroutine blocks is understood");

        const nm = v.stripped ? undefined : goToolNm(tools, bin);
        if (v.stripped) assert.equal(goToolNm(tools, bin), undefined, "stripped binary has no symbols");
        else assert.ok(nm, "go tool nm reads the unstripped binary");
        const marker = /marker=0x([0-9a-f]+)/.exec(run.stdout);
        assert.ok(marker, "program printed its marker address");
        const markerSym = nm?.find((s) => s.name === "main.marker");
        if (nm) assert.ok(markerSym, "main.marker in go tool nm");
        // Non-PIE executables run at their link address; a PIE's bias is marker − nm.
        const bias = markerSym !== undefined ? Number.parseInt(marker[1]!, 16) - markerSym.addr : 0;
        if (!v.pie) assert.equal(bias, 0, "non-PIE executables load at their link address");
        else assert.notEqual(bias, 0, "the PIE was relocated");

        const { mismatches, chains, inlined, createdBy, names } = compareDump(
          label,
          minor,
          bin,
          dump,
          bias,
          nm,
        );
        t.diagnostic(
          `${chains} physical frames (${inlined} inlined), ${createdBy} created-by, bias ${hex(bias)}, qemu run ${run.ms} ms`,
        );
        const missing = MUST_SHOW.filter((n) => !names.has(n));
        assert.deepEqual(missing, [], "the dump shows every planted function");
        assert.ok(chains >= 60, `physical frames compared: ${chains}`);
        assert.ok(inlined >= 15, `inlined frames compared: ${inlined}`);
        if (nm) assert.ok(createdBy >= 15, `created-by trailers compared: ${createdBy}`);
        assert.equal(
          mismatches.length,
          0,
          `${mismatches.length} of ${chains} physical frames (+${createdBy} created-by) disagree with the runtime:\n${describeMismatches(mismatches)}`,
        );
      });
    }
  }
});
