/**
 * debuginfod as a binary source: a real `debuginfod` (elfutils) started on a free port indexing a
 * directory of Go binaries built with GNU build IDs; plus tiny HTTP stand-ins for the failure
 * modes a real server cannot be made to show on demand (down, slow, flaky, oversized, wrong file).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import type { DebuginfodSource } from "../../src/sources/debuginfod.js";
import { tempDir } from "../rpc/helpers.js";
import { goBin, goBuild, newestGo } from "../support/fixtures.js";

const DEBUGINFOD = "/usr/bin/debuginfod";

function gnuBuildId(path: string): string {
  const out = execFileSync("readelf", ["-n", path], { encoding: "utf8" });
  const m = /Build ID: ([0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`no GNU build ID in ${path}`);
  return m[1]!;
}

/** Address of a symbol per `go tool nm` (the oracle for "this address is in main.main"). */
function nmAddr(go: string, path: string, sym: string): number {
  const out = execFileSync(goBin(go), ["tool", "nm", path], { encoding: "utf8" });
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 3 && f[1] === "T" && f[2] === sym) return Number.parseInt(f[0]!, 16);
  }
  throw new Error(`${sym} not in ${path}`);
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function waitFor(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      if (r.status === 200) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${url}`);
}

/** A scripted HTTP server; `handler` decides per request. */
async function stub(
  handler: http.RequestListener,
): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let n = 0;
  const s = http.createServer((req, res) => {
    n++;
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    hits: () => n,
    close: () => {
      s.closeAllConnections();
      return new Promise((r) => s.close(() => r()));
    },
  };
}

const go = newestGo();
const skip = !existsSync(DEBUGINFOD)
  ? "debuginfod is not installed (scripts/install-system-deps.sh)"
  : !go
    ? "no Go toolchain"
    : false;

describe("debuginfod source", { skip }, () => {
  const t = tempDir("gosymd-dbgd-");
  let proc: ChildProcess | undefined;
  let url = "";
  let bin = "";
  let gnu = "";
  let srv: Gosymd;
  let debuginfodSource: DebuginfodSource;

  before(async () => {
    bin = goBuild("hello", { go: go!, flags: ["-ldflags=-B gobuildid"], tag: "gnu-buildid" });
    gnu = gnuBuildId(bin);
    const dir = join(t.dir, "bins");
    mkdirSync(dir);
    copyFileSync(bin, join(dir, "hello"));
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    proc = spawn(
      DEBUGINFOD,
      ["-F", "-p", String(port), "-d", join(t.dir, "db.sqlite"), "-t", "0", "-g", "0", "-c", "1", dir],
      {
        stdio: "ignore",
      },
    );
    await waitFor(`${url}/buildid/${gnu}/executable`, 30_000);
    srv = await startGosymd({
      port: 0,
      storeDir: join(t.dir, "store"),
      cacheBytes: 256 << 20,
      debuginfodUrls: [url],
      debuginfod: { timeoutMs: 5000, retries: 1, negativeTtlMs: 60_000 },
    });
    debuginfodSource = srv.sources[1] as DebuginfodSource;
  });
  after(async () => {
    await srv?.close(500);
    proc?.kill("SIGTERM");
    t.cleanup();
  });

  test("a build ID the store lacks is fetched, verified, stored and served", async () => {
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    assert.equal(await srv.store.find([gnu]), undefined);
    const main = nmAddr(go!, bin, "main.main");
    const r = await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: gnu } }, addresses: [BigInt(main)] }],
    });
    assert.equal(r.results[0]!.status?.code ?? 0, 0, r.results[0]!.status?.message);
    const frames = r.results[0]!.locations[0]!.frames;
    assert.equal(frames.at(-1)!.function, "main.main");
    assert.equal(frames.at(-1)!.entry, BigInt(main));
    // Kept in the local store: byte-identical to what debuginfod served.
    const found = await srv.store.find([gnu]);
    assert.ok(found);
    assert.deepEqual(readFileSync(found.path), readFileSync(bin));
    // With upstream gone and the cache cleared, it is still served (from the store).
    const before = debuginfodSource.requests;
    srv.cache.clear();
    const again = await c.getBinaryInfo({ buildId: gnu });
    assert.equal(again.info?.buildIds?.gnu, gnu);
    const r2 = await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: gnu } }, addresses: [BigInt(main)] }],
    });
    assert.equal(r2.results[0]!.locations[0]!.frames.at(-1)!.function, "main.main");
    assert.equal(debuginfodSource.requests, before, "served locally, upstream not asked");
  });

  test("an unknown build ID is NOT_FOUND naming the sources, and the miss is negative-cached", async () => {
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    const unknown = "0123456789abcdef0123456789abcdef01234567";
    const before = debuginfodSource.requests;
    for (let i = 0; i < 5; i++) {
      const r = await c.symbolize({
        batches: [{ binary: { ref: { case: "buildId", value: unknown } }, addresses: [1n] }],
      });
      assert.equal(r.results[0]!.status?.code, Code.NotFound);
      assert.match(
        r.results[0]!.status!.message,
        new RegExp(`unknown build ID ${unknown}; tried: store, debuginfod\\(${url}\\)`),
      );
    }
    assert.equal(debuginfodSource.requests - before, 1, "one upstream request for five lookups");
    // Go build IDs are never sent to debuginfod.
    const r = await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: "abc/def" } }, addresses: [1n] }],
    });
    assert.equal(r.results[0]!.status?.code, Code.NotFound);
    assert.equal(debuginfodSource.requests - before, 1);
  });
});

describe("debuginfod failure modes (stub upstreams)", { skip: !go ? "no Go toolchain" : false }, () => {
  const t = tempDir("gosymd-dbgf-");
  let bin = "";
  let gnu = "";
  before(() => {
    bin = goBuild("hello", { go: go!, flags: ["-ldflags=-B gobuildid"], tag: "gnu-buildid" });
    gnu = gnuBuildId(bin);
  });
  after(() => t.cleanup());

  async function service(
    upstream: string,
    o: { timeoutMs?: number; retries?: number; maxBytes?: number } = {},
  ) {
    const srv = await startGosymd({
      port: 0,
      storeDir: join(t.dir, `store-${Math.random().toString(16).slice(2)}`),
      cacheBytes: 64 << 20,
      debuginfodUrls: [upstream],
      debuginfod: {
        timeoutMs: o.timeoutMs ?? 2000,
        retries: o.retries ?? 1,
        ...(o.maxBytes ? { maxBytes: o.maxBytes } : {}),
      },
    });
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    const ask = async () => {
      const r = await c.symbolize({
        batches: [{ binary: { ref: { case: "buildId", value: gnu } }, addresses: [1n] }],
      });
      return r.results[0]!;
    };
    return { srv, ask, src: srv.sources[1] as DebuginfodSource };
  }

  test("upstream down: bounded UNAVAILABLE, then not asked again for a while", async () => {
    const port = await freePort();
    const { srv, ask, src } = await service(`http://127.0.0.1:${port}`);
    try {
      const t0 = Date.now();
      const r = await ask();
      assert.equal(r.status?.code, Code.Unavailable);
      assert.match(r.status!.message, /after 2 attempts: ECONNREFUSED/);
      assert.ok(Date.now() - t0 < 3000);
      assert.equal(src.requests, 2);
      const r2 = await ask();
      assert.equal(r2.status?.code, Code.Unavailable);
      assert.match(r2.status!.message, /failed recently/);
      assert.equal(src.requests, 2);
      // The server is still healthy.
      const h = await fetch(`${srv.url}/grpc.health.v1.Health/Check`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      assert.deepEqual(await h.json(), { status: "SERVING" });
    } finally {
      await srv.close(200);
    }
  });

  test("upstream slow: each attempt times out, the whole lookup is bounded", async () => {
    const up = await stub(() => {
      // never answers
    });
    const { srv, ask } = await service(up.url, { timeoutMs: 300, retries: 1 });
    try {
      const t0 = Date.now();
      const r = await ask();
      const ms = Date.now() - t0;
      assert.equal(r.status?.code, Code.Unavailable);
      assert.match(r.status!.message, /timed out after 300 ms/);
      assert.ok(ms >= 600 && ms < 2500, `took ${ms} ms`);
      assert.equal(up.hits(), 2);
    } finally {
      await srv.close(200);
      await up.close();
    }
  });

  test("transient 503 is retried; the binary is then served", async () => {
    const body = readFileSync(bin);
    const up = await stub((req, res) => {
      if (up.hits() === 1) {
        res.writeHead(503).end();
        return;
      }
      assert.equal(req.url, `/buildid/${gnu}/executable`);
      res.writeHead(200, { "content-length": body.length }).end(body);
    });
    const { srv, ask } = await service(up.url);
    try {
      const r = await ask();
      assert.equal(r.status?.code ?? 0, 0, r.status?.message);
      assert.equal(up.hits(), 2);
    } finally {
      await srv.close(200);
      await up.close();
    }
  });

  test("oversized bodies and wrong binaries are refused with the right codes", async () => {
    const body = readFileSync(bin);
    const big = await stub((_req, res) => res.writeHead(200, { "content-length": body.length }).end(body));
    const s1 = await service(big.url, { maxBytes: 1000 });
    try {
      const r = await s1.ask();
      assert.equal(r.status?.code, Code.ResourceExhausted);
      assert.match(r.status!.message, /limit is 1000/);
    } finally {
      await s1.srv.close(200);
      await big.close();
    }
    // A server that answers every ID with the same file: the GNU build ID check catches it.
    const liar = await stub((_req, res) => res.writeHead(200).end(body));
    const s2 = await service(liar.url);
    try {
      const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: s2.srv.url }));
      const other = "feedfacefeedfacefeedfacefeedfacefeedface";
      const r = await c.symbolize({
        batches: [{ binary: { ref: { case: "buildId", value: other } }, addresses: [1n] }],
      });
      assert.equal(r.results[0]!.status?.code, Code.InvalidArgument);
      assert.match(r.results[0]!.status!.message, new RegExp(`GNU build ID ${gnu} for ${other}`));
      assert.equal(await s2.srv.store.find([other]), undefined);
    } finally {
      await s2.srv.close(200);
      await liar.close();
    }
  });
});
