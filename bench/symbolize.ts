/**
 * Engine benchmark (issue: symbolize any Go binary): 200,000 random PCs of a large real binary
 * (the buf CLI, ~58k functions) and of a PIE binary (the Go toolchain's own `go` command built
 * with -buildmode=pie by the newest Debian toolchain), through the CLI and in-process, next to
 * `go tool addr2line` on the same addresses. Ratios > 1 mean gosymd is faster.
 *
 * The machine is shared, so the CLI runs alternate with addr2line's (BENCH_ROUNDS each, default
 * 5) and report the best wall time, with the median and the CPU time (user + system of the child,
 * from /proc) in the note; the load average is printed with the results.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CACHE, goBin, newestGo, npmFixture, ROOT } from "../test/support/fixtures.js";
import { samplePcs } from "../test/support/sample.js";

export interface Metric {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const N = Number(process.env.BENCH_PCS ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function pieBinary(go: string, ver: string): string {
  const out = join(CACHE, "bench", `go-cmd-pie-go${ver}`);
  if (!existsSync(out)) {
    mkdirSync(join(CACHE, "bench"), { recursive: true });
    console.error(`building the PIE benchmark binary (cmd/go with -buildmode=pie, go${ver}); once…`);
    execFileSync(go, ["build", "-buildmode=pie", "-o", out, "cmd/go"], {
      env: {
        ...process.env,
        GOTOOLCHAIN: "local",
        GOFLAGS: "",
        CGO_ENABLED: "0",
        GOCACHE: join(CACHE, "gocache", ver),
      },
      stdio: ["ignore", "inherit", "inherit"],
    });
  }
  return out;
}

/** CPU ms (user + system) of this process's waited-for children, from /proc (undefined elsewhere). */
function childCpuMs(): number | undefined {
  try {
    const f = readFileSync("/proc/self/stat", "latin1");
    const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
    // Fields 16 and 17 (cutime, cstime), counted from 1 with the command name as field 2.
    return ((Number(rest[13]) + Number(rest[14])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

interface Run {
  ms: number;
  cpuMs: number | undefined;
  lines: number;
}

/**
 * The environment both tools run in: this one without NODE_EXTRA_CA_CERTS. Some sandboxes and CI
 * images set it machine-wide; Node then reads and parses that CA bundle at every start (+70 ms
 * measured here) although symbolizing never opens a TLS connection. A user's shell does not
 * normally set it; Go ignores it. The run that keeps it is reported too.
 */
const CLEAN_ENV = (() => {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
})();

function wall(cmd: string, args: string[], input: string, env: NodeJS.ProcessEnv = CLEAN_ENV): Run {
  const c0 = childCpuMs();
  const t = performance.now();
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, env });
  const ms = performance.now() - t;
  const c1 = childCpuMs();
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr.toString()}`);
  const cpuMs = c0 === undefined || c1 === undefined ? undefined : c1 - c0;
  // Count lines in the bytes: splitting 25 MB of output into strings would leave this process a
  // large heap to collect during the in-process measurements that follow.
  let lines = 0;
  for (let i = r.stdout.indexOf(10); i >= 0; i = r.stdout.indexOf(10, i + 1)) lines++;
  return { ms, cpuMs, lines };
}

interface Summary {
  best: number;
  median: number;
  cpuBest: number | undefined;
  lines: number;
}

function summarize(runs: Run[]): Summary {
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
  const cpu = runs.flatMap((r) => (r.cpuMs === undefined ? [] : [r.cpuMs])).sort((a, b) => a - b);
  return { best: ms[0]!, median: ms[ms.length >> 1]!, cpuBest: cpu[0], lines: runs[0]!.lines };
}

function describe(s: Summary): string {
  return `median ${Math.round(s.median)} ms${s.cpuBest === undefined ? "" : `, CPU ${Math.round(s.cpuBest)} ms`}`;
}

export async function run(): Promise<Metric[]> {
  const ver = newestGo();
  if (!ver) throw new Error("no Go toolchain installed (bash scripts/install-system-deps.sh)");
  const go = goBin(ver);
  const cli = join(ROOT, "dist/cli/main.js");
  if (!existsSync(cli)) throw new Error("dist/ missing: run `npm run build` first");
  const metrics: Metric[] = [];
  const load0 = loadavg()[0]!;
  const targets: Array<[string, string]> = [
    ["buf (58k funcs, static)", npmFixture("buf-1.75.0-linux-amd64")],
    [`cmd/go PIE (go${ver})`, pieBinary(go, ver)],
  ];
  for (const [label, bin] of targets) {
    const pcs = samplePcs(bin, N, 42);
    const input = `${pcs.map((p) => `0x${p.toString(16)}`).join("\n")}\n`;
    const tmp = join(CACHE, "bench", "addrs.txt");
    writeFileSync(tmp, input);

    // Alternating, so that load from elsewhere hits both alike.
    const alternate = (stdin: string): { a2l: Summary; ours: Summary } => {
      const a2lRuns: Run[] = [];
      const ourRuns: Run[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        a2lRuns.push(wall(go, ["tool", "addr2line", bin], stdin));
        ourRuns.push(wall(process.execPath, [cli, "symbolize", "--binary", bin], stdin));
      }
      return { a2l: summarize(a2lRuns), ours: summarize(ourRuns) };
    };
    const { a2l, ours } = alternate(input);
    metrics.push(
      {
        name: `${label}: go tool addr2line, ${N} PCs`,
        value: Math.round(a2l.best),
        unit: "ms",
        note: `best of ${ROUNDS}, ${describe(a2l)}; 1 frame per PC`,
      },
      {
        name: `${label}: gosymd symbolize CLI, ${N} PCs`,
        value: Math.round(ours.best),
        unit: "ms",
        note: `best of ${ROUNDS}, ${describe(ours)}; full inline chains, ${(ours.lines / 2 / N).toFixed(2)} frames/PC`,
      },
      {
        name: `${label}: CLI speed ratio vs addr2line`,
        value: +(a2l.best / ours.best).toFixed(2),
        unit: "x",
        note: `>1 = gosymd faster (medians: ${(a2l.median / ours.median).toFixed(2)})`,
      },
    );
    // One address: what a person running it by hand waits for (start-up and opening the binary).
    const { a2l: a1, ours: o1 } = alternate(`0x${pcs[0]!.toString(16)}\n`);
    metrics.push({
      name: `${label}: one address, gosymd CLI vs addr2line`,
      value: Math.round(o1.median),
      unit: "ms",
      note: `median of ${ROUNDS}; addr2line ${Math.round(a1.median)} ms; start-up and opening the binary`,
    });
    if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
      // The same with this environment's NODE_EXTRA_CA_CERTS left in (see CLEAN_ENV).
      const withCa: Run[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        withCa.push(wall(process.execPath, [cli, "symbolize", "--binary", bin], input, process.env));
      }
      const w = summarize(withCa);
      metrics.push({
        name: `${label}: gosymd CLI with NODE_EXTRA_CA_CERTS set`,
        value: Math.round(w.best),
        unit: "ms",
        note: `best of ${ROUNDS}, ${describe(w)}; Node parses the CA bundle at start; ratio ${(a2l.best / w.best).toFixed(2)} x`,
      });
    }

    // In-process: in a fresh process of its own (this one holds the CLI runs' output), on the
    // engine as shipped (dist/).
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(ROOT, "bench/inproc.ts"), label, bin, String(N)],
      {
        encoding: "utf8",
        maxBuffer: 1 << 26,
      },
    );
    if (r.status !== 0) throw new Error(`bench/inproc.ts failed: ${r.stderr}`);
    metrics.push(...(JSON.parse(r.stdout) as Metric[]));
  }
  const [load1, load5] = loadavg();
  metrics.push({
    name: "load average (1 min) at start / end",
    value: +load0.toFixed(2),
    unit: "",
    note: `end: ${load1!.toFixed(2)} (5 min ${load5!.toFixed(2)}) on ${process.env.CI ? "CI" : "this machine"}`,
  });
  return metrics;
}
