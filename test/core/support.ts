/**
 * Core dumps made at test time: our fixture programs (test/fixtures/go/core-*) built with each
 * installed toolchain (as built, `-ldflags=-s -w`, and `objcopy --strip-all`), run with
 * GOTRACEBACK=crash and `ulimit -c unlimited` in a directory of their own (core_pattern is
 * "core"), so the same process prints every goroutine on stderr and then dumps core: the text is
 * the oracle for what we read from the core. Results are cached in .cache/fixtures/cores, keyed by
 * the binary's hash and the arguments.
 *
 * The same machinery serves the linux/arm64 cores of arm64-support.ts (built with GOARCH=arm64,
 * run under qemu-user): what differs between the two is a `BuildTarget` and a `CoreMaker`. The
 * checks both core.test.ts and arm64.test.ts make of a core (its goroutines vs the runtime's text
 * dump, scan vs allgs, attribution of the core vs attribution of the text) are here too.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { FileSource } from "../../src/bytes/source.js";
import { attributeCore, coreGoroutines } from "../../src/core/attribute.js";
import { type CoreResult, readCore, toCrashGoroutines } from "../../src/core/read.js";
import { attributeGoroutines, attributeText } from "../../src/crash/attribute.js";
import { buildProgram, parseGoroutineDump } from "../oracle/support.js";
import { CACHE } from "../support/fixtures.js";
import { CHILD_PATH, runUntilReady } from "../support/ready-run.js";

export type Variant = "default" | "sw" | "objcopy" | "pie-sw";
export const VARIANTS: Variant[] = ["default", "sw", "objcopy", "pie-sw"];

// ---------------------------------------------------------------------------------------------
// Building

/** What a core fixture is built for: the host (amd64), or another GOARCH. */
export interface BuildTarget {
  /** Prefix of the build's name ("" on the host, "arm64-"). */
  prefix: string;
  /** Environment of `go build` (GOARCH). */
  env?: Record<string, string>;
  /** `-ldflags` of the stripped PIE. */
  pieLdflags: string;
  /** objcopy that knows the target's ELF. */
  objcopy: string;
}

export const HOST_TARGET: BuildTarget = { prefix: "", pieLdflags: "-s -w", objcopy: "objcopy" };

/**
 * Builds a core fixture program in one variant: as built, `-ldflags=-s -w`, the default build
 * stripped with `objcopy --strip-all`, or a stripped PIE.
 */
