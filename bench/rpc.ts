/**
 * Service benchmark (issue: symbolization service), end to end through a real gRPC client
 * (@grpc/grpc-js + our .proto) over loopback. The server runs in this process; the client runs in
 * a child process (this file with GOSYMD_BENCH_CLIENT set), so each gets one of the two cores.
 *
 *  - warm throughput: 10,000-address batches of random PCs inside functions of the buf CLI
 *    (~46 MB, ~58k functions), 3 requests in flight, binary already decoded;
 *  - latency: 100-address requests sent open-loop at half the measured maximum request rate;
 *    p50 / p99 client-side latency, measured twice: from the grpc-js client above, and from
 *    bench/loadgen, a grpc-go load generator (built here with Debian's Go against Debian's
 *    grpc-go sources), whose own pauses are far below the server's — the grpc-js client's
 *    scavenges (5–10 ms, every ~250 ms at these rates) were most of the tail it measured;
 *  - cold: first request for the ~46 MB binary from the local store (cache empty), median of 3;
 *  - memory: RSS during sustained load cycling through more binaries than the cache budget holds.
 */
import { fork, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { npmFixture, npmFixtureList, ROOT } from "../test/support/fixtures.js";
import { samplePcs } from "../test/support/sample.js";
import { buildLoadgen, runLoadgen } from "./loadgen.js";

export interface Metric {
  name: string;
  value: number;
  unit: string;
  note?: string;
}

const BIG = "buf-1.75.0-linux-amd64";

// ---------------------------------------------------------------- client (child process)

interface WireSummary {
  results: number;
  failedResults: number;
  locations: number;
  frames: number;
}

// The wire walker keeps its read position here rather than returning [value, position] pairs:
// a tuple per varint was 40 KB of garbage per 100-address response, and the client's own garbage
// collection then showed up in the latencies it measured.
let pos = 0;

/** Reads a varint at `pos` and advances past it. */
function varint(b: Uint8Array): number {
  let v = 0;
  let mul = 1;
  for (;;) {
    const c = b[pos++]!;
    v += (c & 0x7f) * mul;
    if (c < 0x80) return v;
    mul *= 128;
  }
}

/** Skips one field's value of wire type `wt` at `pos`. */
function skip(b: Uint8Array, wt: number): void {
  if (wt === 0) varint(b);
  else if (wt === 1) pos += 8;
  else if (wt === 5) pos += 4;
  else if (wt === 2) {
    const len = varint(b);
    pos += len;
  } else throw new Error(`bad wire type ${wt}`);
}

/** Walks a SymbolizeResponse: results → status code, locations → frames. */
function walkResponse(b: Uint8Array): WireSummary {
  const s: WireSummary = { results: 0, failedResults: 0, locations: 0, frames: 0 };
  pos = 0;
  while (pos < b.length) {
    const key = varint(b);
    if (key !== 0x0a) {
      skip(b, key & 7);
      continue;
    }
    const end = varint(b) + pos;
    s.results++;
    while (pos < end) {
      const k = varint(b);
      if (k === 0x0a) {
        // BatchStatus: code is field 1.
        const l = varint(b);
        const after = pos + l;
        if (l > 0 && b[pos] === 0x08) {
          pos++;
          if (varint(b) !== 0) s.failedResults++;
        }
        pos = after;
      } else if (k === 0x12) {
        const le = varint(b) + pos;
        s.locations++;
        while (pos < le) {
          const fk = varint(b);
          if (fk === 0x12) s.frames++;
          skip(b, fk & 7);
        }
      } else skip(b, k & 7);
    }
    if (pos !== end) throw new Error("malformed result");
  }
  return s;
}

/** Appends `v` (a non-negative integer below 2^53) as a varint at `p` of `out`; returns the end. */
function putVarint(out: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    out[p++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[p++] = v;
  return p;
}

const scratch = Buffer.alloc(1 << 20);

/**
 * Encodes SymbolizeRequest{batches: [{binary: {build_id}, addresses}]} directly, as a client that
 * holds its addresses in a typed array would, into one scratch buffer; the result is a Buffer of
 * its own (from Node's pool when small). The bytes are checked once against protobufjs's encoding
 * of the same request before any measurement (see clientMain).
 */
function encodeRequest(buildId: string, addrs: ArrayLike<number>): Buffer {
  let n = 0;
  for (let i = 0; i < addrs.length; i++) n = putVarint(scratch, n, addrs[i]!);
  const idLen = Buffer.byteLength(buildId, "utf8");
  const refLen = 1 + varintSize(idLen) + idLen;
  const batchLen = 1 + varintSize(refLen) + refLen + 1 + varintSize(n) + n;
  const head = 1 + varintSize(batchLen) + 1 + varintSize(refLen) + 1 + varintSize(idLen);
  const total = head + idLen + 1 + varintSize(n) + n;
  if (total > scratch.length / 2) throw new Error("bench client: request too large for the scratch buffer");
  // Packed addresses move up to their final place; the header and build ID go in front.
  const tail = head + idLen + 1 + varintSize(n);
  scratch.copyWithin(tail, 0, n);
  let p = putVarint(scratch, 0, 0x0a);
  p = putVarint(scratch, p, batchLen);
  p = putVarint(scratch, p, 0x0a);
  p = putVarint(scratch, p, refLen);
  p = putVarint(scratch, p, 0x0a);
  p = putVarint(scratch, p, idLen);
  p += scratch.write(buildId, p, "utf8");
  p = putVarint(scratch, p, 0x12);
  p = putVarint(scratch, p, n);
  if (p !== tail) throw new Error("bench client: request layout");
  return Buffer.from(scratch.subarray(0, total));
}

function varintSize(v: number): number {
  let s = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    s++;
  }
  return s;
}

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
  /**
   * "full": grpc-js with proto-loader (protobufjs) materializes every Location and Frame as JS
   * objects. "wire": the same grpc-js client, but its response deserializer walks the protobuf
   * wire format (checks every result's status, counts locations and frames) without building
   * objects, so the measurement is the server's rate rather than the client's object allocation.
   */
  decode: "full" | "wire";
}

