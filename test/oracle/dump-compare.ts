/**
 * The comparison goroutine-dump.test.ts and arm64-goroutine-dump.test.ts make: every physical
 * frame and `created by` trailer of the Go runtime's goroutine dump against what gosymd resolves
 * for the PC the runtime itself looked up. (Kept out of support.ts: that file's oracles must not
 * import the engine; this is where the engine is checked against them.)
 */
import assert from "node:assert/strict";
import { openBinaryFile } from "../../src/symtab/index.js";
import {
  chainsOf,
  funcPackagePath,
  type GoroutineDump,
  goToolNm,
  type Mismatch,
  type NmSymbol,
  parseGoroutineDump,
  runtimeLookupPC,
  runtimePrintName,
} from "./support.js";

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** What a dump run printed and how it ended. */
export interface DumpRun {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * The dump of a program that exited after SIGQUIT (status 2), parsed completely, and `go tool nm`
 * of the binary: undefined for a stripped one (which nm must find no symbols in).
 */
export function parseQuitDump(
  run: DumpRun,
  tools: string,
  bin: string,
  stripped: boolean,
): { dump: GoroutineDump; nm: NmSymbol[] | undefined } {
  assert.equal(run.code, 2, `exit status after SIGQUIT: ${run.code ?? run.signal}`);
  const dump = parseGoroutineDump(run.stderr);
  assert.equal(dump.signal, "SIGQUIT: quit", "dump header");
  assert.deepEqual(dump.unparsed, [], "every line inside goroutine blocks is understood");
  const nm = stripped ? undefined : goToolNm(tools, bin);
  if (stripped) assert.equal(goToolNm(tools, bin), undefined, "stripped binary has no symbols");
  else assert.ok(nm, "go tool nm reads the unstripped binary");
  return { dump, nm };
}

export interface DumpStats {
  /** Physical frames compared. */
  chains: number;
  frames: number;
  inlined: number;
  createdBy: number;
  names: Set<string>;
  states: Set<string>;
}

/**
 * Every physical frame of the dump resolved at the PC the runtime looked up (minus `bias`): the
 * same functions (through the runtime's display rules), files, lines and inlined flags as the
 * printed chain, and the printed `+0x` offset equal to pc − entry. `created by` trailers where
 * `nm` gives the creator's entry. With `mainModule` (`go version -m`), each frame's package (the
 * runtime's funcpkgpath) and module (ours for main and the main module's packages, none for the
 * standard library) too.
 */
export function compareDump(
  label: string,
  minor: number,
  bin: string,
  dump: GoroutineDump,
  bias: number,
  nm: NmSymbol[] | undefined,
  mainModule?: { path: string; version: string },
): { mismatches: Mismatch[]; stats: DumpStats } {
  const gb = openBinaryFile(bin);
  const mismatches: Mismatch[] = [];
  const stats: DumpStats = {
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
          if (mainModule !== undefined)
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

/**
 * A run that compared nothing cannot pass: the dump shows every planted function (printed form),
 * at least 60 physical and 15 inlined frames, and (with symbols) 15 `created by` trailers.
 */
export function assertDumpCoverage(stats: DumpStats, mustShow: readonly string[], symbols: boolean): void {
  const missing = mustShow.filter((n) => !stats.names.has(n));
  assert.deepEqual(missing, [], `the dump shows every planted function (states: ${[...stats.states]})`);
  assert.ok(stats.chains >= 60, `physical frames compared: ${stats.chains}`);
  assert.ok(stats.inlined >= 15, `inlined frames compared: ${stats.inlined}`);
  if (symbols) assert.ok(stats.createdBy >= 15, `created-by trailers compared: ${stats.createdBy}`);
}
