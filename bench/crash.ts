/**
 * Crash-attribution benchmarks, called by bench/run.ts: attributing generated SIGQUIT dumps of
 * 10,000 and 100,000 goroutines (parse + classify + bucket + rules), and a small real-shaped panic.
 */
import { attributeText } from "../src/crash/index.js";
import { generateDump } from "../test/crash/gen.js";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
}

function timeIt(f: () => void, runs: number): number {
  f(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    f();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export async function run(): Promise<BenchResult[]> {
  const out: BenchResult[] = [];
  const d10k = generateDump(10_000);
  const d100k = generateDump(100_000);
  const ms10k = timeIt(() => attributeText(d10k), 5);
  out.push({ name: "crash/attribute-dump-10k-goroutines", value: ms10k, unit: "ms" });
  const ms100k = timeIt(() => attributeText(d100k), 3);
  out.push({ name: "crash/attribute-dump-100k-goroutines", value: ms100k, unit: "ms" });
  out.push({
    name: "crash/attribute-dump-100k-throughput",
    value: d100k.length / 1024 / 1024 / (ms100k / 1000),
    unit: "MiB/s",
  });
  const panicText =
    "panic: runtime error: index out of range [5] with length 3\n\ngoroutine 1 [running]:\nexample.com/m/pkg.F(...)\n\t/src/pkg/f.go:8\nmain.main()\n\t/src/main.go:12 +0x1d\nexit status 2\n";
  const us = timeIt(() => {
    for (let i = 0; i < 1000; i++) attributeText(panicText);
  }, 5);
  out.push({ name: "crash/attribute-small-panic", value: us, unit: "us" });
  return out;
}
