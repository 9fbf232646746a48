/**
 * The fuzzing loop, run in a worker thread so the main thread can stop a case that hangs. Before
 * each case the input is copied into shared memory and the state/time words are set; the main
 * thread's watchdog reads them, terminates the worker when a case runs too long (or the worker dies
 * of memory exhaustion) and writes the in-flight input as a finding.
 *
 * Modes: "fuzz" (seeded mutation loop for a time budget, coverage-guided) and "exec" (runs inputs
 * the main thread sends: replay and minimization).
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { Coverage, srcFilter } from "./coverage.js";
import { mutateBytes, mutateText, type Parent } from "./mutate.js";
import {
  CTL_CONTEXT,
  CTL_LEN,
  CTL_STATE,
  type FindingMessage,
  type FromWorker,
  STATE_IDLE,
  STATE_RUNNING,
  type ToWorker,
  type WorkerInit,
  type WorkerStats,
} from "./protocol.js";
import { Rng } from "./rng.js";
import type { Shape } from "./shape.js";

/** Normalizes a message for signatures: numbers do not make a finding distinct. */
function normalize(s: string): string {
  return s
    .replace(/0x[0-9a-f]+/gi, "N")
    .replace(/\d+/g, "N")
    .slice(0, 160);
}

/** "file.ts:line" of the first two stack frames in our sources (the first is often a helper). */
export function srcSite(stack: string | undefined): string {
  if (stack === undefined) return "?";
  const out: string[] = [];
  for (const line of stack.split("\n")) {
    const m = /\/(src\/[^\s:)]+):(\d+)/.exec(line);
    if (m && m[1] !== "src/bytes/errors.ts") out.push(`${m[1]}:${m[2]}`);
    if (out.length === 2) break;
  }
  return out.length > 0 ? out.join("<") : "?";
}

