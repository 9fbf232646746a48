/**
 * Runs the whole test suite with Node's built-in test runner (node:test), TypeScript via tsx.
 * `npm test` = typecheck + lint + every test/**\/*.test.ts. `--unit` skips the slow tiers
 * (files under test/e2e, test/oracle, test/fuzz). Extra args are file filters (substrings).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../test/support/fixtures.js";

const args = process.argv.slice(2);
const unit = args.includes("--unit");
const skipChecks = args.includes("--no-checks") || unit;
const filters = args.filter((a) => !a.startsWith("--"));

function walk(dir: string, out: string[]): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) {
      if (e !== "fixtures" && e !== "node_modules") walk(p, out);
    } else if (e.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

let files = walk(join(ROOT, "test"), []).sort();
if (unit) files = files.filter((f) => !/\/test\/(e2e|oracle|fuzz)\//.test(f));
if (filters.length > 0) files = files.filter((f) => filters.some((x) => relative(ROOT, f).includes(x)));

function run(cmd: string, argv: string[]): void {
  console.log(`$ ${cmd} ${argv.join(" ")}`);
  const r = spawnSync(cmd, argv, { cwd: ROOT, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!skipChecks && filters.length === 0) {
  run("npx", ["tsc", "-p", "tsconfig.json", "--noEmit"]);
  run("npx", ["biome", "check", "."]);
}
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
run(process.execPath, [
  "--import",
  "tsx",
  "--test",
  "--test-reporter=spec",
  `--test-concurrency=${process.env.GOSYMD_TEST_CONCURRENCY ?? "2"}`,
  ...files.map((f) => relative(ROOT, f)),
]);
