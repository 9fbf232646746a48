/**
 * Service benchmark (issue: symbolization service), end to end through a real gRPC client
 * (@grpc/grpc-js + our .proto) over loopback. The server runs in this process; the client runs in
 * a child process (this file with GOSYMD_BENCH_CLIENT set), so each gets one of the two cores.
 *
 *  - warm throughput: 10,000-address batches of random PCs inside functions of the buf CLI
 *    (~46 MB, ~58k functions), 3 requests in flight, binary already decoded;
 *  - latency: 100-address requests sent open-loop at half the measured maximum address rate;
 *    p50 / p99 client-side latency;
 *  - cold: first request for the ~46 MB binary from the local store (cache empty), median of 3;
 *  - memory: RSS during sustained load cycling through more binaries than the cache budget holds.
 */
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pclnTableOf } from "../src/symtab/binary.js";
import { openBinaryFile } from "../src/symtab/index.js";
import { npmFixture, npmFixtureList, ROOT } from "../test/support/fixtures.js";

export interface Metric {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const BIG = "buf-1.75.0-linux-amd64";

function samplePcs(bin: string, n: number, seed = 7): number[] {
  const b = openBinaryFile(bin);
  const t = pclnTableOf(b);
  if (!t) throw new Error(`no pclntab in ${bin}`);
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const pcs: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = Math.floor(rnd() * t.nfunc);
    const start = t.entry(f);
    const size = Math.max(1, t.end(f) - start);
    pcs.push(start + Math.floor(rnd() * size));
  }
  b.close();
  return pcs;
}

// ---------------------------------------------------------------- client (child process)

interface ClientJob {
  kind: "throughput" | "latency";
  url: string;
  buildIds: string[];
  pcs: number[];
  batch: number;
  seconds: number;
  concurrency?: number;
  /** latency: requests per second. */
  rate?: number;
}

interface ClientResult {
  addresses: number;
  seconds: number;
  latenciesMs: number[];
  errors: number;
  frames: number;
}

async function clientMain(): Promise<void> {
  const grpc = await import("@grpc/grpc-js");
  const protoLoader = await import("@grpc/proto-loader");
  const def = protoLoader.loadSync("gosymd/v1/symbolizer.proto", {
    longs: String,
    enums: String,
    defaults: false,
    includeDirs: [join(ROOT, "proto")],
  });
  // biome-ignore lint/suspicious/noExplicitAny: grpc-js dynamic client
  const pkg = grpc.loadPackageDefinition(def) as any;
  process.on("message", async (job: ClientJob) => {
    const client = new pkg.gosymd.v1.SymbolizerService(job.url, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 256 << 20,
      "grpc.max_send_message_length": 64 << 20,
      // A 16 MiB HTTP/2 window, as gRPC clients with BDP probing reach on their own: the default
      // 64 KiB would make every 2.5 MB response wait on ~40 window updates.
      "grpc-node.flow_control_window": 16 << 20,
    });
    let k = 0;
    const next = () => {
      const id = job.buildIds[k % job.buildIds.length]!;
      const off = (k * job.batch) % Math.max(1, job.pcs.length - job.batch);
      k++;
      return {
        batches: [{ binary: { buildId: id }, addresses: job.pcs.slice(off, off + job.batch).map(String) }],
      };
    };
    const res: ClientResult = { addresses: 0, seconds: 0, latenciesMs: [], errors: 0, frames: 0 };
    const one = () =>
      new Promise<void>((resolve) => {
        const req = next();
        const t0 = performance.now();
        // biome-ignore lint/suspicious/noExplicitAny: dynamic
        client.symbolize(req, (err: Error | null, r: any) => {
          res.latenciesMs.push(performance.now() - t0);
          if (err || r.results[0].status?.code) res.errors++;
          else {
            res.addresses += req.batches[0]!.addresses.length;
            res.frames += r.results[0].locations.length;
          }
          resolve();
        });
      });
    // Warm-up: connection and JIT.
    for (let i = 0; i < 3; i++) await one();
    res.addresses = 0;
    res.frames = 0;
    res.latenciesMs = [];
    const t0 = performance.now();
    const until = t0 + job.seconds * 1000;
    if (job.kind === "throughput") {
      const worker = async () => {
        while (performance.now() < until) await one();
      };
      await Promise.all(Array.from({ length: job.concurrency ?? 3 }, worker));
    } else {
      const interval = 1000 / job.rate!;
      const pending: Promise<void>[] = [];
      let due = t0;
      while (due < until) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        pending.push(one());
        due += interval;
      }
      await Promise.all(pending);
    }
    res.seconds = (performance.now() - t0) / 1000;
    client.close();
    process.send!(res);
  });
  process.send!("ready");
}

// ---------------------------------------------------------------- server side (this process)

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

