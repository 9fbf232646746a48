/**
 * Every npm fixture (Go 1.14 → 1.27 tables; ELF, Mach-O, PE; amd64, arm64, 386, arm) against an
 * independent decoder: `go tool addr2line` of the newest toolchain, or — where addr2line cannot
 * find the table (stripped PE: "no runtime.pclntab symbol"; stripped externally linked ELF: "?"
 * for everything) — the standard library's debug/gosym driven by test/fixtures/go/gosym-oracle. Both print the physical function and the innermost
 * file:line, so our OUTERMOST frame's function and INNERMOST frame's file:line must equal theirs.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { openBinaryFile, pclnTableOf } from "../../src/symtab/binary.js";
import {
  availableGoVersions,
  type GoBuildOptions,
  goBin,
  goBuild,
  newestGo,
  npmFixture,
  npmFixtureList,
} from "../support/fixtures.js";

const go = newestGo();
const SAMPLES = 2000;

/** Deterministic PCs inside functions: entries, last bytes and random interior bytes. */
function samplePcs(entry: (i: number) => number, end: (i: number) => number, nfunc: number, seed: number) {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pcs: number[] = [];
  while (pcs.length < SAMPLES) {
    const i = Math.floor(rnd() * nfunc);
    const e = entry(i);
    const n = end(i) - e;
    if (n <= 0) continue;
    const r = rnd();
    pcs.push(r < 0.2 ? e : r < 0.35 ? e + n - 1 : e + Math.floor(rnd() * n));
  }
  return pcs;
}

function parseAnswers(out: string, n: number): Array<{ fn: string; fileLine: string }> {
  const lines = out.split("\n");
  const res = [];
  for (let k = 0; k < n; k++) res.push({ fn: lines[2 * k] ?? "", fileLine: lines[2 * k + 1] ?? "" });
  return res;
}

