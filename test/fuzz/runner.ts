/**
 * Main-thread side of the fuzzer: starts the worker (test/fuzz/worker.ts), watches each case
 * (hang watchdog on the shared control words; memory exhaustion kills the worker), restarts the
 * worker after a hang or crash while time remains, and writes findings to
 * .cache/fuzz/findings/<target>-<hash>.bin with a .json sidecar (kind, message, stack, context,
 * the command to reproduce). Also replays and minimizes saved inputs through the same worker.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Worker } from "node:worker_threads";
import { gunzipSync } from "node:zlib";
import { ROOT } from "../support/fixtures.js";
import type { FindingMessage, FromWorker, ToWorker, WorkerInit, WorkerStats } from "./protocol.js";
import { CTL_CONTEXT, CTL_LEN, CTL_STATE, STATE_RUNNING } from "./protocol.js";

export const FINDINGS_DIR = join(ROOT, ".cache", "fuzz", "findings");

export interface FuzzOptions {
  target: string;
  /** Fuzzing time (seconds), not counting the set-up of seeds. */
  seconds: number;
  seed: number;
  /** Fewer seeds (the test suite's short runs). */
  quick?: boolean;
  /** Coverage guidance (default true). */
  coverage?: boolean;
  maxCases?: number;
  /** A case running longer than this is stopped and reported as a hang (default 10 s). */
  hangMs?: number;
  /** Heap growth within one case that is a finding (default 768 MiB). */
  memoryLimitMb?: number;
  /** The worker's old-generation cap: beyond it the worker dies and the case is an "oom" finding. */
  heapMb?: number;
  /** Where findings go (default .cache/fuzz/findings); null: not written. */
  findingsDir?: string | null;
  log?: (line: string) => void;
}

export interface FindingRecord {
  target: string;
  kind: FindingMessage["kind"];
  signature: string;
  message: string;
  stack: string;
  context: string;
  size: number;
  ms: number;
  seed: number;
  /** Path of the saved input (undefined when not written). */
  file?: string;
  bytes: Uint8Array;
}

export interface FuzzSummary {
  target: string;
  cases: number;
  fuzzSeconds: number;
  execsPerSec: number;
  setupSeconds: number;
  corpus: number;
  features: number;
  coverageSeconds: number;
  restarts: number;
  findings: FindingRecord[];
  outcomes: Record<string, number>;
  seeds: number;
  contexts: string[];
  /** The slowest mutated case that passed (saved under .cache/fuzz/slowest/ when findings are written). */
  slowestMs: number;
  slowestTag: string;
  slowestFile?: string;
  /** Failures outside any case (e.g. the seeds could not be set up). */
  errors: string[];
}