export function buildVariant(
  prog: string,
  go: string,
  variant: Variant,
  target: BuildTarget = HOST_TARGET,
): string {
  const env = target.env !== undefined ? { env: target.env } : {};
  const name = `${target.prefix}${variant}`;
  if (variant === "sw") return buildProgram(prog, name, { go, flags: ["-ldflags=-s -w"], ...env });
  if (variant === "pie-sw")
    return buildProgram(prog, name, {
      go,
      flags: ["-buildmode=pie", `-ldflags=${target.pieLdflags}`],
      ...env,
    });
  const bin = buildProgram(prog, `${target.prefix}default`, { go, ...env });
  if (variant === "default") return bin;
  const out = `${bin}-objcopy-stripped`;
  if (!existsSync(out)) {
    const tmp = `${out}.tmp-${process.pid}`;
    execFileSync(target.objcopy, ["--strip-all", bin, tmp]);
    renameSync(tmp, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Running to a core

export interface CoreRun {
  /** The core file. */
  core: string;
  /** A copy of the binary that ran. */
  binary: string;
  stderr: string;
  stdout: string;
  /** Milliseconds from spawn to exit (cached runs: the first run's; 0 when not recorded). */
  ms: number;
}

/** How a program is run to a core: natively, or under an emulator. */
export interface CoreMaker {
  /** Prefix of the cache directory's name. */
  prefix: string;
  /** The command line that runs `bin args`. */
  argv(bin: string, args: string[]): string[];
  /** SIGKILL after this long. */
  timeoutMs: number;
  /** With `quit`: milliseconds between "ready" and SIGQUIT (0: at once). */
  quitDelayMs: number;
  /** What was expected when the process did not abort: "expected <this>, got <exit>". */
  expected: string;
  /** Leaves the core the run wrote in `dir` as `dir/core`; throws when there is none. */
  collect(dir: string, stderr: string): void;
}

/** Native runs: the kernel writes "core" (or "core.<pid>") in the working directory. */
export const NATIVE_CORES: CoreMaker = {
  prefix: "",
  argv: (bin, args) => [bin, ...args],
  timeoutMs: 60_000,
  // "ready" can reach us while main is still inside the write syscall that printed it; give
  // it time to park, or the dump (printed first) and the core (written after) disagree.
  quitDelayMs: 300,
  expected: "an abort with a core",
  collect(dir, stderr) {
    const coreName = readdirSync(dir).find((f) => f === "core" || f.startsWith("core."));
    if (coreName === undefined) {
      throw new Error(
        `no core file written in ${dir} (core_pattern must be "core"); stderr: ${stderr.slice(0, 2000)}`,
      );
    }
    if (coreName !== "core") renameSync(join(dir, coreName), join(dir, "core"));
  },
};

function fileHash(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 16);
}

/**
 * Runs `binary args` with GOTRACEBACK=crash; with `quit`, waits for "ready" on stdout and sends
 * SIGQUIT. Returns the core and the text the process printed. Cached.
 */
export async function makeCore(
  binary: string,
  args: string[],
  mode: "crash" | "quit",
  how: CoreMaker = NATIVE_CORES,
): Promise<CoreRun> {
  const key = createHash("sha256")
    .update(fileHash(binary))
    .update(JSON.stringify({ args, mode, v: 1 }))
    .digest("hex")
    .slice(0, 16);
  const dir = join(CACHE, "cores", `${how.prefix}${key}`);
  const done = join(dir, "done");
  const result = (ms: number): CoreRun => ({
    core: join(dir, "core"),
    binary: join(dir, "bin"),
    stderr: readFileSync(join(dir, "stderr.txt"), "utf8"),
    stdout: readFileSync(join(dir, "stdout.txt"), "utf8"),
    ms,
  });
  if (existsSync(done)) return result(Number(readFileSync(done, "utf8")) || 0);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // The copy is named after the program: qemu names the core after it.
  copyFileSync(binary, join(dir, "bin"));
  // A run that aborted but left no core is run once more: seen once in a clean-clone CI run
  // (a SIGQUIT'd go1.23 program, exit SIGABRT, no file); any other ending is reported at once.
  for (let attempt = 1; ; attempt++) {
    const run = await runOnce(dir, args, mode, how);
    try {
      how.collect(dir, run.stderr);
    } catch (e) {
      if (attempt < 2) continue;
      throw e;
    }
    writeFileSync(join(dir, "stderr.txt"), run.stderr);
    writeFileSync(join(dir, "stdout.txt"), run.stdout);
    writeFileSync(done, String(run.ms));
    return result(run.ms);
  }
}

/** One run of `dir/bin args` to an abort (see makeCore); throws when it ended otherwise. */
async function runOnce(
  dir: string,
  args: string[],
  mode: "crash" | "quit",
  how: CoreMaker,
): Promise<Awaited<ReturnType<typeof runUntilReady>>> {
  const run = await runUntilReady(
    "bash",
    ["-c", 'ulimit -c unlimited; exec "$0" "$@"', ...how.argv(join(dir, "bin"), args)],
    {
      cwd: dir,
      env: { PATH: CHILD_PATH, GOTRACEBACK: "crash" },
      timeoutMs: how.timeoutMs,
      ...(mode === "quit"
        ? {
            onReady: (child) => {
              if (how.quitDelayMs > 0) setTimeout(() => child.kill("SIGQUIT"), how.quitDelayMs);
              else child.kill("SIGQUIT");
            },
          }
        : {}),
    },
  );
  if (run.signal !== "SIGABRT" && run.code !== 134) {
    throw new Error(
      `expected ${how.expected}, got ${run.code ?? run.signal}; stderr: ${run.stderr.slice(0, 2000)}`,
    );
  }
  return run;
}

// ---------------------------------------------------------------------------------------------
// Checking a core

/** readCore on two files (`scan`: find goroutines by scanning memory even when allgs is there). */
export function readCoreFiles(core: string, bin: string, discovery?: "scan"): CoreResult {
  const c = new FileSource(core);
  const b = new FileSource(bin);
  try {
    return readCore(c, b, discovery ? { discovery } : {});
  } finally {
    c.close();
    b.close();
  }
}

/**
 * Differences between the goroutines of a core and the runtime's text dump (empty: they agree):
 * for every goroutine the text printed: same id, status, frames (function as printed, file, line)
 * and `created by`; the running goroutine may carry extra runtime frames on top; no goroutine in
 * the core that the text did not print.
 */
export function compareWithDump(
  r: CoreResult,
  text: string,
  /**
   * Whether the process could run on between its dump and its core. Under qemu-user the other
   * threads keep going while the dumping one prints (seen in CI: goroutines parked in semacquire
   * released and gone before the core), so every goroutine but the crashed one may have moved.
   */
  unfrozen = false,
): { problems: string[]; compared: number; frames: number } {
  const dump = parseGoroutineDump(text);
  // Register dumps follow the blocks traced from a signal context (crash mode).
  const problems: string[] = dump.unparsed
    .filter((u) => !/: (?:[a-z0-9]+\s+0x[0-9a-f]+|-----)$/.test(u))
    .map((u) => `unparsed text: ${u}`);
  const core = new Map(toCrashGoroutines(r).map((g) => [g.id, g]));
  const raw = new Map(r.goroutines.map((g) => [g.id, g]));
  // A goroutine may be printed twice (once as "running on other thread", once by its own M).
  const byId = new Map<number, (typeof dump.goroutines)[number]>();
  for (const g of dump.goroutines) {
    if (g.id === 0) continue;
    const prev = byId.get(g.id);
    if (prev === undefined || (prev.frames.length === 0 && g.frames.length > 0)) byId.set(g.id, g);
  }
  let compared = 0;
  let frames = 0;
  for (const [id, tg] of byId) {
    const cg = core.get(id);
    const rg = raw.get(id);
    // A goroutine that was not parked when the text was printed (running, runnable, in a
    // syscall) may have moved on before the core was written: freezetheworld stops the others
    // only as far as it can, and under qemu-user on a loaded machine the two moments are far
    // apart (seen in CI: bgsweep run on from one line to the next, main [running] → [runnable],
    // a running goroutine gone). Such goroutines are compared when they still agree and are not
    // counted otherwise; parked goroutines and the crashed one must agree exactly.
    const movable = rg?.crashed !== true && (unfrozen || /^(running|runnable|syscall)/.test(tg.state));
    if (cg === undefined || rg === undefined) {
      if (!movable) problems.push(`goroutine ${id} [${tg.state}] is in the text but not in the core`);
      continue;
    }
    const header = [
      `${rg.statusText}${rg.scan ? " (scan)" : ""}`,
      ...(rg.lockedToThread ? ["locked to thread"] : []),
    ].join(", ");
    const textHeader = tg.state.replace(/, \d+ minutes?/, "");
    if (header !== textHeader && movable) continue;
    if (header !== textHeader)
      problems.push(`goroutine ${id}: status [${header}] in the core, [${textHeader}] in the text`);
    if (tg.notes.some((n) => n.includes("stack unavailable"))) {
      compared++;
      continue;
    }
    const want = tg.frames.map((f) => `${f.func} ${f.file}:${f.line}`);
    const got = cg.frames.map((f) => `${f.function} ${f.file}:${f.line}`);
    const running = rg.status === 2 || rg.crashed;
    const ok = running
      ? got.slice(got.length - want.length).join("\n") === want.join("\n")
      : got.join("\n") === want.join("\n");
    if (!ok && movable) continue;
    compared++;
    if (!ok || want.length === 0) {
      problems.push(
        `goroutine ${id} [${tg.state}] (from ${rg.startedFrom}, stop ${rg.stop}: ${rg.stopDetail}) frames differ:\n    text: ${want.join(" | ")}\n    core: ${got.join(" | ")}`,
      );
    }
    frames += want.length;
    const tc = tg.createdBy;
    const cc = cg.createdBy;
    if ((tc === undefined) !== (cc === undefined))
      problems.push(`goroutine ${id}: created-by present in one only`);
    else if (tc !== undefined && cc !== undefined) {
      const a = `${tc.func} ${tc.file}:${tc.line} +${tc.offset}`;
      const b = `${cc.function} ${cc.file}:${cc.line} +${cc.offset}`;
      if (a !== b) problems.push(`goroutine ${id}: created by ${b} in the core, ${a} in the text`);
    }
  }
  for (const id of core.keys())
    if (!byId.has(id)) problems.push(`goroutine ${id} is in the core but not in the text`);
  return { problems, compared, frames };
}

/**
 * The goroutines of a core read with the as-built binary (found through runtime.allgs) or a
 * stripped one (by scanning memory) agree with the text the process printed (compareWithDump),
 * and at least `minGoroutines` of them were compared, with more than two frames each on average.
 */
export function assertCoreMatchesDump(
  r: CoreResult,
  text: string,
  variant: Variant,
  minGoroutines: number,
  unfrozen = false,
): { compared: number; frames: number } {
  assert.equal(r.discovery, variant === "default" ? "allgs" : "scan");
  assert.ok(r.goroutines.length >= minGoroutines, `${r.goroutines.length} goroutines`);
  const { problems, compared, frames } = compareWithDump(r, text, unfrozen);
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.ok(
    compared >= minGoroutines && frames > compared * 2,
    `compared ${compared} goroutines, ${frames} frames`,
  );
  return { compared, frames };
}

/** Scanning memory finds the same goroutines (id, address, status, pcs) as runtime.allgs. */
export function assertScanMatchesAllgs(run: CoreRun): void {
  const a = readCoreFiles(run.core, run.binary);
  const s = readCoreFiles(run.core, run.binary, "scan");
  assert.equal(a.discovery, "allgs");
  assert.equal(s.discovery, "scan");
  const key = (r: CoreResult) =>
    r.goroutines
      .map((g) => `${g.id} ${g.addr} ${g.statusText} ${g.frames.map((f) => f.pc).join(",")}`)
      .sort();
  assert.deepEqual(key(s), key(a));
}

/** What the core-crash fixture's core must say: main.handle's nil *Body dereference. */
export function assertNilDereferenceCrash(r: CoreResult): void {
  const crashed = r.goroutines[0]!;
  assert.equal(crashed.crashed, true);
  assert.ok(crashed.frames.some((f) => f.frames.some((x) => x.function === "main.handle")));
  assert.deepEqual(
    r.header.panics?.map((x) => x.message),
    ["runtime error: invalid memory address or nil pointer dereference"],
  );
  assert.equal(r.header.signal?.name, "SIGSEGV");
  assert.equal(r.header.signal?.addr, 8, "fault address of the nil *Body field");
}

/**
 * Attribution: the core and the text name the same crash (category, kind, message, culprit,
 * fingerprint), the category the program's mode calls for. attributeCore end to end for the
 * as-built binary; the same pipeline on the result already read for the others (reading a core
 * twice only costs test time). With `sameGroup`, the culprits may be different goroutines as long
 * as the text prints the same frames for both (one group).
 */
export function assertAttributionAgrees(
  run: CoreRun,
  r: CoreResult,
  variant: Variant,
  mode: "crash" | "quit",
  opts: { sameGroup?: boolean } = {},
): void {
  const fromCore =
    variant === "default"
      ? attributeCore(run.core, run.binary, { useBuildInfo: false })
      : attributeGoroutines(coreGoroutines(r), r.header);
  const fromText = attributeText(run.stderr);
  assert.equal(fromCore.category, fromText.category);
  assert.equal(fromCore.kind, fromText.kind);
  assert.equal(fromCore.message, fromText.message);
  if (opts.sameGroup) {
    // A group's representative is its first goroutine in input order: the text lists
    // goroutines in allgs order, the core by id. Any member of the same group will do: same
    // frames in the text (the goroutine ids may differ, nothing else).
    const { goroutineId: coreG, ...coreCulprit } = fromCore.culprit ?? {};
    const { goroutineId: textG, ...textCulprit } = fromText.culprit ?? {};
    assert.deepEqual(
      { ...coreCulprit, reason: "" },
      { ...textCulprit, reason: "" },
      `culprit: ${fromCore.culprit?.reason} / ${fromText.culprit?.reason}`,
    );
    if (coreG !== textG) {
      const printed = parseGoroutineDump(run.stderr).goroutines;
      const stack = (id: number | undefined) =>
        printed
          .find((g) => g.id === id)
          ?.frames.map((f) => `${f.func} ${f.file}:${f.line}`)
          .join(" | ");
      assert.ok(stack(coreG) !== undefined, `culprit goroutine ${coreG} is in the text`);
      assert.equal(stack(coreG), stack(textG), `culprit goroutines ${coreG} / ${textG}: one group`);
    }
  } else {
    assert.deepEqual(
      { ...fromCore.culprit, reason: "" },
      { ...fromText.culprit, reason: "" },
      `culprit: ${fromCore.culprit?.reason} / ${fromText.culprit?.reason}`,
    );
  }
  assert.equal(
    fromCore.fingerprint,
    fromText.fingerprint,
    `${fromCore.fingerprintInputs} / ${fromText.fingerprintInputs}`,
  );
  assert.equal(
    fromCore.category,
    mode === "crash" ? "CRASH_CATEGORY_NIL_DEREFERENCE" : "CRASH_CATEGORY_GOROUTINE_DUMP",
  );
}
