/**
 * pprof symbolization benchmark: a profile with 100,000 distinct locations in one binary (the buf
 * CLI, 19 MB of text) at random PCs of its text, symbolized in-process with the binary already
 * open. Reports cold and warm throughput (end to end: gunzip, resolve, re-encode, gzip; and the
 * uncompressed path), and — in a child process, so nothing else inflates the numbers — the peak
 * RSS and heap of symbolizing that profile and of a ~100 MB one with many samples.
 *
 * `npm run bench -- pprof`; or `node --import tsx bench/pprof.ts` to run it alone.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getHeapStatistics } from "node:v8";
import { gzipSync } from "node:zlib";
import { FileSource } from "../src/bytes/source.js";
import { openObject } from "../src/object/open.js";
import type { ProfileBinary } from "../src/pprof/index.js";
import { symbolizeProfile } from "../src/pprof/index.js";
import { openBinaryFile } from "../src/symtab/index.js";
import { npmFixture } from "../test/support/fixtures.js";

interface Metric {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const FIXTURE = "buf-1.75.0-linux-amd64";
const LOCATIONS = 100_000;

function open(path: string): { buildId: string; target: ProfileBinary; text: [number, number] } {
  const binary = openBinaryFile(path);
  const src = new FileSource(path);
  try {
    const obj = openObject(src);
    const text = obj.section(".text");
    if (!text) throw new Error(`${path} has no .text`);
    const buildId =
      binary.info.buildIds.gnu ?? binary.info.buildIds.go ?? `sha256:${binary.info.buildIds.sha256}`;
    return {
      buildId,
      target: { binary, segments: binary.info.segments ?? obj.segments },
      text: [text.addr, text.addr + text.size],
    };
  } finally {
    src.close();
  }
}

/** Minimal protobuf writer for building big inputs quickly (independent of src/pprof). */
class Out {
  buf = new Uint8Array(1 << 16);
  len = 0;
  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  varint(v: number): this {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.len++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
    return this;
  }
  key(f: number, wt: number): this {
    return this.varint(f * 8 + wt);
  }
  bytes(f: number, b: Uint8Array): this {
    this.key(f, 2).varint(b.length);
    this.room(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  done(): Buffer {
    return Buffer.from(this.buf.buffer, 0, this.len);
  }
}

function msg(build: (o: Out) => void): Uint8Array {
  const o = new Out();
  build(o);
  return o.buf.subarray(0, o.len);
}

/**
 * A bare CPU-style profile: one mapping (as /proc/self/maps shows a non-PIE binary's text),
 * `locations` distinct random text PCs, `samples` stacks of `depth` random locations.
 */
export function buildProfile(
  buildId: string,
  text: [number, number],
  locations: number,
  samples: number,
  depth: number,
  seed = 1,
): Buffer {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
  const pcs = new Set<number>();
  const span = text[1] - text[0];
  while (pcs.size < locations) pcs.add(text[0] + (((rnd() * 0x10000 + (rnd() & 0xffff)) % span) | 0));
  const strings = ["", "samples", "count", "cpu", "nanoseconds", "/usr/local/bin/buf", buildId];
  const top = new Out();
  top.bytes(
    1,
    msg((o) => o.key(1, 0).varint(1).key(2, 0).varint(2)),
  );
  top.bytes(
    1,
    msg((o) => o.key(1, 0).varint(3).key(2, 0).varint(4)),
  );
  top.bytes(
    3,
    msg((o) =>
      o
        .key(1, 0)
        .varint(1)
        .key(2, 0)
        .varint(0x400000)
        .key(3, 0)
        .varint(text[1])
        .key(5, 0)
        .varint(5)
        .key(6, 0)
        .varint(6),
    ),
  );
  let id = 0;
  const loc = new Out();
  for (const pc of pcs) {
    id++;
    loc.len = 0;
    loc.key(1, 0).varint(id).key(2, 0).varint(1).key(3, 0).varint(pc);
    top.bytes(4, loc.buf.subarray(0, loc.len));
  }
  const ids = new Out();
  const vals = new Out();
  const sample = new Out();
  // Stacks share prefixes like real call trees do (root frames common, leaves varied): each
  // stack keeps a random-length prefix of an earlier one and continues with random frames.
  const pool: number[][] = [];
  for (let i = 0; i < samples; i++) {
    ids.len = 0;
    vals.len = 0;
    sample.len = 0;
    const parent = pool.length > 0 ? pool[rnd() % pool.length]! : [];
    const keep = parent.length > 0 ? rnd() % parent.length : 0;
    const stack = parent.slice(0, keep);
    // Hot code is concentrated: skew frame choice toward a minority of locations.
    while (stack.length < depth) stack.push(1 + Math.floor(locations * (rnd() / 0x1_0000_0000) ** 3));
    if (pool.length < 4096) pool.push(stack);
    else pool[rnd() % pool.length] = stack;
    // Leaf first, as pprof stores them.
    for (let d = stack.length - 1; d >= 0; d--) ids.varint(stack[d]!);
    vals.varint(1 + (rnd() % 5)).varint(10_000_000);
    sample.bytes(1, ids.buf.subarray(0, ids.len)).bytes(2, vals.buf.subarray(0, vals.len));
    top.bytes(2, sample.buf.subarray(0, sample.len));
  }
  for (const str of strings) top.bytes(6, Buffer.from(str));
  top.key(11, 2).varint(4).key(1, 0).varint(3).key(2, 0).varint(4);
  top.key(12, 0).varint(10_000_000);
  return top.done();
}

async function timeIt<T>(f: () => Promise<T>): Promise<[T, number, number]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await f();
  const c = process.cpuUsage(c0);
  return [r, performance.now() - t0, (c.user + c.system) / 1000];
}

/** Child mode: symbolize one profile file, report peak RSS/heap as JSON on stdout. */
async function child(binPath: string, profilePath: string): Promise<void> {
  const { buildId, target } = open(binPath);
  const input = readFileSync(profilePath);
  if (global.gc) global.gc();
  const base = process.memoryUsage();
  const baseRss = base.rss;
  let peakHeap = base.heapUsed + base.arrayBuffers;
  let peakRss = baseRss;
  const sample = () => {
    const m = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m.heapUsed + m.arrayBuffers);
    peakRss = Math.max(peakRss, m.rss);
  };
  const timer = setInterval(sample, 5);
  const [r, ms] = await timeIt(() => symbolizeProfile(input, (id) => (id === buildId ? target : undefined)));
  sample();
  clearInterval(timer);
  const maxRssKb = process.resourceUsage().maxRSS;
  process.stdout.write(
    JSON.stringify({
      ms,
      inputBytes: input.length,
      inflatedBytes: r.stats.inputBytes,
      outputBytes: r.profile.length,
      resolved: r.stats.resolved,
      baseRss,
      peakRss: Math.max(peakRss, maxRssKb * 1024),
      baseHeap: base.heapUsed + base.arrayBuffers,
      peakHeap,
      heapLimit: getHeapStatistics().heap_size_limit,
    }),
  );
}