export async function run(): Promise<Metric[]> {
  const { startGosymd } = await import("../src/server.js");
  const { createClient } = await import("@connectrpc/connect");
  const { createGrpcTransport } = await import("@connectrpc/connect-node");
  const { SymbolizerService } = await import("../src/gen/gosymd/v1/symbolizer_pb.js");
  const { upload } = await import("../test/rpc/helpers.js");
  const out: Metric[] = [];
  const dir = mkdtempSync(join(tmpdir(), "gosymd-bench-"));
  const cacheBytes = 256 << 20;
  const srv = await startGosymd({ port: 0, host: "127.0.0.1", storeDir: dir, cacheBytes });
  const child = fork(join(ROOT, "bench/rpc.ts"), [], {
    env: { ...process.env, GOSYMD_BENCH_CLIENT: "1" },
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  try {
    await new Promise<void>((resolve) => child.once("message", () => resolve()));
    const ask = (job: ClientJob) =>
      new Promise<ClientResult>((resolve) => {
        child.once("message", (m) => resolve(m as ClientResult));
        child.send(job);
      });
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    const big = npmFixture(BIG);
    const info = await upload(c, readFileSync(big));
    const id = info.info!.buildId;
    const pcs = samplePcs(big, 200_000);

    // Cold: first request from the local store with an empty cache (median of 3).
    const colds: number[] = [];
    for (let i = 0; i < 3; i++) {
      srv.cache.clear();
      const t0 = performance.now();
      const r = await c.symbolize({
        batches: [
          { binary: { ref: { case: "buildId", value: id } }, addresses: pcs.slice(0, 100).map(BigInt) },
        ],
      });
      colds.push(performance.now() - t0);
      if (r.results[0]!.status?.code) throw new Error(r.results[0]!.status.message);
    }
    out.push({
      name: "rpc: cold first Symbolize, 46 MB binary from local store (median of 3)",
      value: Math.round(percentile(colds, 50)),
      unit: "ms",
      note: `target <= 300 ms; runs ${colds.map((x) => x.toFixed(0)).join(", ")}`,
    });

    // Warm throughput.
    const tp = await ask({
      kind: "throughput",
      url: `127.0.0.1:${srv.port}`,
      buildIds: [id],
      pcs,
      batch: 10_000,
      seconds: 6,
      concurrency: 3,
    });
    const rate = tp.addresses / tp.seconds;
    out.push({
      name: "rpc: warm Symbolize throughput, 10k-address batches (grpc-js client)",
      value: Math.round(rate),
      unit: "addr/s",
      note: `target >= 500,000; ${tp.errors} errors; p50 ${percentile(tp.latenciesMs, 50).toFixed(1)} ms per batch`,
    });

    // Latency at half the measured maximum.
    const reqRate = rate / 2 / 100;
    const lat = await ask({
      kind: "latency",
      url: `127.0.0.1:${srv.port}`,
      buildIds: [id],
      pcs,
      batch: 100,
      seconds: 5,
      rate: reqRate,
    });
    out.push({
      name: "rpc: p99 latency, 100-address requests at half max throughput",
      value: Number(percentile(lat.latenciesMs, 99).toFixed(2)),
      unit: "ms",
      note: `target <= 5 ms; ${reqRate.toFixed(0)} req/s; p50 ${percentile(lat.latenciesMs, 50).toFixed(2)} ms; ${lat.errors} errors`,
    });

    // Memory: a budget smaller than the working set of several binaries, sustained load.
    srv.cache.clear();
    const names = npmFixtureList()
      .filter((f) => /linux-(amd64|arm64|386)$/.test(f.name))
      .map((f) => f.name);
    const ids: string[] = [];
    for (const n of names) ids.push((await upload(c, readFileSync(npmFixture(n)))).info!.buildId);
    const small = samplePcs(npmFixture(names[0]!), 20_000);
    let maxRss = 0;
    const timer = setInterval(() => {
      maxRss = Math.max(maxRss, process.memoryUsage().rss);
    }, 50);
    const mem = await ask({
      kind: "throughput",
      url: `127.0.0.1:${srv.port}`,
      buildIds: [...ids, id],
      pcs: small,
      batch: 2_000,
      seconds: 8,
      concurrency: 2,
    });
    clearInterval(timer);
    const st = srv.cache.stats();
    out.push({
      name: "rpc: max RSS under sustained load over 13 binaries (cache budget 256 MiB)",
      value: Math.round(maxRss / 1048576),
      unit: "MiB",
      note: `cache ${Math.round(st.bytes / 1048576)} MiB in ${st.entries} entries after ${st.evictions} evictions; ${Math.round(mem.addresses / mem.seconds)} addr/s`,
    });
    return out;
  } finally {
    child.kill();
    await srv.close(1000);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env.GOSYMD_BENCH_CLIENT) {
  void clientMain();
} else if (process.argv[1]?.endsWith("bench/rpc.ts")) {
  run().then((ms) => {
    for (const m of ms)
      console.log(`${m.name.padEnd(74)} ${String(m.value).padStart(10)} ${m.unit.padEnd(7)} ${m.note ?? ""}`);
  });
}