/** Compares SAMPLES PCs of the binary at `path` with the oracle; `seed` picks the PCs. */
function checkAgainstOracle(path: string, seed: number): void {
  const goTool = goBin(go ?? "");
  const b = openBinaryFile(path);
  const t = pclnTableOf(b);
  assert.ok(t, "a pclntab is decoded");
  const info = b.info.pclntab!;
  assert.ok(info.inlineTrees, `inline trees are read (found ${info.foundBy})`);
  const pcs = samplePcs(
    (i) => t.entry(i),
    (i) => t.end(i),
    t.nfunc,
    seed,
  );
  const input = `${pcs.map((p) => `0x${p.toString(16)}`).join("\n")}\n`;
  let oracle = "go tool addr2line";
  const a2l = spawnSync(goTool, ["tool", "addr2line", path], { input, maxBuffer: 1 << 28 });
  let out: string;
  const blind =
    a2l.status === 0 &&
    /^\?\n/.test(a2l.stdout.toString()) &&
    !/\n[^?\n][^\n]*\n/.test(a2l.stdout.toString());
  if (a2l.status === 0 && !blind) {
    out = a2l.stdout.toString();
  } else {
    // addr2line cannot find the table: it fails on stripped PE files ("no runtime.pclntab symbol")
    // and answers "?" for stripped ELF files without a .gopclntab section (external linking).
    // gosymd must still answer; the standard library's decoder checks it.
    assert.ok(
      b.info.format === "pe" || !info.foundBy.startsWith(".gopclntab"),
      `addr2line failed: ${a2l.stderr.toString()}`,
    );
    oracle = "debug/gosym";
    const exe = goBuild("gosym-oracle", { go: go! });
    out = execFileSync(
      exe,
      [path, info.addr.toString(16), info.size.toString(16), info.textStart.toString(16)],
      { input, maxBuffer: 1 << 28 },
    ).toString();
  }
  const theirs = parseAnswers(out, pcs.length);
  const bad: string[] = [];
  let inlined = 0;
  for (let k = 0; k < pcs.length; k++) {
    const pc = pcs[k]!;
    const r = b.resolve(pc);
    const want = theirs[k]!;
    if (r.frames.length === 0) {
      bad.push(
        `0x${pc.toString(16)}: no frames (${r.reason}: ${r.detail}); ${oracle}: ${want.fn} ${want.fileLine}`,
      );
      continue;
    }
    if (r.frames.length > 1) inlined++;
    const outer = r.frames[r.frames.length - 1]!;
    const inner = r.frames[0]!;
    for (const f of r.frames) assert.equal(f.source, "pclntab");
    const i = t.findFunc(pc);
    // The PCDATA_InlTreeIndex accessor agrees with the expansion: inlined exactly where it is ≥ 0.
    const ix = t.pcdata(i, t.layout.pcdataInlTreeIndex, pc);
    if (ix >= 0 !== r.frames.length > 1)
      bad.push(`0x${pc.toString(16)}: inline index ${ix} vs ${r.frames.length} frames`);
    // Unknown positions: addr2line prints ":-1" (padding after a function's code).
    let wantFL = want.fileLine.replace(/^:-1$/, ":0");
    // debug/gosym reads a function without a line table (offset 0) from the pctab's pad byte
    // on; the runtime (and we) report no position there.
    if (t.lineTableOffset(i) === 0 && inner.line === 0) wantFL = ":0";
    const gotFL = `${inner.file}:${inner.line}`;
    if (outer.function !== want.fn || gotFL !== wantFL) {
      bad.push(
        `0x${pc.toString(16)}: ours ${outer.function} ${gotFL}; ${oracle}: ${want.fn} ${want.fileLine}`,
      );
    }
  }
  assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${pcs.length} PCs differ from ${oracle}`);
  assert.ok(inlined > 0, "some sampled PCs expand to inlined frames");
}

describe("pclntab vs go tool addr2line / debug/gosym", {
  skip: go === undefined && "no Go toolchain",
}, () => {
  for (const fx of npmFixtureList()) {
    test(fx.name, () => checkAgainstOracle(npmFixture(fx.name), fx.name.length * 7919));
  }
});

// Byte orders, quanta and pointer sizes no npm fixture has: big-endian s390x (quantum 2), ppc64
// (quantum 4) and mips (32-bit); and the big-endian Go 1.18 table generation from go1.19.
const crossBuilds: Array<{ label: string; opts: GoBuildOptions; prog?: string; foundBy?: RegExp }> = [];
if (go !== undefined) {
  for (const arch of ["s390x", "ppc64", "mips"]) {
    crossBuilds.push({ label: `go${go} GOARCH=${arch}`, opts: { go, env: { GOARCH: arch } } });
  }
  if (availableGoVersions().includes("1.19")) {
    crossBuilds.push({ label: "go1.19 GOARCH=s390x", opts: { go: "1.19", env: { GOARCH: "s390x" } } });
  }
  // External linking (cgo) of a PIE merges the table into .data.rel.ro: found by its symbols, or,
  // stripped, by the magic scan; C start-up code precedes runtime.text.
  const cgo = { CGO_ENABLED: "1" };
  crossBuilds.push(
    {
      label: `go${go} cgo PIE`,
      prog: "cgo-symbols",
      opts: { go, env: cgo, flags: ["-buildmode=pie"] },
      foundBy: /^runtime\.pclntab symbol$/,
    },
    {
      label: `go${go} cgo PIE -s -w`,
      prog: "cgo-symbols",
      opts: { go, env: cgo, flags: ["-buildmode=pie", "-ldflags=-s -w"] },
      foundBy: /^magic scan of \.data\.rel\.ro$/,
    },
  );
}

describe("pclntab vs go tool addr2line: other architectures", {
  skip: go === undefined && "no Go toolchain",
}, () => {
  for (const { label, opts, prog, foundBy } of crossBuilds) {
    test(label, () => {
      const path = goBuild(prog ?? "inline-oracle", opts);
      if (foundBy !== undefined) assert.match(openBinaryFile(path).info.pclntab?.foundBy ?? "", foundBy);
      checkAgainstOracle(path, label.length * 104729);
    });
  }
});