interface ClientResult {
  /** The client's own event-loop delay during the measured part (ms): its share of the latency. */
  clientLoopDelayP99Ms?: number;
  clientLoopDelayMaxMs?: number;
  /** CPU seconds the client process used during the measured part. */
  cpuSeconds: number;
  firstError?: string;
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
    const pcs = Float64Array.from(job.pcs);
    const svc = pkg.gosymd.v1.SymbolizerService.service.Symbolize;
    // "full": the request as protobufjs objects, addresses as numbers as a profiler holds them
    // (protobufjs writes a uint64 from a number directly; given strings it parses each into a Long
    // first). "wire": the same request encoded straight from the typed array.
    const next = (): { n: number; req: unknown } => {
      const id = job.buildIds[k % job.buildIds.length]!;
      const off = (k * job.batch) % Math.max(1, pcs.length - job.batch);
      k++;
      const addrs = pcs.subarray(off, off + job.batch);
      if (job.decode === "wire") return { n: addrs.length, req: encodeRequest(id, addrs) };
      return {
        n: addrs.length,
        req: { batches: [{ binary: { buildId: id }, addresses: Array.from(addrs) }] },
      };
    };
    {
      // The direct encoding must be what protobufjs would send.
      const id = job.buildIds[0]!;
      const addrs = pcs.subarray(0, Math.min(pcs.length, 1000));
      const ours = Buffer.from(encodeRequest(id, addrs));
      const theirs = Buffer.from(
        svc.requestSerialize({ batches: [{ binary: { buildId: id }, addresses: Array.from(addrs) }] }),
      );
      if (!ours.equals(theirs)) throw new Error("bench client: request encoding differs from protobufjs's");
    }
    const res: ClientResult = {
      cpuSeconds: 0,
      addresses: 0,
      seconds: 0,
      latenciesMs: [],
      errors: 0,
      frames: 0,
    };
    const identity = (b: Uint8Array) => b;
    // biome-ignore lint/suspicious/noExplicitAny: dynamic
    const call = (req: any, cb: (err: Error | null, r: WireSummary | any) => void) => {
      if (job.decode === "full") {
        client.symbolize(req, cb);
        return;
      }
      client.makeUnaryRequest(svc.path, identity, walkResponse, req, cb);
    };
    const one = () =>
      new Promise<void>((resolve) => {
        const { n, req } = next();
        const t0 = performance.now();
        // biome-ignore lint/suspicious/noExplicitAny: dynamic
        call(req, (err: Error | null, r: any) => {
          res.latenciesMs.push(performance.now() - t0);
          if (err && !res.firstError) res.firstError = err.message;
          if (job.decode === "full") {
            if (err || r.results[0].status?.code || r.results[0].locations.length !== n) res.errors++;
            else res.addresses += n;
          } else if (err || r.failedResults > 0 || r.locations !== n) res.errors++;
          else res.addresses += n;
          resolve();
        });
      });
    // Warm-up: connection and JIT.
    for (let i = 0; i < 3; i++) await one();
    res.addresses = 0;
    res.frames = 0;
    res.latenciesMs = [];
    const { monitorEventLoopDelay } = await import("node:perf_hooks");
    const eld = monitorEventLoopDelay({ resolution: 1 });
    eld.enable();
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const until = t0 + job.seconds * 1000;
    if (job.kind === "throughput") {
      const worker = async () => {
        while (performance.now() < until) await one();
      };
      await Promise.all(Array.from({ length: job.concurrency ?? 3 }, worker));
    } else {
      const interval = 1000 / job.rate!;
      let outstanding = 0;
      let drained: (() => void) | undefined;
      const done = () => {
        if (--outstanding === 0) drained?.();
      };
      let due = t0;
      while (due < until) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        outstanding++;
        void one().then(done);
        due += interval;
      }
      if (outstanding > 0) await new Promise<void>((r) => (drained = r));
    }
    res.seconds = (performance.now() - t0) / 1000;
    eld.disable();
    res.clientLoopDelayP99Ms = eld.percentile(99) / 1e6;
    res.clientLoopDelayMaxMs = eld.max / 1e6;
    const cu = process.cpuUsage(c0);
    res.cpuSeconds = (cu.user + cu.system) / 1e6;
    client.close();
    process.send!(res);
  });
  process.send!("ready");
}

