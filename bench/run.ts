/**
 * `npm run bench`: every benchmark, side by side with the peers on the same work, as a table.
 * `npm run bench -- symbolize` runs only the named suites. Results also go to
 * .cache/bench/results.json for the record.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE } from "../test/support/fixtures.js";
import type { Metric } from "./symbolize.js";

const suites: Record<string, () => Promise<{ run: () => Promise<Metric[]> }>> = {
  symbolize: () => import("./symbolize.js"),
  rpc: () => import("./rpc.js" as string) as Promise<{ run: () => Promise<Metric[]> }>,
  crash: () => import("./crash.js" as string) as Promise<{ run: () => Promise<Metric[]> }>,
  pprof: () => import("./pprof.js" as string) as Promise<{ run: () => Promise<Metric[]> }>,
  core: () => import("./core.js" as string) as Promise<{ run: () => Promise<Metric[]> }>,
};

const want = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const all: Record<string, Metric[]> = {};
let failed = false;
for (const [name, load] of Object.entries(suites)) {
  if (want.length > 0 && !want.includes(name)) continue;
  console.log(`\n== ${name}`);
  try {
    const metrics = await (await load()).run();
    all[name] = metrics;
    for (const m of metrics) {
      const v = m.value.toLocaleString("en-US");
      console.log(`${m.name.padEnd(64)} ${v.padStart(14)} ${m.unit.padEnd(7)} ${m.note ?? ""}`);
    }
  } catch (e) {
    failed = true;
    console.log(`  (suite failed: ${(e as Error).message})`);
  }
}
mkdirSync(join(CACHE, "bench"), { recursive: true });
writeFileSync(
  join(CACHE, "bench", "results.json"),
  JSON.stringify({ date: new Date().toISOString(), results: all }, null, 2),
);
process.exitCode = failed ? 1 : 0;
