/**
 * The in-process part of the engine benchmark (bench/symbolize.ts runs it in a fresh process):
 * open a binary as the service does (its content hash known), a first pass of lookups over the
 * fresh tables, then warm rounds. Uses the engine as shipped (dist/). Prints the metrics as JSON.
 *
 *   node --import tsx bench/inproc.ts LABEL BINARY N
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT } from "../test/support/fixtures.js";
import { samplePcs } from "../test/support/sample.js";
import type { Metric } from "./symbolize.js";

const [label, bin, count] = process.argv.slice(2) as [string, string, string];
const N = Number(count);
const { openBinaryFile } = (await import(
  join(ROOT, "dist/symtab/index.js") as string
)) as typeof import("../src/symtab/index.js");
const pcs = samplePcs(bin, N, 42);
const metrics: Metric[] = [];
const sha256 = createHash("sha256").update(readFileSync(bin)).digest("hex");
const heap0 = process.memoryUsage();
let t = performance.now();
const b = openBinaryFile(bin, { sha256 });
const openMs = performance.now() - t;
const heap1 = process.memoryUsage();
let frames = 0;
t = performance.now();
for (const pc of pcs) frames += b.resolve(pc).frames.length;
const firstMs = performance.now() - t;
// Warm: several rounds over the same PCs, each timed; the machine is shared, so the best
// round and the median are both reported.
const rounds = 7;
const roundMs: number[] = [];
for (let r = 0; r < rounds; r++) {
  t = performance.now();
  for (const pc of pcs) frames += b.resolve(pc).frames.length;
  roundMs.push(performance.now() - t);
}
roundMs.sort((x, y) => x - y);
const warmMs = roundMs[rounds >> 1]!;
const pclnSize = b.info.pclntab?.size ?? 0;
metrics.push(
  {
    name: `${label}: cold open (in-process)`,
    value: Math.round(openMs),
    unit: "ms",
    note: "sha256 known, as the service opens; target <= 300",
  },
  {
    name: `${label}: first pass over fresh tables (in-process)`,
    value: Math.round(firstMs),
    unit: "ms",
    note: `${N} PCs, every name and file decoded on first use`,
  },
  {
    name: `${label}: warm resolve throughput (in-process, 1 core)`,
    value: Math.round(N / (warmMs / 1000)),
    unit: "addr/s",
    note: `median of ${rounds} rounds of ${N} PCs (best ${Math.round(N / (roundMs[0]! / 1000)).toLocaleString("en-US")}); one resolve per PC in random order; full Frame objects with package and module; target >= 1,000,000`,
  },
  {
    name: `${label}: decoded tables / pclntab size`,
    value: pclnSize ? +(b.memoryBytes / pclnSize).toFixed(2) : 0,
    unit: "x",
    note: `memoryBytes ${b.memoryBytes}, pclntab ${pclnSize}; heap+external growth on open ${(
      (heap1.heapUsed +
        heap1.external +
        heap1.arrayBuffers -
        heap0.heapUsed -
        heap0.external -
        heap0.arrayBuffers) /
        2 ** 20
    ).toFixed(1)} MiB; target <= 1.5`,
  },
);
b.close();
if (frames < 0) console.error(frames);
process.stdout.write(JSON.stringify(metrics));