// ---------------------------------------------------------------- server side (this process)

/** `gosymd serve` (dist/) in its own process on port 0; its URL once it listens. */
async function spawnServe(
  store: string,
  cacheBytes: number,
): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const serve = spawn(
    process.execPath,
    [
      join(ROOT, "dist/cli/main.js"),
      "serve",
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--store",
      store,
      "--cache-bytes",
      String(cacheBytes),
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => serve.once("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let buf = "";
    serve.stdout!.on("data", (d) => {
      buf += String(d);
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]!);
    });
    serve.once("exit", (code) => reject(new Error(`gosymd serve exited with ${code}`)));
  });
  return {
    url,
    pid: serve.pid!,
    async stop() {
      serve.kill("SIGTERM");
      await exited;
    },
  };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

export async function run(): Promise<Metric[]> {
  // The server as shipped (dist/, built by `npm run bench`), not through the TypeScript loader
  // the benchmark itself runs under.
  const { startGosymd } = (await import(
    join(ROOT, "dist/server.js") as string
  )) as typeof import("../src/server.js");
  // The collector settings `gosymd serve` starts with (src/gc-tuning.ts), so the numbers are the
  // shipped service's; GOSYMD_GC_TUNING=0 measures V8's defaults.
  const { tuneGcForLatency } = (await import(
    join(ROOT, "dist/gc-tuning.js") as string
  )) as typeof import("../src/gc-tuning.js");
  const gcFlags = tuneGcForLatency();
  const { createClient } = await import("@connectrpc/connect");
  const { createGrpcTransport } = await import("@connectrpc/connect-node");
  const { SymbolizerService } = await import("../src/gen/gosymd/v1/symbolizer_pb.js");
  const { upload } = await import("../test/rpc/helpers.js");
  const out: Metric[] = [];
  const dir = mkdtempSync(join(tmpdir(), "gosymd-bench-"));
  const cacheBytes = 1024 << 20;
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
    const pcs = samplePcs(big, 200_000, 7);

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

    // Warm throughput: the wire-walking client (server-bound) and the full-decode client.
    const url = `127.0.0.1:${srv.port}`;
    const warm: Omit<ClientJob, "decode"> = {
      kind: "throughput",
      url,
      buildIds: [id],
      pcs,
      batch: 10_000,
      seconds: 6,
      concurrency: Number(process.env.BENCH_INFLIGHT ?? 3),
    };
    await ask({ ...warm, seconds: 3, decode: "wire" }); // fills remembered answers, JIT
    const cpu0 = process.cpuUsage();
    const tp = await ask({ ...warm, decode: "wire" });
    const cpu = process.cpuUsage(cpu0);
    const serverCpuS = (cpu.user + cpu.system) / 1e6;
    const rate = tp.addresses / tp.seconds;
    out.push({
      name: "rpc: warm Symbolize, server CPU per address (10k batches)",
      value: Number(((serverCpuS / Math.max(1, tp.addresses)) * 1e6).toFixed(3)),
      unit: "us",
      note: `= ${Math.round(tp.addresses / serverCpuS).toLocaleString("en-US")} addr per server CPU-second; client CPU ${(tp.cpuSeconds / tp.seconds).toFixed(2)} cores; machine load ${loadavg()[0]!.toFixed(1)}`,
    });
    out.push({
      name: "rpc: warm Symbolize throughput, 10k-address batches (grpc-js, wire-walking decode)",
      value: Math.round(rate),
      unit: "addr/s",
      note: `target >= 500,000; ${tp.errors} errors; p50 ${percentile(tp.latenciesMs, 50).toFixed(1)} ms per batch`,
    });
    const full = await ask({ ...warm, decode: "full" });
    out.push({
      name: "rpc: warm Symbolize throughput, 10k-address batches (grpc-js, full protobufjs decode)",
      value: Math.round(full.addresses / full.seconds),
      unit: "addr/s",
      note: `client-bound: the client materializes ~25k JS objects per batch; ${full.errors} errors`,
    });

    // Latency of 100-address requests at half of their maximum rate (closed loop, 8 in flight).
    const cpu100 = process.cpuUsage();
    const max100 = await ask({ ...warm, batch: 100, seconds: 4, concurrency: 8, decode: "wire" });
    const c100 = process.cpuUsage(cpu100);
    const maxReq = max100.addresses / 100 / max100.seconds;
    out.push({
      name: "rpc: server CPU per 100-address request",
      value: Number(((c100.user + c100.system) / 1000 / Math.max(1, max100.addresses / 100)).toFixed(3)),
      unit: "ms",
      note: `max ${maxReq.toFixed(0)} req/s with 8 in flight; client CPU ${(max100.cpuSeconds / max100.seconds).toFixed(2)} cores`,
    });
    const reqRate = maxReq / 2;
    const { monitorEventLoopDelay } = await import("node:perf_hooks");
    const srvLoop = monitorEventLoopDelay({ resolution: 1 });
    srvLoop.enable();
    const lat = await ask({
      kind: "latency",
      url,
      buildIds: [id],
      pcs,
      batch: 100,
      seconds: 5,
      rate: reqRate,
      decode: "wire",
    });
    srvLoop.disable();
    out.push({
      name: "rpc: p99 latency, 100-address requests at half max throughput (grpc-js client)",
      value: Number(percentile(lat.latenciesMs, 99).toFixed(2)),
      unit: "ms",
      note: `target <= 5 ms; ${reqRate.toFixed(0)} req/s (max ${maxReq.toFixed(0)} req/s); p50 ${percentile(lat.latenciesMs, 50).toFixed(2)} ms; client event-loop delay p99 ${lat.clientLoopDelayP99Ms?.toFixed(1)} ms, max ${lat.clientLoopDelayMaxMs?.toFixed(1)} ms; server event-loop delay p99 ${(srvLoop.percentile(99) / 1e6).toFixed(1)} ms, max ${(srvLoop.max / 1e6).toFixed(1)} ms; ${lat.errors} errors${lat.firstError ? ` (${lat.firstError})` : ""}`,
    });
    // The same open loop with 1-address requests: what the client, HTTP/2 and the scheduler of
    // this machine add whatever the server does (the floor under the 100-address p99).
    const floor = await ask({
      kind: "latency",
      url,
      buildIds: [id],
      pcs,
      batch: 1,
      seconds: 4,
      rate: reqRate,
      decode: "wire",
    });
    out.push({
      name: "rpc: p99 latency, 1-address requests at the same rate (grpc-js client)",
      value: Number(percentile(floor.latenciesMs, 99).toFixed(2)),
      unit: "ms",
      note: `p50 ${percentile(floor.latenciesMs, 50).toFixed(2)} ms; client event-loop delay p99 ${floor.clientLoopDelayP99Ms?.toFixed(1)} ms; ${floor.errors} errors`,
    });

    // The same measurements driven by grpc-go (bench/loadgen): its concurrent collector does not
    // stop the client for milliseconds the way the Node client's scavenges do (grpc-js keeps
    // ~17 KB of objects per call alive across minor GCs), so this is the server's tail.
    const lg = buildLoadgen();
    if ("skipped" in lg) {
      out.push({
        name: "rpc: p99 latency, 100-address requests at half max throughput (grpc-go client)",
        value: Number.NaN,
        unit: "ms",
        note: `not measured: ${lg.skipped}`,
      });
    } else {
      const pcsFile = join(dir, "pcs.bin");
      writeFileSync(pcsFile, Buffer.from(BigUint64Array.from(pcs, (x) => BigInt(x)).buffer));
      // The server as deployed: `gosymd serve` in its own process (its own heap and collector),
      // on the store the binary was uploaded to above.
      const served = await spawnServe(dir, cacheBytes);
      try {
        const target = served.url.replace(/^http:\/\//, "");
        const loadgen = (...args: string[]) => runLoadgen(lg.path, target, id, pcsFile, args);
        // Warm-up: large batches fill the remembered answers, then the 100-address path.
        await loadgen("-batch", "10000", "-concurrency", "3", "-seconds", "3");
        await loadgen("-batch", "100", "-concurrency", "8", "-seconds", "2");
        const gmax = await loadgen("-batch", "100", "-concurrency", "8", "-seconds", "4");
        const gMaxReq = gmax.requests / gmax.seconds;
        const gRate = gMaxReq / 2;
        const glat = await loadgen("-batch", "100", "-rate", String(gRate), "-seconds", "5");
        out.push({
          name: "rpc: p99 latency, 100-address requests at half max throughput (grpc-go client)",
          value: Number(percentile(glat.latenciesMs, 99).toFixed(2)),
          unit: "ms",
          note: `target <= 5 ms; \`gosymd serve\` process; ${gRate.toFixed(0)} req/s (max ${gMaxReq.toFixed(0)} req/s with 8 in flight, ${gmax.errors} errors); p50 ${percentile(glat.latenciesMs, 50).toFixed(2)} ms, p99.9 ${percentile(glat.latenciesMs, 99.9).toFixed(2)} ms, counted from each request's due time; sends late by p99 ${glat.lateSendP99Ms.toFixed(1)} ms; client CPU ${(glat.cpuSeconds / glat.seconds).toFixed(2)} cores; server GC ${gcFlags.length > 0 ? gcFlags.join(" ") : "V8 defaults"}; ${glat.errors} errors${glat.firstError ? ` (${glat.firstError})` : ""}`,
        });
        const gfloor = await loadgen("-batch", "1", "-rate", String(gRate), "-seconds", "4");
        out.push({
          name: "rpc: p99 latency, 1-address requests at the same rate (grpc-go client)",
          value: Number(percentile(gfloor.latenciesMs, 99).toFixed(2)),
          unit: "ms",
          note: `p50 ${percentile(gfloor.latenciesMs, 50).toFixed(2)} ms; ${gfloor.errors} errors`,
        });
      } finally {
        await served.stop();
      }
    }
    await srv.close(1000);

    // Memory: a spawned `gosymd serve` (its own process, so its RSS is the server's alone) with a
    // cache budget smaller than the working set of 13 binaries, under sustained load.
    for (const budget of [32 << 20, 128 << 20]) {
      const served = await spawnServe(join(dir, `store-${budget}`), budget);
      try {
        const url2 = served.url;
        const rss = () => {
          const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${served.pid}/status`, "utf8"));
          return m ? Number(m[1]) * 1024 : 0;
        };
        const c2 = createClient(SymbolizerService, createGrpcTransport({ baseUrl: url2 }));
        await c2.getBinaryInfo({ buildId: "sha256:" + "0".repeat(64) }).catch(() => undefined);
        const idleRss = rss();
        const names = npmFixtureList()
          .filter((f) => /linux-(amd64|arm64|386)$/.test(f.name))
          .map((f) => f.name);
        const ids: string[] = [];
        for (const n of [...names, BIG])
          ids.push((await upload(c2, readFileSync(npmFixture(n)))).info!.buildId);
        const small = samplePcs(npmFixture(names[0]!), 20_000, 7);
        let maxRss = 0;
        const timer = setInterval(() => {
          maxRss = Math.max(maxRss, rss());
        }, 50);
        const mem = await ask({
          kind: "throughput",
          url: url2.replace(/^http:\/\//, ""),
          buildIds: ids,
          pcs: small,
          batch: 2_000,
          seconds: 10,
          concurrency: 2,
          decode: "wire",
        });
        clearInterval(timer);
        out.push({
          name: `rpc: max RSS of gosymd serve, sustained load over ${ids.length} binaries, cache ${budget >> 20} MiB`,
          value: Math.round(maxRss / 1048576),
          unit: "MiB",
          note: `idle ${Math.round(idleRss / 1048576)} MiB; max - budget = ${Math.round((maxRss - budget) / 1048576)} MiB (the fixed overhead); ${Math.round(mem.addresses / mem.seconds)} addr/s; ${mem.errors} errors`,
        });
      } finally {
        await served.stop();
      }
    }
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