async function main(): Promise<void> {
  const init = workerData as WorkerInit;
  const port = parentPort!;
  const ctlI = new Int32Array(init.ctl, 0, 4);
  const ctlF = new Float64Array(init.ctl, 16, 1);
  // Coverage first: functions compiled before it starts have no block counters.
  const cov = init.coverage && init.mode === "fuzz" ? new Coverage(srcFilter) : undefined;
  const { GosymdError } = await import("../../src/bytes/errors.js");
  const { targetByName, PropertyViolation } = await import("./targets.js");
  const t0 = performance.now();
  const setup = await targetByName(init.target).setup({ quick: init.quick });
  const setupMs = performance.now() - t0;
  const inputSab = new SharedArrayBuffer(setup.maxLen + 16);
  const inputView = new Uint8Array(inputSab);
  port.postMessage({
    type: "ready",
    input: inputSab,
    contexts: setup.contexts,
    seeds: setup.seeds.length,
    setupMs,
  } satisfies FromWorker);

  const stats: WorkerStats = {
    cases: 0,
    fuzzMs: 0,
    runMs: 0,
    coverageMs: 0,
    corpus: 0,
    features: 0,
    findings: 0,
    duplicateFindings: 0,
    outcomes: {},
    slowestMs: 0,
    slowestTag: "",
  };
  let slowest: { bytes: Uint8Array; context: string } | undefined;
  const seen = new Map<string, number>(); // finding signature → smallest input size posted

  const memNow = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };

  /** Runs one case; returns its outcome tag and, when the property failed, the finding. */
  const runOnce = async (
    input: Uint8Array,
    context: number,
  ): Promise<{ tag: string; finding?: FindingMessage; ms: number }> => {
    if (input.length > setup.maxLen) input = input.subarray(0, setup.maxLen);
    inputView.set(input);
    ctlI[CTL_LEN] = input.length;
    ctlI[CTL_CONTEXT] = context;
    ctlF[0] = Date.now();
    Atomics.store(ctlI, CTL_STATE, STATE_RUNNING);
    const mem0 = memNow();
    const start = performance.now();
    let tag: string;
    let finding: FindingMessage | undefined;
    try {
      let r = setup.run(input, context);
      if (r instanceof Promise) r = await r;
      tag = `ok ${r ?? ""}`.trim();
    } catch (e) {
      if (!setup.neverThrows && e instanceof GosymdError) {
        tag = `${e.kind} ${(e.field ?? "").replace(/\d+/g, "N")} @${srcSite(e.stack)}`;
      } else {
        const err = e instanceof Error ? e : new Error(String(e));
        const kind = e instanceof PropertyViolation ? "violation" : "exception";
        const stack = err.stack ?? String(err);
        const cause =
          err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : "";
        finding = {
          kind,
          signature: `${kind} ${err.name}: ${normalize(err.message)} @${srcSite(err.cause instanceof Error ? err.cause.stack : stack)}`,
          message: `${err.name}: ${err.message}`,
          stack: stack + cause,
          context: setup.contexts[context] ?? String(context),
          bytes: input,
          ms: 0,
        };
        tag = `FINDING ${kind}`;
      }
    }
    const ms = performance.now() - start;
    Atomics.store(ctlI, CTL_STATE, STATE_IDLE);
    const grew = memNow() - mem0;
    if (finding === undefined && grew > init.memoryLimit) {
      finding = {
        kind: "memory",
        signature: `memory ${tag}`,
        message: `heap grew by ${(grew / 2 ** 20).toFixed(0)} MiB in one case (limit ${(init.memoryLimit / 2 ** 20).toFixed(0)} MiB)`,
        stack: "",
        context: setup.contexts[context] ?? String(context),
        bytes: input,
        ms,
      };
    }
    if (finding !== undefined) finding.ms = ms;
    return { tag, ms, ...(finding ? { finding } : {}) };
  };

  /** runOnce plus confirmation of slowness (a second run must be slow too: the machine is shared). */
  const runCase = async (input: Uint8Array, context: number) => {
    const r = await runOnce(input, context);
    if (r.finding === undefined && r.ms > setup.slowMs) {
      const again = await runOnce(input, context);
      if (again.ms > setup.slowMs && again.finding === undefined) {
        r.finding = {
          kind: "slow",
          signature: `slow ${r.tag}`,
          message: `one case took ${r.ms.toFixed(0)} ms and ${again.ms.toFixed(0)} ms (limit ${setup.slowMs} ms)`,
          stack: "",
          context: setup.contexts[context] ?? String(context),
          bytes: input,
          ms: Math.min(r.ms, again.ms),
        };
      }
    }
    return r;
  };

  const report = (f: FindingMessage) => {
    const prev = seen.get(f.signature);
    if (prev !== undefined && f.bytes.length * 2 > prev) {
      stats.duplicateFindings++;
      return;
    }
    if (prev === undefined) stats.findings++;
    seen.set(f.signature, f.bytes.length);
    port.postMessage({ type: "finding", finding: { ...f, bytes: f.bytes.slice() } } satisfies FromWorker);
  };

  if (init.mode === "exec") {
    Atomics.store(ctlI, CTL_STATE, STATE_IDLE);
    await new Promise<void>((resolve) => {
      port.on("message", async (m: ToWorker) => {
        if (m.type === "stop") {
          resolve();
          return;
        }
        const r = await runCase(m.bytes, m.context);
        port.postMessage({
          type: "result",
          id: m.id,
          tag: r.tag,
          ...(r.finding ? { finding: { ...r.finding, bytes: new Uint8Array(0) } } : {}),
        } satisfies FromWorker);
      });
    });
    port.close();
    return;
  }

  // ------------------------------------------------------------------------- fuzz mode
  interface Entry extends Parent {
    context: number;
    text?: string;
    seed: boolean;
    /** Blocks the input covered when it was added (deeper inputs are mutated more often). */
    energy: number;
  }
  const rng = new Rng(init.seed);
  const dec = new TextDecoder("utf-8", { fatal: false });
  const corpus: Entry[] = [];
  let corpusBytes = 0;
  const MAX_CORPUS = 2000;
  const MAX_CORPUS_BYTES = 256 << 20;
  let typicalEnergy = 1;
  const addEntry = (input: Uint8Array, context: number, seed: boolean, energy = typicalEnergy) => {
    // Plain Uint8Arrays only: a Buffer's slice() is a view, and mutators copy with slice().
    const bytes = Buffer.isBuffer(input) ? new Uint8Array(input) : input;
    let shape: Shape;
    try {
      shape = setup.shapeOf(bytes, context);
    } catch {
      shape = { fields: [], regions: [], boundaries: [], varints: [], spans: [] };
    }
    const e: Entry = {
      bytes,
      shape,
      context,
      seed,
      energy: Math.max(1, energy),
      ...(setup.text ? { text: dec.decode(bytes) } : {}),
    };
    if (corpus.length >= MAX_CORPUS || corpusBytes + bytes.length > MAX_CORPUS_BYTES) {
      // Replace a random non-seed entry.
      const victims = corpus.map((c, i) => (c.seed ? -1 : i)).filter((i) => i >= 0);
      if (victims.length === 0) return;
      const v = rng.pick(victims);
      corpusBytes -= corpus[v]!.bytes.length;
      corpus.splice(v, 1);
    }
    corpus.push(e);
    corpusBytes += bytes.length;
  };
  const features = new Set<number>();
  const tags = new Set<string>();
  const novel = (f: Set<number>): boolean => {
    for (const x of f) if (!features.has(x)) return true;
    return false;
  };
  const merge = (f: Set<number>) => {
    for (const x of f) features.add(x);
  };
  const count = (tag: string) => {
    const k = tag.length > 120 ? tag.slice(0, 120) : tag;
    if (stats.outcomes[k] !== undefined || Object.keys(stats.outcomes).length < 400)
      stats.outcomes[k] = (stats.outcomes[k] ?? 0) + 1;
  };

  // The seeds themselves, once each.
  cov?.reset();
  for (const s of setup.seeds) {
    const r = await runCase(s.bytes, s.context);
    stats.cases++;
    count(r.tag);
    tags.add(r.tag);
    if (r.finding) report(r.finding);
    const f = cov?.take();
    if (f) merge(f);
    addEntry(s.bytes, s.context, true, f?.size ?? 1);
  }
  // Inputs kept for a new outcome (often an early rejection) get little energy until coverage says more.
  if (cov) typicalEnergy = Math.max(1, Math.min(...corpus.map((c) => c.energy)) / 20);

  /** Seeds sometimes, otherwise by energy (how much the input covered). */
  const pickParent = (): Entry => {
    const x = rng.float();
    if (x < 0.15) return rng.pick(corpus.filter((c) => c.seed));
    let total = 0;
    // Squared: a corpus holds many shallow inputs (early rejections) and few deep ones.
    for (const c of corpus) total += c.energy * c.energy;
    let y = rng.float() * total;
    for (const c of corpus) {
      y -= c.energy * c.energy;
      if (y < 0) return c;
    }
    return corpus[corpus.length - 1]!;
  };
  const pickOther = (p: Entry): Entry | undefined => {
    const same = corpus.filter((c) => c.context === p.context && c !== p);
    return same.length > 0 ? rng.pick(same) : undefined;
  };
  const generate = (p: Entry): Uint8Array => {
    const other = pickOther(p);
    if (setup.text && p.text !== undefined && rng.chance(0.9)) {
      const text = mutateText(rng, p.text, other?.text, setup.maxLen);
      return new Uint8Array(Buffer.from(text, "utf8"));
    }
    const opt = { maxLen: setup.maxLen, ...(setup.dictionary ? { dictionary: setup.dictionary } : {}) };
    return setup.mutate?.(rng, p, other, opt) ?? mutateBytes(rng, p, other, opt);
  };

  const fuzzStart = performance.now();
  const deadline = Date.now() + init.fuzzMs;
  let lastProgress = Date.now();
  // Cases per coverage take: fixed (not timed) so that a seed always gives the same run.
  const batchCases = setup.batchCases ?? 8;
  while (Date.now() < deadline && stats.cases < init.maxCases) {
    const batch: Array<{ bytes: Uint8Array; context: number }> = [];
    do {
      const p = pickParent();
      const bytes = generate(p);
      const r = await runCase(bytes, p.context);
      stats.cases++;
      stats.runMs += r.ms;
      count(r.tag);
      if (r.ms > stats.slowestMs && r.finding === undefined) {
        // Timed again: on a shared machine one slow run is usually someone else's work or a GC.
        const ms = r.ms > 20 ? Math.min(r.ms, (await runOnce(bytes, p.context)).ms) : r.ms;
        if (ms > stats.slowestMs) {
          stats.slowestMs = ms;
          stats.slowestTag = r.tag;
          slowest = { bytes, context: setup.contexts[p.context] ?? "" };
        }
      }
      if (r.finding) report(r.finding);
      else if (!tags.has(r.tag)) {
        tags.add(r.tag);
        addEntry(bytes, p.context, false);
      }
      batch.push({ bytes, context: p.context });
    } while (
      cov !== undefined &&
      batch.length < batchCases &&
      Date.now() < deadline &&
      stats.cases < init.maxCases
    );
    if (cov !== undefined) {
      const f = cov.take();
      if (novel(f)) {
        if (batch.length === 1) {
          addEntry(batch[0]!.bytes, batch[0]!.context, false, f.size);
        } else {
          // Which inputs of the batch brought the new blocks? Re-run them one at a time.
          for (const b of batch) {
            const r = await runOnce(b.bytes, b.context);
            if (r.finding) continue;
            const g = cov.take();
            if (novel(g)) {
              addEntry(b.bytes, b.context, false, g.size);
              merge(g);
            }
          }
        }
        merge(f);
      }
    }
    if (Date.now() - lastProgress > 2000) {
      lastProgress = Date.now();
      stats.fuzzMs = performance.now() - fuzzStart;
      stats.corpus = corpus.length;
      stats.features = features.size;
      stats.coverageMs = cov?.takeMs ?? 0;
      port.postMessage({ type: "progress", stats } satisfies FromWorker);
    }
  }
  stats.fuzzMs = performance.now() - fuzzStart;
  stats.corpus = corpus.length;
  stats.features = features.size;
  stats.coverageMs = cov?.takeMs ?? 0;
  port.postMessage({ type: "done", stats, ...(slowest ? { slowest } : {}) } satisfies FromWorker);
}

if (!isMainThread) await main();
