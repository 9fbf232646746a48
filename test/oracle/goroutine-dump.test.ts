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
import { spawn } from "node:child_process";
import { describe, test } from "node:test";
import { openBinaryFile } from "../../src/symtab/index.js";
import { availableGoVersions, newestGo } from "../support/fixtures.js";
import { EXPECTED_FAILURES } from "./expected-failures.js";
import {
  buildProgram,
  chainsOf,
  describeMismatches,
  funcPackagePath,
  type GoroutineDump,
  goMinor,
  goToolNm,
  goVersionModule,
  loadBias,
  type Mismatch,
  type NmSymbol,
  parseGoroutineDump,
  reconcile,
  runtimeLookupPC,
  runtimePrintName,
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

interface RunResult {
  stdout: string;
  stderr: string;
  bias: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Runs the program, waits for "ready", reads its load bias, sends SIGQUIT and collects the dump. */
function runDump(bin: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", GOTRACEBACK: "system" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let bias: number | undefined;
    let failed: Error | undefined;
    const timer = setTimeout(() => {
      failed = new Error(`no dump within 30 s; stdout so far: ${stdout}`);
      child.kill("SIGKILL");
    }, 30_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (bias === undefined && stdout.includes("ready\n")) {
        try {
          bias = loadBias(child.pid!, bin);
          child.kill("SIGQUIT");
        } catch (e) {
          failed = e as Error;
          child.kill("SIGKILL");
        }
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
      if (failed) reject(failed);
      else if (bias === undefined) reject(new Error(`exited before "ready" (${code ?? signal}): ${stderr}`));
      else resolve({ stdout, stderr, bias, code, signal });
    });
  });
}

interface Stats {
  chains: number;
  frames: number;
  inlined: number;
  createdBy: number;
  names: Set<string>;
  states: Set<string>;
}

const hex = (n: number): string => `0x${n.toString(16)}`;

function compareDump(
  label: string,
  minor: number,
  bin: string,
  dump: GoroutineDump,
  bias: number,
  nm: NmSymbol[] | undefined,
  mainModule: { path: string; version: string },
): { mismatches: Mismatch[]; stats: Stats } {
  const gb = openBinaryFile(bin);
  const mismatches: Mismatch[] = [];
  const stats: Stats = {
    chains: 0,
    frames: 0,
    inlined: 0,
    createdBy: 0,
    names: new Set(),
    states: new Set(),
  };
  const entries = new Map<string, number>();
  for (const s of nm ?? []) if (/^[tT]$/.test(s.type) && !entries.has(s.name)) entries.set(s.name, s.addr);
  try {
    for (const g of dump.goroutines) {
      stats.states.add(g.state);
      const { chains, problems } = chainsOf(g);
      for (const p of problems) mismatches.push({ label, func: "(parse)", detail: p });
      for (let i = 0; i < chains.length; i++) {
        const c = chains[i]!;
        const runtimePC = c.physical.pc!;
        const lookup = runtimeLookupPC(g, chains, i, dump.signalPC, minor) - bias;
        const res = gb.resolve(lookup);
        stats.chains++;
        stats.frames += c.frames.length;
        stats.inlined += c.frames.length - 1;
        for (const f of c.frames) stats.names.add(f.func);
        const where = `goroutine ${g.id} [${g.state}] frame #${i} pc=${hex(runtimePC)} lookup=${hex(lookup)}`;
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
          // Package per the runtime's funcpkgpath; module per `go version -m`: ours for main and
          // example.com/dumporacle/..., none for the standard library.
          for (const f of res.frames) {
            const pkg = funcPackagePath(f.function);
            const ours = pkg === "main" || pkg === mainModule.path || pkg.startsWith(`${mainModule.path}/`);
            const mod = ours ? `${mainModule.path}@${mainModule.version}` : "@";
            if (f.packagePath !== pkg || `${f.modulePath}@${f.moduleVersion}` !== mod)
              problems.push(
                `${f.function}: package ${f.packagePath} module ${f.modulePath}@${f.moduleVersion}, want ${pkg} ${mod}`,
              );
          }
        }
        if (problems.length > 0) {
          mismatches.push({
            label,
            func: c.physical.func,
            detail: `${where}: ${problems.join("; ")}\n    want: ${want.join(" | ")}\n    got:  ${got.join(" | ")}`,
          });
        }
      }
      // `created by F` + location: F's entry + offset is the go statement's return address; the
      // runtime prints funcline(F, pc-1): the physical function and the innermost position.
      const cb = g.createdBy;
      const entry = cb ? entries.get(cb.func) : undefined;
      if (cb && entry !== undefined && !cb.func.includes("[")) {
        const pc = entry + (cb.offset ?? 0);
        const lookup = cb.offset ? pc - 1 : pc;
        const res = gb.resolve(lookup);
        const outer = res.frames.at(-1);
        const inner = res.frames[0];
        stats.createdBy++;
        const got = `${outer ? runtimePrintName(outer.function, minor, false) : "?"} ${inner?.file}:${inner?.line}`;
        const want = `${cb.func} ${cb.file}:${cb.line}`;
        if (got !== want || outer?.entry !== entry) {
          mismatches.push({
            label,
            func: cb.func,
            detail: `created-by of goroutine ${g.id} lookup=${hex(lookup)} (nm entry ${hex(entry)}, engine entry ${outer ? hex(outer.entry) : "-"}): want ${want}, got ${got}`,
          });
        }
      }
    }
  } finally {
    gb.close();
  }
  return { mismatches, stats };
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
        assert.equal(run.code, 2, `exit status after SIGQUIT: ${run.code ?? run.signal}`);
        const dump = parseGoroutineDump(run.stderr);
        assert.equal(dump.signal, "SIGQUIT: quit", "dump header");
        assert.deepEqual(dump.unparsed, [], "every line inside goroutine blocks is understood");

        // The load bias: /proc/<pid>/maps, cross-checked with the marker address the program
        // printed and main.marker's link-time address from `go tool nm` when symbols exist.
        const nm = v.stripped ? undefined : goToolNm(tools, bin);
        if (v.stripped) assert.equal(goToolNm(tools, bin), undefined, "stripped binary has no symbols");
        else assert.ok(nm, "go tool nm reads the unstripped binary");
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
        const missing = MUST_SHOW.filter((n) => !stats.names.has(n));
        assert.deepEqual(missing, [], `the dump shows every planted function (states: ${[...stats.states]})`);
        assert.ok(stats.states.has("syscall"), "a goroutine blocked in read(2) shows as [syscall]");
        assert.ok(stats.chains >= 60, `physical frames compared: ${stats.chains}`);
        assert.ok(stats.inlined >= 15, `inlined frames compared: ${stats.inlined}`);
        if (nm) assert.ok(stats.createdBy >= 15, `created-by trailers compared: ${stats.createdBy}`);

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
