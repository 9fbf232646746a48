/**
 * Inline expansion vs the Go runtime itself. test/fixtures/go/inline-oracle captures
 * runtime.Callers at several depths of an inlinable call chain (small functions, a method, a
 * generic function, closures, a function of another package) and prints each capture's
 * runtime.CallersFrames expansion. Every physical frame (a run of inlined frames ended by a real
 * one) is looked up here at the PC CallersFrames looked up (the return PC − 1), from the binary
 * alone; function, file, line, entry and order must be identical. Built with every installed
 * toolchain, and with the newest also -trimpath, -buildmode=pie, -ldflags=-s -w and GOARCH=386.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { openBinaryFile, pclnTableOf } from "../../src/symtab/binary.js";
import type { Frame } from "../../src/symtab/types.js";
import { availableGoVersions, type GoBuildOptions, goBin, goBuild, newestGo } from "../support/fixtures.js";

interface OracleFrame {
  PC: number;
  Entry: number;
  Function: string;
  File: string;
  Line: number;
  Inlined: boolean;
}
interface OracleOut {
  Go: string;
  GOARCH: string;
  MainMain: number;
  Records: Array<{ Label: string; PCs: number[]; Frames: OracleFrame[] }>;
}

/** runtime.funcNameForPrint: generic type arguments print as "[...]". */
function printName(name: string): string {
  const i = name.indexOf("[");
  if (i < 0) return name;
  const j = name.lastIndexOf("]");
  if (j <= i) return name;
  return `${name.slice(0, i)}[...]${name.slice(j + 1)}`;
}

const sources = new Map<string, string[] | undefined>();
/** Lines of a source file recorded in the binary, when it exists on this machine. */
function sourceLines(file: string): string[] | undefined {
  if (!sources.has(file)) {
    sources.set(
      file,
      file.startsWith("/") && existsSync(file) ? readFileSync(file, "utf8").split("\n") : undefined,
    );
  }
  return sources.get(file);
}

const variants: Array<{ label: string; opts: GoBuildOptions }> = [];
for (const v of availableGoVersions()) variants.push({ label: `go${v}`, opts: { go: v } });
const newest = newestGo();
if (newest !== undefined) {
  variants.push(
    { label: `go${newest} -trimpath`, opts: { go: newest, flags: ["-trimpath"] } },
    { label: `go${newest} -buildmode=pie`, opts: { go: newest, flags: ["-buildmode=pie"] } },
    { label: `go${newest} -ldflags=-s -w`, opts: { go: newest, flags: ["-ldflags=-s -w"] } },
    { label: `go${newest} GOARCH=386`, opts: { go: newest, env: { GOARCH: "386" } } },
  );
}

describe("inline chains vs runtime.CallersFrames", {
  skip: newest === undefined && "no Go toolchain",
}, () => {
  for (const { label, opts } of variants) {
    test(label, () => {
      const exe = goBuild("inline-oracle", opts);
      const run = spawnSync(exe, [], { maxBuffer: 1 << 26 });
      assert.equal(run.status, 0, `oracle run failed: ${run.stderr?.toString()}`);
      const out = JSON.parse(run.stdout.toString()) as OracleOut;
      const b = openBinaryFile(exe);
      const t = pclnTableOf(b)!;
      assert.ok(b.info.pclntab?.inlineTrees, "inline trees are read");

      // Load bias (PIE): main.main's runtime address minus its link-time entry.
      let mainEntry = -1;
      for (let i = 0; i < t.nfunc && mainEntry < 0; i++)
        if (t.funcName(i) === "main.main") mainEntry = t.entry(i);
      assert.ok(mainEntry > 0, "main.main is in the table");
      const stripped = (opts.flags ?? []).some((f) => f.includes("-s"));
      if (!stripped) {
        const nm = execFileSync(goBin(opts.go), ["tool", "nm", exe], {
          encoding: "utf8",
          maxBuffer: 1 << 28,
        });
        const m = /^\s*([0-9a-f]+) T main\.main$/m.exec(nm);
        assert.ok(m, "go tool nm lists main.main");
        assert.equal(mainEntry, Number.parseInt(m[1]!, 16), "main.main entry agrees with go tool nm");
      }
      // The compiler-generated main.(*V).String wrapper (left out of every capture) is one.
      const byName = (name: string) => {
        for (let i = 0; i < t.nfunc; i++) if (t.funcName(i) === name) return t.entry(i);
        return -1;
      };
      const w = b.resolve(byName("main.(*V).String")).frames.at(-1);
      assert.equal(w?.function, "main.(*V).String");
      assert.equal(w?.wrapper, true, "main.(*V).String is a wrapper");
      assert.equal(b.resolve(byName("main.V.String")).frames.at(-1)?.wrapper, false);
      const bias = out.MainMain - mainEntry;
      if (!(opts.flags ?? []).includes("-buildmode=pie"))
        assert.equal(bias, 0, "non-PIE runs at link addresses");

      let chains = 0;
      let startLines = 0;
      let inlinedChains = 0;
      for (const rec of out.Records) {
        assert.equal(rec.Frames.length, rec.PCs.length, `${rec.Label}: one frame per PC`);
        let start = 0;
        for (let k = 0; k < rec.Frames.length; k++) {
          if (rec.Frames[k]!.Inlined) continue;
          const chain = rec.Frames.slice(start, k + 1);
          start = k + 1;
          chains++;
          if (chain.length > 1) inlinedChains++;
          const pc = chain[0]!.PC - bias;
          const r = b.resolve(pc);
          const got = r.frames.map((f: Frame) => ({
            Function: printName(f.function),
            File: f.file,
            Line: f.line,
            Entry: f.entry + bias,
            Inlined: f.inlined,
          }));
          const want = chain.map((f) => ({
            Function: f.Function,
            File: f.File,
            Line: f.Line,
            Entry: f.Entry,
            Inlined: f.Inlined,
          }));
          assert.deepEqual(got, want, `${rec.Label}: chain at link-time pc 0x${pc.toString(16)} (${out.Go})`);
          // startLine (Go 1.20+ tables, inlined frames included) is the line of the `func` keyword
          // (or the assembly TEXT directive): check it against the source file itself.
          for (const f of r.frames) {
            if (b.info.pclntab!.version !== "1.20") {
              assert.equal(f.startLine, 0, "no startLine before Go 1.20");
              continue;
            }
            const src = sourceLines(f.file);
            if (src === undefined) continue;
            const text = src[f.startLine - 1] ?? "";
            assert.match(text, /\bfunc\b|\bTEXT\b/, `${f.function}: startLine ${f.startLine} of ${f.file}`);
            assert.ok(f.startLine <= f.line, `${f.function}: startLine ${f.startLine} <= line ${f.line}`);
            startLines++;
          }
          for (const f of r.frames) {
            assert.equal(f.source, "pclntab");
            // runtime.Callers leaves wrappers out, so none of the frames it shows is one.
            assert.equal(f.wrapper, false, `${f.function} is not a wrapper`);
          }
        }
        assert.equal(start, rec.Frames.length, `${rec.Label}: the capture ends with a physical frame`);
      }
      assert.ok(chains >= 20, `enough chains compared (${chains})`);
      assert.ok(inlinedChains >= 4, `inlined chains compared (${inlinedChains})`);
      const trimmed = (opts.flags ?? []).includes("-trimpath");
      if (b.info.pclntab!.version === "1.20" && !trimmed) {
        assert.ok(startLines >= 20, `startLines checked against the sources (${startLines})`);
      }
    });
  }
});