/** Starts the worker: a tiny CommonJS bootstrap registers tsx, then imports worker.ts. */
function startWorker(init: WorkerInit, heapMb: number): Worker {
  const tsx = import.meta.resolve("tsx/esm/api");
  const url = new URL("./worker.ts", import.meta.url).href;
  const code = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(url)}); });`;
  return new Worker(code, {
    eval: true,
    workerData: init,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
    stdout: false,
    stderr: false,
  });
}

function sigHash(target: string, signature: string): string {
  return createHash("sha256").update(`${target}\0${signature}`).digest("hex").slice(0, 12);
}

export function reproduceCommand(target: string, file: string): string {
  return `npm run fuzz -- --target ${target} --replay ${relative(process.cwd(), file) || file}`;
}

/** Writes a finding (keeping the smaller input when one with the same signature exists). */
function saveFinding(dir: string, rec: FindingRecord): string {
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `${rec.target}-${sigHash(rec.target, rec.signature)}`);
  const bin = `${base}.bin`;
  if (existsSync(bin) && statSync(bin).size <= rec.bytes.length) return bin;
  writeFileSync(bin, rec.bytes);
  const { bytes: _bytes, file: _file, ...meta } = rec;
  writeFileSync(
    `${base}.json`,
    `${JSON.stringify({ ...meta, found: new Date().toISOString(), reproduce: reproduceCommand(rec.target, bin) }, null, 2)}\n`,
  );
  return bin;
}

export function formatFinding(rec: FindingRecord): string {
  const stack = rec.stack
    .split("\n")
    .filter((l) => l.trim() !== "")
    .slice(0, 14)
    .map((l) => `    ${l}`)
    .join("\n");
  const lines = [
    `FINDING [${rec.target}] ${rec.kind}: ${rec.message}`,
    ...(stack ? [stack] : []),
    `  input: ${rec.size} bytes, context "${rec.context}", ${rec.ms.toFixed(0)} ms`,
  ];
  if (rec.file !== undefined) {
    lines.push(`  saved: ${relative(process.cwd(), rec.file)}`);
    lines.push(`  reproduce: ${reproduceCommand(rec.target, rec.file)}`);
  }
  return lines.join("\n");
}

/** Fuzzes one target for `seconds` (plus seed set-up); restarts the worker after hangs and crashes. */
export async function fuzzTarget(opts: FuzzOptions): Promise<FuzzSummary> {
  const log = opts.log ?? (() => {});
  const hangMs = opts.hangMs ?? 10_000;
  const findings: FindingRecord[] = [];
  const summary: FuzzSummary = {
    target: opts.target,
    cases: 0,
    fuzzSeconds: 0,
    execsPerSec: 0,
    setupSeconds: 0,
    corpus: 0,
    features: 0,
    coverageSeconds: 0,
    restarts: 0,
    findings,
    outcomes: {},
    seeds: 0,
    contexts: [],
    slowestMs: 0,
    slowestTag: "",
    errors: [],
  };
  const dir = opts.findingsDir === undefined ? FINDINGS_DIR : opts.findingsDir;
  const record = (f: FindingMessage, seed: number) => {
    const rec: FindingRecord = {
      target: opts.target,
      kind: f.kind,
      signature: f.signature,
      message: f.message,
      stack: f.stack,
      context: f.context,
      size: f.bytes.length,
      ms: f.ms,
      seed,
      bytes: f.bytes,
    };
    if (dir !== null) rec.file = saveFinding(dir, rec);
    const same = findings.findIndex((x) => x.signature === rec.signature);
    if (same >= 0) findings[same] = rec;
    else findings.push(rec);
    log(formatFinding(rec));
  };

  let remainingMs = opts.seconds * 1000;
  let maxCases = opts.maxCases ?? Number.MAX_SAFE_INTEGER;
  let seed = opts.seed;
  for (let attempt = 0; remainingMs > 0 && maxCases > 0 && attempt < 50; attempt++) {
    const ctl = new SharedArrayBuffer(32);
    const ctlI = new Int32Array(ctl, 0, 4);
    const ctlF = new Float64Array(ctl, 16, 1);
    const init: WorkerInit = {
      target: opts.target,
      mode: "fuzz",
      seed,
      fuzzMs: remainingMs,
      maxCases,
      quick: opts.quick ?? false,
      coverage: opts.coverage ?? true,
      ctl,
      memoryLimit: (opts.memoryLimitMb ?? 768) * 2 ** 20,
    };
    const w = startWorker(init, opts.heapMb ?? 3072);
    let input: SharedArrayBuffer | undefined;
    let contexts: string[] = [];
    let readyAt = 0;
    let stats: WorkerStats | undefined;
    const outcome = await new Promise<"done" | "hang" | "crash" | "timeout">((resolve) => {
      let settled = false;
      const finish = (o: "done" | "hang" | "crash" | "timeout") => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        resolve(o);
      };
      const inFlight = (): FindingMessage | undefined => {
        if (input === undefined || Atomics.load(ctlI, CTL_STATE) !== STATE_RUNNING) return undefined;
        const len = ctlI[CTL_LEN]!;
        return {
          kind: "hang",
          signature: "",
          message: "",
          stack: "",
          context: contexts[ctlI[CTL_CONTEXT]!] ?? "",
          bytes: new Uint8Array(input, 0, len).slice(),
          ms: Date.now() - ctlF[0]!,
        };
      };
      const timer = setInterval(() => {
        if (readyAt > 0 && Date.now() > readyAt + remainingMs + hangMs + 30_000) {
          // The worker should have stopped by its deadline; a case is stuck.
          const f = inFlight();
          if (f) {
            record(
              {
                ...f,
                signature: `hang ${sigHash(opts.target, Buffer.from(f.bytes).toString("latin1"))}`,
                message: `a case ran for more than ${f.ms} ms`,
              },
              seed,
            );
          }
          void w.terminate();
          finish(f ? "hang" : "timeout");
          return;
        }
        const f = inFlight();
        if (f !== undefined && f.ms > hangMs) {
          record(
            {
              ...f,
              signature: `hang ${sigHash(opts.target, Buffer.from(f.bytes).toString("latin1"))}`,
              message: `a case ran for more than ${hangMs} ms and was stopped`,
            },
            seed,
          );
          void w.terminate();
          finish("hang");
        }
      }, 100);
      w.on("message", (m: FromWorker) => {
        if (m.type === "ready") {
          input = m.input;
          contexts = m.contexts;
          readyAt = Date.now();
          summary.seeds = m.seeds;
          summary.contexts = m.contexts;
          summary.setupSeconds += m.setupMs / 1000;
          log(
            `[${opts.target}] ready: ${m.seeds} seeds, ${m.contexts.length} contexts, set-up ${(m.setupMs / 1000).toFixed(1)} s`,
          );
        } else if (m.type === "finding") {
          record(m.finding, seed);
        } else if (m.type === "progress") {
          stats = m.stats;
          log(
            `[${opts.target}] ${m.stats.cases} cases, ${(m.stats.cases / Math.max(0.001, m.stats.fuzzMs / 1000)).toFixed(0)}/s, corpus ${m.stats.corpus}, blocks ${m.stats.features}, findings ${m.stats.findings}`,
          );
        } else if (m.type === "done") {
          stats = m.stats;
          if (m.slowest !== undefined && m.stats.slowestMs > summary.slowestMs && dir !== null) {
            const sdir = join(dir, "..", "slowest");
            mkdirSync(sdir, { recursive: true });
            summary.slowestFile = join(sdir, `${opts.target}.bin`);
            writeFileSync(summary.slowestFile, m.slowest.bytes);
            writeFileSync(
              join(sdir, `${opts.target}.json`),
              `${JSON.stringify({ target: opts.target, context: m.slowest.context, ms: m.stats.slowestMs, tag: m.stats.slowestTag }, null, 2)}\n`,
            );
          }
          finish("done");
        }
      });
      w.on("error", (e: Error & { code?: string }) => {
        const f = inFlight();
        const oom = e.code === "ERR_WORKER_OUT_OF_MEMORY";
        if (f) {
          record(
            {
              ...f,
              kind: oom ? "oom" : "crash",
              signature: `${oom ? "oom" : "crash"} ${e.code ?? e.name}`,
              message: `the worker died running this case: ${e.message}`,
              stack: e.stack ?? "",
            },
            seed,
          );
        } else {
          summary.errors.push(e.stack ?? e.message);
          log(`[${opts.target}] worker error outside a case: ${e.stack ?? e.message}`);
        }
        finish("crash");
      });
      w.on("exit", () => finish("crash"));
    });
    await w.terminate();
    const ranMs = readyAt > 0 ? Date.now() - readyAt : 0;
    if (stats) {
      summary.cases += stats.cases;
      summary.fuzzSeconds += stats.fuzzMs / 1000;
      summary.corpus = Math.max(summary.corpus, stats.corpus);
      summary.features = Math.max(summary.features, stats.features);
      summary.coverageSeconds += stats.coverageMs / 1000;
      if (stats.slowestMs > summary.slowestMs) {
        summary.slowestMs = stats.slowestMs;
        summary.slowestTag = stats.slowestTag;
      }
      for (const [k, v] of Object.entries(stats.outcomes))
        summary.outcomes[k] = (summary.outcomes[k] ?? 0) + v;
      maxCases -= stats.cases;
    }
    if (outcome === "done" || readyAt === 0) break;
    remainingMs -= ranMs;
    summary.restarts++;
    seed = (seed * 31 + 7919) >>> 0;
    log(
      `[${opts.target}] restarting the worker after a ${outcome} (${(remainingMs / 1000).toFixed(0)} s left)`,
    );
  }
  summary.execsPerSec = summary.fuzzSeconds > 0 ? summary.cases / summary.fuzzSeconds : 0;
  return summary;
}

// ---------------------------------------------------------------------------------------------
// Replay and minimization

export interface SavedInput {
  file: string;
  bytes: Uint8Array;
  /** Context name from the .json sidecar (or given), else the target's first context. */
  context?: string;
}

/** A saved input: FILE.bin, or FILE.bin.gz (regression inputs are stored compressed); context from FILE.json. */
export function loadSaved(file: string, context?: string): SavedInput {
  const raw = readFileSync(file);
  const bytes = new Uint8Array(file.endsWith(".gz") ? gunzipSync(raw) : raw);
  const side = file.replace(/\.bin(\.gz)?$/, ".json");
  let ctx = context;
  if (ctx === undefined && side !== file && existsSync(side)) {
    const meta = JSON.parse(readFileSync(side, "utf8")) as { context?: string };
    ctx = meta.context;
  }
  return { file, bytes, ...(ctx !== undefined ? { context: ctx } : {}) };
}

export interface ExecResult {
  tag: string;
  finding?: FindingMessage;
  ms: number;
}

/** A worker in exec mode: runs inputs one at a time under the hang watchdog. */
export class Executor {
  private w: Worker | undefined;
  private ctlI!: Int32Array;
  private ctlF!: Float64Array;
  private next = 0;
  contexts: string[] = [];

  private constructor(
    readonly target: string,
    private readonly quick: boolean,
    private readonly hangMs: number,
    private readonly heapMb: number,
  ) {}

  static async start(target: string, opts: { quick?: boolean; hangMs?: number; heapMb?: number } = {}) {
    const e = new Executor(target, opts.quick ?? false, opts.hangMs ?? 10_000, opts.heapMb ?? 3072);
    await e.boot();
    return e;
  }

  private async boot(): Promise<void> {
    const ctl = new SharedArrayBuffer(32);
    this.ctlI = new Int32Array(ctl, 0, 4);
    this.ctlF = new Float64Array(ctl, 16, 1);
    const w = startWorker(
      {
        target: this.target,
        mode: "exec",
        seed: 1,
        fuzzMs: 0,
        maxCases: 0,
        quick: this.quick,
        coverage: false,
        ctl,
        memoryLimit: 768 * 2 ** 20,
      },
      this.heapMb,
    );
    this.w = w;
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: FromWorker) => {
        if (m.type === "ready") {
          this.contexts = m.contexts;
          w.off("message", onMsg);
          resolve();
        }
      };
      w.on("message", onMsg);
      w.once("error", reject);
    });
  }

  contextIndex(name: string | undefined): number {
    if (name === undefined) return 0;
    const i = this.contexts.indexOf(name);
    if (i < 0)
      throw new Error(`context "${name}" is not one of ${this.target}'s: ${this.contexts.join(", ")}`);
    return i;
  }

  async exec(bytes: Uint8Array, context: number): Promise<ExecResult> {
    if (this.w === undefined) await this.boot();
    const w = this.w!;
    const id = ++this.next;
    return new Promise<ExecResult>((resolve) => {
      let done = false;
      const t0 = Date.now();
      const finish = (r: ExecResult) => {
        if (done) return;
        done = true;
        clearInterval(timer);
        w.off("message", onMsg);
        w.off("error", onErr);
        resolve(r);
      };
      const onMsg = (m: FromWorker) => {
        if (m.type === "result" && m.id === id)
          finish({ tag: m.tag, ...(m.finding ? { finding: m.finding } : {}), ms: Date.now() - t0 });
      };
      const onErr = (e: Error & { code?: string }) => {
        this.w = undefined;
        const oom = e.code === "ERR_WORKER_OUT_OF_MEMORY";
        finish({
          tag: oom ? "FINDING oom" : "FINDING crash",
          finding: {
            kind: oom ? "oom" : "crash",
            signature: `${oom ? "oom" : "crash"} ${e.code ?? e.name}`,
            message: e.message,
            stack: e.stack ?? "",
            context: this.contexts[context] ?? "",
            bytes: new Uint8Array(0),
            ms: Date.now() - t0,
          },
          ms: Date.now() - t0,
        });
      };
      const timer = setInterval(() => {
        if (
          Atomics.load(this.ctlI, CTL_STATE) === STATE_RUNNING &&
          Date.now() - this.ctlF[0]! > this.hangMs
        ) {
          void w.terminate();
          this.w = undefined;
          finish({
            tag: "FINDING hang",
            finding: {
              kind: "hang",
              signature: "hang",
              message: `stopped after ${this.hangMs} ms`,
              stack: "",
              context: this.contexts[context] ?? "",
              bytes: new Uint8Array(0),
              ms: Date.now() - t0,
            },
            ms: Date.now() - t0,
          });
        }
      }, 50);
      w.on("message", onMsg);
      w.on("error", onErr);
      w.postMessage({ type: "exec", id, bytes, context } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    if (this.w !== undefined) await this.w.terminate();
    this.w = undefined;
  }
}

/** The signature a minimized input must keep (hangs: any hang). */
function keepSignature(r: ExecResult): string | undefined {
  if (r.finding === undefined) return undefined;
  return r.finding.kind === "hang" ? "hang" : r.finding.signature;
}

/**
 * Shrinks an input while it still fails the same way, within a budget of runs and time: cut the
 * tail (halving), zero chunks (large to 64 bytes: structured binaries keep their offsets, and the
 * result compresses well), then delete chunks (halving down to one byte) once it is small.
 */
export async function minimize(
  ex: Executor,
  bytes: Uint8Array,
  context: number,
  opts: { maxExecs?: number; seconds?: number; log?: (s: string) => void } = {},
): Promise<{ bytes: Uint8Array; signature: string; execs: number } | undefined> {
  const first = await ex.exec(bytes, context);
  const sig = keepSignature(first);
  if (sig === undefined) return undefined;
  const maxExecs = opts.maxExecs ?? 5000;
  const deadline = Date.now() + (opts.seconds ?? 300) * 1000;
  let execs = 1;
  let cur = bytes;
  const fails = async (cand: Uint8Array) => {
    execs++;
    return keepSignature(await ex.exec(cand, context)) === sig;
  };
  const budget = () => execs < maxExecs && Date.now() < deadline;
  // Tail cuts.
  for (let cut = cur.length >> 1; cut >= 1 && budget(); ) {
    if (cur.length - cut > 0 && (await fails(cur.subarray(0, cur.length - cut)))) {
      cur = cur.slice(0, cur.length - cut);
    } else cut >>= 1;
  }
  opts.log?.(`minimize: ${cur.length} bytes after tail cuts (${execs} runs)`);
  // Zeroing.
  if (cur.length > 256) {
    for (let chunk = cur.length >> 1; chunk >= 64 && budget(); chunk >>= 1) {
      for (let i = 0; i < cur.length && budget(); i += chunk) {
        const part = cur.subarray(i, i + chunk);
        if (part.every((x) => x === 0)) continue;
        const cand = cur.slice();
        cand.fill(0, i, i + chunk);
        if (await fails(cand)) cur = cand;
      }
    }
    opts.log?.(`minimize: zeroed to ${cur.filter((x) => x !== 0).length} non-zero bytes (${execs} runs)`);
  }
  // Chunk deletions.
  if (cur.length <= 256 << 10) {
    for (let chunk = Math.max(1, cur.length >> 2); chunk >= 1 && budget(); chunk >>= 1) {
      for (let i = 0; i + chunk <= cur.length && budget(); ) {
        const cand = new Uint8Array(cur.length - chunk);
        cand.set(cur.subarray(0, i));
        cand.set(cur.subarray(i + chunk), i);
        if (await fails(cand)) cur = cand;
        else i += chunk;
      }
    }
    opts.log?.(`minimize: ${cur.length} bytes after deletions (${execs} runs)`);
  }
  return { bytes: cur, signature: sig, execs };
}
