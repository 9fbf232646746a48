/**
 * Seed-based, coverage-guided mutation fuzzer for gosymd's decoders (see test/fuzz/).
 *
 *   npm run fuzz -- [--target NAME]... [--seconds N] [--seed S] [--quick] [--no-coverage]
 *   npm run fuzz -- --target NAME --replay FILE [--context NAME] [--minimize]
 *
 * Targets: object, buildinfo, pclntab, symtab, crash, pprof, core, hpack (default: all, one after the
 * other, N seconds each). Findings go to .cache/fuzz/findings/<target>-<hash>.bin (+ .json with the
 * stack) and are printed with the command that replays them. Exit status 1 when anything was found
 * (or a replayed input still fails).
 */
import { statSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import {
  Executor,
  formatFinding,
  fuzzTarget,
  loadSaved,
  minimize,
  reproduceCommand,
} from "../test/fuzz/runner.js";
import { TARGETS } from "../test/fuzz/targets.js";

interface Args {
  targets: string[];
  seconds: number;
  seed: number;
  quick: boolean;
  coverage: boolean;
  replay: string[];
  context?: string;
  minimize: boolean;
  hangMs?: number;
}

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error(
    `usage: npm run fuzz -- [--target NAME]... [--seconds N] [--seed S] [--quick] [--no-coverage] [--hang-ms MS]
       npm run fuzz -- --target NAME --replay FILE [--context NAME] [--minimize]
targets: ${TARGETS.map((t) => `${t.name} (${t.description})`).join("\n         ")}`,
  );
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    targets: [],
    seconds: 60,
    seed: Date.now() >>> 0,
    quick: false,
    coverage: true,
    replay: [],
    minimize: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${x} needs a value`);
      return v;
    };
    if (x === "--target") a.targets.push(...val().split(","));
    else if (x === "--seconds") a.seconds = Number(val());
    else if (x === "--seed") a.seed = Number(val()) >>> 0;
    else if (x === "--quick") a.quick = true;
    else if (x === "--no-coverage") a.coverage = false;
    else if (x === "--replay") a.replay.push(val());
    else if (x === "--context") a.context = val();
    else if (x === "--minimize") a.minimize = true;
    else if (x === "--hang-ms") a.hangMs = Number(val());
    else if (x === "--help" || x === "-h") usage();
    else usage(`unknown argument ${x}`);
  }
  for (const t of a.targets) if (!TARGETS.some((x) => x.name === t)) usage(`unknown target ${t}`);
  if (!(a.seconds > 0)) usage("--seconds must be positive");
  return a;
}

async function replay(args: Args): Promise<number> {
  if (args.targets.length !== 1) usage("--replay needs exactly one --target");
  const target = args.targets[0]!;
  const ex = await Executor.start(target, {
    quick: args.quick,
    ...(args.hangMs ? { hangMs: args.hangMs } : {}),
  });
  let failing = 0;
  try {
    for (const file of args.replay) {
      const saved = loadSaved(file, args.context);
      const ctx = ex.contextIndex(saved.context);
      const r = await ex.exec(saved.bytes, ctx);
      if (r.finding === undefined) {
        console.log(`${file}: passes (${r.tag}, ${r.ms} ms)`);
        continue;
      }
      failing++;
      console.log(
        formatFinding({
          target,
          ...r.finding,
          size: saved.bytes.length,
          seed: 0,
          bytes: saved.bytes,
        }),
      );
      if (args.minimize) {
        const m = await minimize(ex, saved.bytes, ctx, { log: (s) => console.log(s) });
        if (m !== undefined) {
          const out = file.replace(/(\.bin)?(\.gz)?$/, ".min.bin.gz");
          writeFileSync(out, gzipSync(m.bytes, { level: 9 }));
          writeFileSync(
            out.replace(/\.bin\.gz$/, ".json"),
            `${JSON.stringify({ target, context: ex.contexts[ctx], signature: m.signature, size: m.bytes.length }, null, 2)}\n`,
          );
          console.log(
            `minimized to ${m.bytes.length} bytes (${statSync(out).size} gzipped) in ${m.execs} runs: ${out}`,
          );
          console.log(`  reproduce: ${reproduceCommand(target, out)}`);
        }
      }
    }
  } finally {
    await ex.close();
  }
  return failing > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.replay.length > 0) return replay(args);
  const targets = args.targets.length > 0 ? args.targets : TARGETS.map((t) => t.name);
  console.log(`fuzz: targets ${targets.join(", ")}; ${args.seconds} s each; seed ${args.seed}`);
  const rows: string[] = [];
  let found = 0;
  for (const target of targets) {
    const s = await fuzzTarget({
      target,
      seconds: args.seconds,
      seed: args.seed,
      quick: args.quick,
      coverage: args.coverage,
      ...(args.hangMs ? { hangMs: args.hangMs } : {}),
      log: (l) => console.log(l),
    });
    found += s.findings.length + s.errors.length;
    for (const e of s.errors) console.log(`[${target}] ERROR outside a case:\n${e}`);
    const top = Object.entries(s.outcomes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => `${v}× ${k}`)
      .join("; ");
    console.log(`[${target}] outcomes: ${top}`);
    console.log(
      `[${target}] slowest passing case: ${s.slowestMs.toFixed(0)} ms (${s.slowestTag})${s.slowestFile ? ` saved as ${s.slowestFile}` : ""}`,
    );
    rows.push(
      `${target.padEnd(10)} ${String(s.cases).padStart(8)} cases ${s.execsPerSec.toFixed(1).padStart(8)}/s  corpus ${String(s.corpus).padStart(5)}  blocks ${String(s.features).padStart(6)}  coverage ${((100 * s.coverageSeconds) / Math.max(0.001, s.fuzzSeconds)).toFixed(0)}%  findings ${s.findings.length}${s.restarts ? `  restarts ${s.restarts}` : ""}`,
    );
  }
  console.log(`\nsummary (seed ${args.seed}):\n${rows.join("\n")}`);
  return found > 0 ? 1 : 0;
}

process.exitCode = await main();
