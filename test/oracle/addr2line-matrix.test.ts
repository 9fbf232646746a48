/**
 * Oracle: sampled comparison with `go tool addr2line` over a matrix of our own builds.
 *
 * test/fixtures/go/matrix (a few packages, generics, closures, methods; C functions only when
 * CGO_ENABLED=1) is built with every installed Debian toolchain × {default, -trimpath, -s -w,
 * PIE, linux/arm64, linux/386, darwin/arm64, darwin/amd64, windows/amd64, stripped darwin/arm64,
 * stripped windows/amd64, cgo (external linking), cgo PIE}. For each binary we draw PCs inside
 * functions (ranges from `go tool nm -size`, or, without symbols, from debug/gosym via our oracle
 * program), and require:
 *  - where addr2line (or, when it cannot read the binary, debug/gosym) names a Go function: our
 *    OUTERMOST frame is that function and our INNERMOST frame has its file:line;
 *  - where it names none (C code, linker-made text symbols): gosymd answers from the symbol table
 *    (source "symtab") with a symbol that covers the PC (binutils `nm -S` for ELF, else `go tool nm`).
 * Plus per binary: container facts (format, os, arch, pointer size) and the pclntab's address,
 * text start and function count against what debug/gosym found on its own.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Frame } from "../../src/symtab/index.js";
import { openBinaryFile } from "../../src/symtab/index.js";
import { availableGoVersions, newestGo } from "../support/fixtures.js";
import { EXPECTED_FAILURES } from "./expected-failures.js";
import {
  binutilsNm,
  buildProgram,
  describeMismatches,
  gosymFuncs,
  gosymLookup,
  goToolAddr2line,
  goToolNm,
  type LineAnswer,
  type Mismatch,
  type NmSymbol,
  reconcile,
  samplePCs,
} from "./support.js";

/** PCs per binary (the suite's runtime knob: reduce this, not the matrix). */
const SAMPLES = Number(process.env.GOSYMD_ORACLE_SAMPLES ?? 2000);

interface Variant {
  name: string;
  flags?: string[];
  env?: Record<string, string>;
  format: "elf" | "macho" | "pe";
  os: "linux" | "darwin" | "windows";
  arch: "amd64" | "arm64" | "386";
  stripped?: boolean;
  /** Asserted only where the build mode fixes it. */
  pie?: boolean;
  cgo?: boolean;
}

const MATRIX: Variant[] = [
  { name: "default", format: "elf", os: "linux", arch: "amd64", pie: false },
  { name: "trimpath", flags: ["-trimpath"], format: "elf", os: "linux", arch: "amd64", pie: false },
  {
    name: "stripped",
    flags: ["-ldflags=-s -w"],
    format: "elf",
    os: "linux",
    arch: "amd64",
    stripped: true,
    pie: false,
  },
  { name: "pie", flags: ["-buildmode=pie"], format: "elf", os: "linux", arch: "amd64", pie: true },
  { name: "linux-arm64", env: { GOARCH: "arm64" }, format: "elf", os: "linux", arch: "arm64", pie: false },
  { name: "linux-386", env: { GOARCH: "386" }, format: "elf", os: "linux", arch: "386", pie: false },
  {
    name: "darwin-arm64",
    env: { GOOS: "darwin", GOARCH: "arm64" },
    format: "macho",
    os: "darwin",
    arch: "arm64",
  },
  {
    name: "darwin-amd64",
    env: { GOOS: "darwin", GOARCH: "amd64" },
    format: "macho",
    os: "darwin",
    arch: "amd64",
  },
  {
    name: "windows-amd64",
    env: { GOOS: "windows", GOARCH: "amd64" },
    format: "pe",
    os: "windows",
    arch: "amd64",
  },
  {
    name: "darwin-arm64-stripped",
    flags: ["-ldflags=-s -w"],
    env: { GOOS: "darwin", GOARCH: "arm64" },
    format: "macho",
    os: "darwin",
    arch: "arm64",
    stripped: true,
  },
  {
    name: "windows-amd64-stripped",
    flags: ["-ldflags=-s -w"],
    env: { GOOS: "windows", GOARCH: "amd64" },
    format: "pe",
    os: "windows",
    arch: "amd64",
    stripped: true,
  },
  { name: "cgo", env: { CGO_ENABLED: "1" }, format: "elf", os: "linux", arch: "amd64", cgo: true },
  {
    name: "cgo-pie",
    flags: ["-buildmode=pie"],
    env: { CGO_ENABLED: "1" },
    format: "elf",
    os: "linux",
    arch: "amd64",
    cgo: true,
    pie: true,
  },
];

