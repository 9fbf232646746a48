/**
 * Core-dump benchmark: time and peak memory to list every goroutine of a ~40 MB core with 500
 * goroutines (test/fixtures/go/core-hang -n 500 -heap 40, sent SIGQUIT with GOTRACEBACK=crash;
 * made once and cached in .cache/fixtures/cores).
 *
 * Each measurement runs in a fresh Node process so peak RSS is the reader's own: the reported
 * memory is the child's peak RSS minus that of a child that loaded the same modules and opened the
 * same files without reading the core. Timed: readCore (notes, goroutine discovery, every stack
 * unwound and symbolized), for the binary with symbols (runtime.allgs) and the stripped one
 * (memory scan), plus full attribution.
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { buildVariant, makeCore } from "../test/core/support.js";
import { newestGo, ROOT } from "../test/support/fixtures.js";

interface Metric {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const WORKER = `
import { FileSource } from "${join(ROOT, "src/bytes/source.ts")}";
import { readCore } from "${join(ROOT, "src/core/read.ts")}";
import { attributeCore } from "${join(ROOT, "src/core/attribute.ts")}";
import { openBinary } from "${join(ROOT, "src/symtab/binary.ts")}";
const [mode, core, bin, reps] = process.argv.slice(1);
const out = { ms: [], goroutines: 0, frames: 0, coreBytes: 0 };
for (let i = 0; i < Number(reps); i++) {
  const c = new FileSource(core), b = new FileSource(bin);
  out.coreBytes = c.size;
  const t = performance.now();
  if (mode === "baseline") { openBinary(b); }
  else if (mode === "attribute") { const a = attributeCore(core, bin); out.goroutines = a.goroutines.length; }
  else {
    const r = readCore(c, b, mode === "scan" ? { discovery: "scan" } : {});
    out.goroutines = r.goroutines.length;
    out.frames = r.goroutines.reduce((n, g) => n + g.frames.length, 0);
  }
  out.ms.push(performance.now() - t);
  c.close(); b.close();
}
out.maxRssKb = process.resourceUsage().maxRSS;
console.log(JSON.stringify(out));
`;

interface WorkerOut {
  ms: number[];
  goroutines: number;
  frames: number;
  coreBytes: number;
  maxRssKb: number;
}

function worker(mode: string, core: string, bin: string, reps: number): WorkerOut {
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", WORKER, mode, core, bin, String(reps)],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 16 << 20 },
  );
  return JSON.parse(out.trim().split("\n").at(-1)!) as WorkerOut;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

export async function run(): Promise<Metric[]> {
  const go = newestGo();
  if (go === undefined) throw new Error("no Go toolchain installed");
  const args = ["-n", "500", "-heap", "40"];
  const withSyms = await makeCore(buildVariant("core-hang", go, "default"), args, "quit");
  const stripped = await makeCore(buildVariant("core-hang", go, "sw"), args, "quit");
  const st = statSync(withSyms.core);
  const coreMB = st.size / (1 << 20);
  const diskMB = (st.blocks * 512) / (1 << 20);
  const metrics: Metric[] = [];
  const base = worker("baseline", withSyms.core, withSyms.binary, 1);
  const cases: Array<[string, string, CoreRunLike]> = [
    ["allgs", "binary with symbols (runtime.allgs)", withSyms],
    ["scan", "stripped binary (-s -w): memory scan", stripped],
    ["attribute", "attributeCore (read + attribution), binary with symbols", withSyms],
  ];
  for (const [mode, label, run] of cases) {
    const cold = worker(mode, run.core, run.binary, 1);
    const warm = worker(mode, run.core, run.binary, 5);
    metrics.push({
      name: `core: list goroutines, ${label}, first read`,
      value: Math.round(cold.ms[0]!),
      unit: "ms",
      note: `${cold.goroutines} goroutines${cold.frames ? `, ${cold.frames} physical frames` : ""}, core ${coreMB.toFixed(0)} MB (${diskMB.toFixed(0)} MB on disk, sparse), go${go}`,
    });
    metrics.push({
      name: `core: list goroutines, ${label}, median of 5 in one process`,
      value: Math.round(median(warm.ms)),
      unit: "ms",
    });
    metrics.push({
      name: `core: peak memory above baseline, ${label}`,
      value: Math.round((cold.maxRssKb - base.maxRssKb) / 1024),
      unit: "MB",
      note: `baseline (modules + decoded binary) ${Math.round(base.maxRssKb / 1024)} MB; core ${coreMB.toFixed(0)} MB`,
    });
  }
  return metrics;
}

type CoreRunLike = { core: string; binary: string };

if (process.argv[1]?.endsWith("core.ts")) {
  for (const m of await run())
    console.log(`${m.name.padEnd(80)} ${String(m.value).padStart(8)} ${m.unit} ${m.note ?? ""}`);
}
