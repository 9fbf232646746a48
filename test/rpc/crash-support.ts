/**
 * Real crash inputs for the Attribute RPC tests: the crash-corpus program (test/crash/support.ts,
 * cached builds) run with GOTRACEBACK=system, so the runtime prints `pc=` for every physical frame;
 * those PCs, plus `created by` PCs from `go tool nm` entries + the printed offsets, are what a crash
 * reporter would send as raw PCs. The runtime's own text is the oracle for what they symbolize to.
 */
import { execFileSync, spawnSync } from "node:child_process";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { parseCrashText } from "../../src/crash/parse.js";
import type { ParsedCrash } from "../../src/crash/types.js";
import type { RawCrashSchema } from "../../src/gen/gosymd/v1/attribute_pb.js";
import { buildCorpus } from "../crash/support.js";
import { goBin, newestGo } from "../support/fixtures.js";

export const GO = newestGo();

/** The crash-corpus binary of the newest toolchain (cached by test/crash/support.ts). */
export function corpusBinary(): Promise<string> {
  return buildCorpus({ go: GO!, race: false, shift: false });
}

/** Runs one scenario with the given GOTRACEBACK level; returns what it printed on stderr. */
export function crashText(bin: string, scenario: string, traceback = "system"): string {
  const env: NodeJS.ProcessEnv = { ...process.env, GOTRACEBACK: traceback };
  delete env.GODEBUG;
  const r = spawnSync(bin, [scenario], { env, encoding: "utf8", timeout: 20_000, maxBuffer: 64 << 20 });
  if (!r.stderr.includes("goroutine ")) throw new Error(`${scenario}: no goroutines printed: ${r.stderr}`);
  return r.stderr;
}

/** Function entries from `go tool nm` (the toolchain's view, not ours). */
export function nmEntries(bin: string): Map<string, number> {
  const out = execFileSync(goBin(GO!), ["tool", "nm", bin], { encoding: "utf8", maxBuffer: 64 << 20 });
  const m = new Map<string, number>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && (f[1] === "T" || f[1] === "t"))
      m.set(f.slice(2).join(" "), Number.parseInt(f[0]!, 16));
  }
  return m;
}

/** The first crash of a text, parsed (the runtime printed it; its frames are the oracle). */
export function firstCrash(text: string): ParsedCrash {
  const c = parseCrashText(text).crashes[0];
  if (!c) throw new Error("no crash in the text");
  return c;
}

/** What a crash reporter would send for the text's crash: the printed `pc=` values. */
export function rawFromText(
  crash: ParsedCrash,
  nm: Map<string, number>,
): MessageInitShape<typeof RawCrashSchema> {
  const h = crash.header;
  return {
    panics: h.panics.map((p) => ({ message: p.message, recovered: p.recovered, repanicked: p.repanicked })),
    fatalErrors: h.fatalErrors,
    runtimeLines: h.runtimeLines,
    ...(h.signal
      ? {
          signal: {
            name: h.signal.name,
            description: h.signal.description,
            duringCgo: h.signal.duringCgo,
            ...(h.signal.addr !== undefined ? { addr: BigInt(h.signal.addr) } : {}),
          },
        }
      : {}),
    goroutines: crash.goroutines.map((g) => {
      let createdByPc = 0n;
      if (g.createdBy) {
        const entry = nm.get(g.createdBy.function);
        if (entry === undefined || g.createdBy.offset === undefined)
          throw new Error(`no entry/offset for created-by ${g.createdBy.function}`);
        createdByPc = BigInt(entry + g.createdBy.offset);
      }
      const pcs = g.frames.filter((f) => !f.inlined).map((f) => f.pc);
      if (pcs.some((p) => p === undefined))
        throw new Error(`goroutine ${g.id}: a physical frame without pc=`);
      return {
        id: BigInt(g.id),
        state: g.state,
        waitReason: g.waitReason,
        waitMinutes: g.waitMinutes,
        lockedToThread: g.lockedToThread,
        crashed: false,
        pcs: pcs.map((p) => BigInt(p!)),
        createdByPc,
        createdByGoroutine: BigInt(g.createdByGoroutine ?? 0),
        labels: [],
      };
    }),
  };
}

/** "function file:line" per frame, for comparing stacks. */
export function frameKeys(frames: { function: string; file: string; line: number | bigint }[]): string[] {
  return frames.map((f) => `${f.function} ${f.file}:${f.line}`);
}