interface ChildResult {
  ms: number;
  inputBytes: number;
  inflatedBytes: number;
  outputBytes: number;
  resolved: number;
  baseRss: number;
  peakRss: number;
  baseHeap: number;
  peakHeap: number;
}

function runChild(binPath: string, profilePath: string): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--import", "tsx", self, "--child", binPath, profilePath], {
    encoding: "utf8",
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ChildResult;
}

const MB = 1024 * 1024;

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.floor(a.length / 2)]!;
}

export async function run(): Promise<Metric[]> {
  const metrics: Metric[] = [];
  const path = npmFixture(FIXTURE);
  const [{ buildId, target, text }, openMs] = await timeIt(async () => open(path));
  metrics.push({ name: "pprof: open buf binary", value: Math.round(openMs), unit: "ms" });

  const raw = buildProfile(buildId, text, LOCATIONS, 20_000, 8);
  const gz = gzipSync(raw, { level: 1 });
  const resolver = (id: string) => (id === buildId ? target : undefined);

  const [cold, coldMs, coldCpu] = await timeIt(() => symbolizeProfile(gz, resolver));
  metrics.push({
    name: "pprof: 100k locations, cold (first pass over the binary)",
    value: Math.round(LOCATIONS / (coldMs / 1000)),
    unit: "loc/s",
    note: `${coldMs.toFixed(0)} ms (${coldCpu.toFixed(0)} ms CPU); ${cold.stats.resolved} resolved, ${cold.stats.functionsAdded} functions`,
  });
  for (const [label, input, output] of [
    ["gzip in/out", gz, "gzip"],
    ["uncompressed in/out", raw, "raw"],
  ] as const) {
    const runs: [number, number][] = [];
    for (let i = 0; i < 7; i++) {
      const [, wall, cpu] = await timeIt(() => symbolizeProfile(input, resolver, { output }));
      runs.push([wall, cpu]);
    }
    const wall = median(runs.map((r) => r[0]));
    const cpu = median(runs.map((r) => r[1]));
    metrics.push({
      name: `pprof: 100k locations, warm, ${label} (median of 7, wall)`,
      value: Math.round(LOCATIONS / (wall / 1000)),
      unit: "loc/s",
      note: `${wall.toFixed(0)} ms; target >= 1,000,000 loc/s${output === "gzip" ? `; input ${(gz.length / MB).toFixed(1)} MB gz / ${(raw.length / MB).toFixed(1)} MB` : ""}`,
    });
    const bestCpu = Math.min(...runs.map((r) => r[1]));
    metrics.push({
      name: `pprof: 100k locations, warm, ${label} (median of 7, CPU time)`,
      value: Math.round(LOCATIONS / (cpu / 1000)),
      unit: "loc/s",
      note: `${cpu.toFixed(0)} ms of CPU (all threads; best run ${bestCpu.toFixed(0)} ms = ${Math.round(LOCATIONS / (bestCpu / 1000)).toLocaleString("en-US")} loc/s); less sensitive to a busy machine`,
    });
  }

  // Memory, each in a fresh process.
  const dir = mkdtempSync(join(tmpdir(), "gosymd-bench-pprof-"));
  try {
    const small = join(dir, "100k.pb.gz");
    writeFileSync(small, gz);
    const c1 = runChild(path, small);
    metrics.push({
      name: "pprof: 100k locations, peak RSS above the opened binary",
      value: Math.round((c1.peakRss - c1.baseRss) / MB),
      unit: "MB",
      note: `peak heap+buffers +${((c1.peakHeap - c1.baseHeap) / MB).toFixed(0)} MB; profile ${(c1.inflatedBytes / MB).toFixed(1)} MB inflated`,
    });
    // ~100 MB inflated: the same locations, many more samples.
    const big = join(dir, "big.pb.gz");
    writeFileSync(big, gzipSync(buildProfile(buildId, text, LOCATIONS, 1_300_000, 24, 7), { level: 1 }));
    const c2 = runChild(path, big);
    metrics.push({
      name: `pprof: ${(c2.inflatedBytes / MB).toFixed(0)} MB profile, peak RSS above the opened binary`,
      value: Math.round((c2.peakRss - c2.baseRss) / MB),
      unit: "MB",
      note:
        `${((c2.peakRss - c2.baseRss) / c2.inflatedBytes).toFixed(2)}x the inflated size ` +
        `(input ${(c2.inputBytes / MB).toFixed(0)} MB gz held by the caller, output ${(c2.outputBytes / MB).toFixed(0)} MB gz); ` +
        `heap+buffers +${((c2.peakHeap - c2.baseHeap) / MB).toFixed(0)} MB; ${c2.ms.toFixed(0)} ms`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  target.binary.close();
  return metrics;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === "--child") {
    await child(process.argv[3]!, process.argv[4]!);
  } else {
    for (const m of await run()) {
      console.log(
        `${m.name.padEnd(64)} ${m.value.toLocaleString("en-US").padStart(14)} ${m.unit.padEnd(7)} ${m.note ?? ""}`,
      );
    }
  }
}
