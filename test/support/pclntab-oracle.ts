/**
 * The pclntab oracle comparison shared by test/gopclntab/oracle.test.ts and old-go.test.ts:
 * sampled PCs of a binary looked up by gosymd and by an independent decoder — `go tool addr2line`
 * of the newest toolchain, or, where addr2line cannot find the table (stripped PE: "no
 * runtime.pclntab symbol"; stripped externally linked ELF: "?" for everything), the standard
 * library's debug/gosym driven by test/fixtures/go/gosym-oracle. Both print the physical function
 * and the innermost file:line, so our OUTERMOST frame's function and INNERMOST frame's file:line
 * must equal theirs.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import type { GoBinary } from "../../src/symtab/api.js";
import { openBinaryFile, pclnTableOf } from "../../src/symtab/binary.js";
import { goBin, goBuild, newestGo } from "./fixtures.js";
import { seededRandom } from "./sample.js";

export const SAMPLES = 2000;

/** Deterministic PCs inside functions: entries, last bytes and random interior bytes. */
export function samplePcs(
  entry: (i: number) => number,
  end: (i: number) => number,
  nfunc: number,
  seed: number,
  count = SAMPLES,
): number[] {
  const rnd = seededRandom(seed);
  const pcs: number[] = [];
  while (pcs.length < count) {
    const i = Math.floor(rnd() * nfunc);
    const e = entry(i);
    const n = end(i) - e;
    if (n <= 0) continue;
    const r = rnd();
    pcs.push(r < 0.2 ? e : r < 0.35 ? e + n - 1 : e + Math.floor(rnd() * n));
  }
  return pcs;
}

export interface OracleAnswer {
  fn: string;
  fileLine: string;
}

export function parseAnswers(out: string, n: number): OracleAnswer[] {
  const lines = out.split("\n");
  const res = [];
  for (let k = 0; k < n; k++) res.push({ fn: lines[2 * k] ?? "", fileLine: lines[2 * k + 1] ?? "" });
  return res;
}

/** `go tool addr2line` of the newest toolchain for `pcs`; undefined when it fails. */
export function addr2line(path: string, pcs: readonly number[]): OracleAnswer[] | undefined {
  const input = `${pcs.map((p) => `0x${p.toString(16)}`).join("\n")}\n`;
  const r = spawnSync(goBin(newestGo() ?? ""), ["tool", "addr2line", path], {
    input,
    maxBuffer: 1 << 28,
  });
  return r.status === 0 ? parseAnswers(r.stdout.toString(), pcs.length) : undefined;
}

export interface OracleRun {
  binary: GoBinary;
  pcs: number[];
  answers: OracleAnswer[];
  oracle: "go tool addr2line" | "debug/gosym";
  /** Sampled PCs that expanded to more than one frame. */
  inlined: number;
}

export interface OracleOptions {
  /**
   * Whether the table must have inline trees and some sampled PC must expand to inlined frames
   * (default); false: it must have none (Go ≤ 1.8 wrote no inline trees).
   */
  inline?: boolean;
}

/** Compares SAMPLES PCs of the binary at `path` with the oracle; `seed` picks the PCs. */
export function checkAgainstOracle(path: string, seed: number, opts: OracleOptions = {}): OracleRun {
  const go = newestGo();
  const goTool = goBin(go ?? "");
  const wantInline = opts.inline ?? true;
  const b = openBinaryFile(path);
  const t = pclnTableOf(b);
  assert.ok(t, "a pclntab is decoded");
  const info = b.info.pclntab!;
  if (wantInline) assert.ok(info.inlineTrees, `inline trees are read (found ${info.foundBy})`);
  else assert.equal(info.inlineTrees, false, "no inline trees");
  const pcs = samplePcs(
    (i) => t.entry(i),
    (i) => t.end(i),
    t.nfunc,
    seed,
  );
  const input = `${pcs.map((p) => `0x${p.toString(16)}`).join("\n")}\n`;
  let oracle: OracleRun["oracle"] = "go tool addr2line";
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
  if (wantInline) assert.ok(inlined > 0, "some sampled PCs expand to inlined frames");
  else assert.equal(inlined, 0, "no sampled PC expands to inlined frames");
  return { binary: b, pcs, answers: theirs, oracle, inlined };
}

/**
 * Asserts that `got` answers every pc exactly as `want` (every frame of the inline chains);
 * returns how many of the answers were inline chains (more than one frame).
 */
export function assertSameAnswers(got: GoBinary, want: GoBinary, pcs: readonly number[]): number {
  let inlined = 0;
  for (const pc of pcs) {
    const w = want.resolve(pc);
    if (w.frames.length > 1) inlined++;
    assert.deepEqual(got.resolve(pc), w, `pc 0x${pc.toString(16)}`);
  }
  return inlined;
}