const hex = (n: number): string => `0x${n.toString(16)}`;
const PTR: Record<Variant["arch"], number> = { amd64: 8, arm64: 8, "386": 4 };

interface Stats {
  compared: number;
  goFrames: number;
  inlinedChains: number;
  symtab: number;
  padding: number;
  oracle: string;
}

function describeFrames(fs: Frame[]): string {
  return fs.length === 0
    ? "(none)"
    : fs.map((f) => `${f.function} ${f.file}:${f.line} [${f.source}]`).join(" | ");
}

const versions = availableGoVersions();
/**
 * The oracle tools come from the newest toolchain: debug/gosym reads every older format, and
 * go1.19's own addr2line answers "?" for every PC of a go1.19 PIE build (its cmd/internal/objfile
 * looks only for a ".gopclntab" section, while internally linked PIEs name it
 * ".data.rel.ro.gopclntab"; later releases also try that name and the runtime.pclntab symbol).
 */
const tools = newestGo() ?? "";

describe("oracle: go tool addr2line / debug/gosym over the build matrix", () => {
  test("at least one Go toolchain is installed", () => {
    assert.ok(versions.length > 0, "no /usr/lib/go-1.x toolchain found");
  });
  for (const go of versions) {
    for (const v of MATRIX) {
      const label = `go${go}/${v.name}`;
      test(label, (t) => {
        const bin = buildProgram("matrix", v.name, { go, flags: v.flags ?? [], env: v.env ?? {} });

        // The independent view of the pclntab: debug/gosym, located by our oracle program.
        const gs = gosymFuncs(bin);
        const nm = goToolNm(tools, bin);
        // (-s leaves the Mach-O symbol table in place before Go 1.22.)
        if (v.stripped && v.format !== "macho")
          assert.equal(nm, undefined, "stripped: no symbols for go tool nm");
        if (!v.stripped) assert.ok(nm, "go tool nm reads the binary");

        // Ranges to sample: symbol sizes where symbols exist, else debug/gosym's function bounds.
        const seen = new Set<number>();
        const ranges = (nm ?? gs.funcs).filter((s) => {
          if (!/^[tT]$/.test(s.type) || s.size <= 0 || seen.has(s.addr)) return false;
          seen.add(s.addr);
          return true;
        });
        const align = v.arch === "arm64" ? 4 : 1;
        const sample = samplePCs(ranges, SAMPLES, label, align);
        // cgo: also aim at C code on purpose (binutils' view of the ELF symbol table).
        // Go text is one contiguous range of the pclntab; C code lies outside it.
        const goLo = Math.min(...gs.funcs.map((f) => f.addr));
        const goHi = Math.max(...gs.funcs.map((f) => f.addr + f.size));
        const cSyms = v.cgo
          ? binutilsNm(bin).filter((s) => s.size > 0 && (s.addr + s.size <= goLo || s.addr >= goHi))
          : [];
        if (v.cgo) {
          assert.ok(
            cSyms.some((s) => s.name === "matrix_mix") && cSyms.some((s) => s.name === "matrix_checksum"),
          );
          sample.push(...samplePCs(cSyms, Math.ceil(SAMPLES / 10), `${label}/c`, 1));
        }
        const pcs = sample.map((s) => s.pc);

        // The oracle: addr2line where it reads the binary; debug/gosym where it cannot.
        let answers: LineAnswer[];
        let oracle = "go tool addr2line";
        try {
          answers = goToolAddr2line(tools, bin, pcs);
        } catch (e) {
          assert.ok(
            v.stripped,
            `go tool addr2line failed on an unstripped binary: ${(e as { stderr?: string }).stderr ?? e}`,
          );
          answers = gosymLookup(bin, pcs).answers;
          oracle = "debug/gosym";
        }

        // Symbols that may answer for non-Go code, from an independent reader.
        const symSource: NmSymbol[] = v.format === "elf" && !v.stripped ? binutilsNm(bin) : (nm ?? []);
        const covering = (pc: number): string[] =>
          symSource.filter((s) => s.size > 0 && pc >= s.addr && pc < s.addr + s.size).map((s) => s.name);

        const gb = openBinaryFile(bin);
        const mismatches: Mismatch[] = [];
        const stats: Stats = { compared: 0, goFrames: 0, inlinedChains: 0, symtab: 0, padding: 0, oracle };
        try {
          // Container and pclntab facts.
          assert.equal(gb.info.format, v.format, "format");
          assert.equal(gb.info.os, v.os, "os");
          assert.equal(gb.info.arch, v.arch, "arch");
          assert.equal(gb.info.ptrSize, PTR[v.arch], "ptrSize");
          if (v.pie !== undefined) assert.equal(gb.info.pie, v.pie, "pie");
          assert.ok(gb.info.pclntab, "pclntab found");
          assert.equal(
            hex(gb.info.pclntab.addr),
            hex(gs.header.addr),
            `pclntab address (oracle: ${gs.header.how})`,
          );
          assert.equal(hex(gb.info.pclntab.textStart), hex(gs.header.textStart), "text start");
          assert.equal(gb.info.pclntab.funcCount, gs.header.funcCount, "function count");
          if (v.stripped && v.format !== "macho")
            assert.equal(gb.info.symbolCount, 0, "stripped: no container symbols");

          for (let i = 0; i < pcs.length; i++) {
            const pc = pcs[i]!;
            const a = answers[i]!;
            const res = gb.resolve(pc);
            const fs = res.frames;
            const outer = fs.at(-1);
            const inner = fs[0];
            stats.compared++;
            const problem = (what: string, func = a.func): void => {
              mismatches.push({
                label,
                func,
                detail: `pc=${hex(pc)}: ${what}\n    ${oracle}: ${a.func} ${a.file}:${a.line}\n    gosymd: ${describeFrames(fs)}${res.reason ? ` (${res.reason})` : ""}`,
              });
            };
            if (a.func === "?") {
              // No Go function here: the symbol table must answer. ELF records symbol sizes; for
              // Mach-O and PE, go tool nm infers sizes from the next symbol, so past the last text
              // symbol (runtime.etext) the range can run beyond the code: there only check that
              // whatever gosymd answers comes from a covering symbol.
              const names = covering(pc);
              stats.symtab++;
              const strict = v.format === "elf";
              if (names.length === 0) {
                if (fs.some((f) => f.source === "pclntab")) problem("pclntab frames where no Go function is");
                continue;
              }
              if (fs.length === 0 && !strict) continue;
              if (fs.length !== 1 || inner?.source !== "symtab" || !names.includes(inner.function))
                problem(`want one symtab frame naming ${names.join(" or ")}`, names[0]!);
              continue;
            }
            if (a.func === "go:buildid" || a.func === "go.buildid") {
              // The build ID note sits in text with a _func whose pcfile/pcln offsets are 0 ("no
              // table"): the runtime's pcvalue answers -1 there, debug/gosym (and so addr2line)
              // decodes the pctab from its first byte and prints a garbage file:line. Only the
              // function is meaningful.
              if (outer?.function !== a.func) problem("function");
              continue;
            }
            if (a.line < 0) {
              // Alignment padding after the function's code: only the function is defined.
              stats.padding++;
              if (fs.length > 0 && outer?.function !== a.func)
                problem("padding attributed to another function");
              continue;
            }
            stats.goFrames++;
            if (fs.length > 1) stats.inlinedChains++;
            if (!outer || !inner) {
              problem("unresolved");
              continue;
            }
            const errs: string[] = [];
            if (outer.function !== a.func) errs.push("outermost function");
            if (inner.file !== a.file || inner.line !== a.line) errs.push("innermost file:line");
            if (fs.some((f) => f.source !== "pclntab")) errs.push("source");
            if (fs.some((f, k) => f.inlined !== k < fs.length - 1)) errs.push("inlined flags");
            if (fs.some((f) => f.entry !== outer.entry)) errs.push("entry differs between frames");
            if (errs.length > 0) problem(errs.join(", "));
          }
        } finally {
          gb.close();
        }

        t.diagnostic(JSON.stringify(stats));
        assert.ok(stats.goFrames >= SAMPLES * 0.8, `Go PCs compared: ${JSON.stringify(stats)}`);
        assert.ok(stats.inlinedChains > 0, `some sampled PCs are in inlined code: ${JSON.stringify(stats)}`);
        if (v.cgo) assert.ok(stats.symtab >= SAMPLES / 20, `C PCs compared: ${JSON.stringify(stats)}`);
        const { unexpected, stale, expectedHits } = reconcile(
          "addr2line",
          label,
          mismatches,
          EXPECTED_FAILURES,
        );
        assert.deepEqual(
          stale.map((e) => `${e.label} ${e.func}`),
          [],
          "expected failures that now pass: remove them from test/oracle/expected-failures.ts",
        );
        assert.equal(
          unexpected.length,
          0,
          `${unexpected.length} of ${stats.compared} PCs disagree with ${oracle} (${expectedHits} expected; ` +
            `${JSON.stringify(stats)}):\n${describeMismatches(unexpected)}`,
        );
      });
    }
  }
});
