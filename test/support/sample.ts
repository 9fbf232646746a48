/**
 * Random PCs inside the Go functions of a binary, from its own function table (stripped binaries
 * have no symbols to sample from): a seeded generator, so that runs and tools see the same
 * addresses. Used by the benchmarks and the CLI tests.
 */
import { pclnTableOf } from "../../src/symtab/binary.js";
import { openBinaryFile } from "../../src/symtab/index.js";

/** A seeded generator of numbers in [0, 1) (an LCG: the same sequence on every machine). */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function samplePcs(bin: string, n: number, seed: number): number[] {
  const b = openBinaryFile(bin, { sha256: null });
  const t = pclnTableOf(b);
  if (!t) throw new Error(`no pclntab in ${bin}`);
  const rnd = seededRandom(seed);
  const pcs: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = Math.floor(rnd() * t.nfunc);
    const start = t.entry(f);
    const size = Math.max(1, t.end(f) - start);
    pcs.push(start + Math.floor(rnd() * size));
  }
  b.close();
  return pcs;
}
