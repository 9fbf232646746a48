/**
 * A real server on port 0 (startGosymd) driven by real clients: @grpc/grpc-js loading our .proto
 * files, plain HTTP/JSON (Connect protocol, HTTP/1.1), gRPC-Web, `buf curl` with server
 * reflection (v1 and v1alpha), TLS and mTLS, and graceful shutdown. The fake engine keeps the
 * answers exact; real binaries are covered in real-binaries.test.ts.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import { countingDecoder, fakeBytes, sha256Hex } from "../cache/fake-binary.js";
import { ROOT } from "../support/fixtures.js";
import { tempDir, upload } from "./helpers.js";

const run = promisify(execFile);
const BUF = join(ROOT, "node_modules/.bin/buf");
const GNU = "1111111111111111111111111111111111111111";
const bytes = fakeBytes({
  gnu: GNU,
  go: "x/y",
  funcs: [
    {
      name: "main.work",
      entry: 0x1000,
      end: 0x1100,
      file: "/w/main.go",
      line: 40,
      inl: { name: "strings.Index", file: "/go/src/strings/strings.go", line: 99 },
    },
  ],
  mem: 100,
});
const SHA = sha256Hex(bytes);

// biome-ignore lint/suspicious/noExplicitAny: grpc-js dynamic clients are untyped
type Any = any;

function loadGrpc(): { Symbolizer: Any; Health: Any } {
  const opts = {
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: [join(ROOT, "proto")],
  };
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(["gosymd/v1/symbolizer.proto", "grpc/health/v1/health.proto"], opts),
  ) as Any;
  return { Symbolizer: pkg.gosymd.v1.SymbolizerService, Health: pkg.grpc.health.v1.Health };
}

function call<T>(client: Any, method: string, req: unknown, meta?: grpc.Metadata): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](req, meta ?? new grpc.Metadata(), (err: Error | null, res: T) =>
      err ? reject(err) : resolve(res),
    ),
  );
}

describe("real server on port 0 (cleartext h2c + HTTP/1.1)", () => {
  let srv: Gosymd;
  const t = tempDir();
  const dec = countingDecoder();
  before(async () => {
    srv = await startGosymd({ port: 0, storeDir: t.dir, cacheBytes: 1 << 20, decoder: dec.decoder });
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    await upload(c, bytes);
  });
  after(async () => {
    await srv.close(1000);
    t.cleanup();
  });

  test("@grpc/grpc-js client with our .proto", async () => {
    const { Symbolizer, Health } = loadGrpc();
    const host = `127.0.0.1:${srv.port}`;
    const c = new Symbolizer(host, grpc.credentials.createInsecure());
    const h = new Health(host, grpc.credentials.createInsecure());
    try {
      const res = await call<Any>(c, "symbolize", {
        batches: [
          { binary: { buildId: GNU }, addresses: ["4096", "4352"] },
          { binary: { buildId: "ffff" }, addresses: ["1"] },
        ],
      });
      assert.equal(res.results.length, 2);
      const loc = res.results[0].locations[0];
      assert.equal(loc.address, "4096");
      assert.deepEqual(
        loc.frames.map((f: Any) => [f.function, f.inlined, f.line]),
        [
          ["strings.Index", true, 99],
          ["main.work", false, 40],
        ],
      );
      assert.equal(loc.frames[1].source, "FRAME_SOURCE_PCLNTAB");
      assert.equal(res.results[0].locations[1].unresolvedReason, "UNRESOLVED_REASON_OUTSIDE_BINARY");
      assert.equal(res.results[1].status.code, grpc.status.NOT_FOUND);
      const info = await call<Any>(c, "getBinaryInfo", { buildId: "x/y" });
      assert.equal(info.info.buildId, `sha256:${SHA}`);
      await assert.rejects(
        call(c, "getBinaryInfo", { buildId: "0000" }),
        (e: Any) => e.code === grpc.status.NOT_FOUND,
      );
      // Deadline propagation: an already-expired deadline is DEADLINE_EXCEEDED, not a hang.
      await assert.rejects(
        new Promise((resolve, reject) =>
          c.symbolize(
            { batches: [{ binary: { buildId: GNU }, addresses: ["1"] }] },
            new grpc.Metadata(),
            { deadline: Date.now() - 1 },
            (err: Error | null, r: unknown) => (err ? reject(err) : resolve(r)),
          ),
        ),
        (e: Any) => e.code === grpc.status.DEADLINE_EXCEEDED,
      );
      const hr = await call<Any>(h, "check", { service: "gosymd.v1.SymbolizerService" });
      assert.equal(hr.status, "SERVING");
    } finally {
      c.close();
      h.close();
    }
  });

  test("Connect protocol: plain HTTP/1.1 JSON (what curl sends)", async () => {
    const res = await fetch(`${srv.url}/gosymd.v1.SymbolizerService/Symbolize`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        batches: [{ binary: { buildId: GNU }, addresses: ["4096"], returnAddresses: true }],
      }),
    });
    assert.equal(res.status, 200);
    const j = (await res.json()) as Any;
    assert.equal(j.results[0].locations[0].address, "4096");
    assert.equal(j.results[0].buildId, `sha256:${SHA}`);
    // pc-1 of the entry is outside the function.
    assert.equal(j.results[0].locations[0].unresolvedReason, "UNRESOLVED_REASON_OUTSIDE_BINARY");
    const bad = await fetch(`${srv.url}/gosymd.v1.SymbolizerService/GetBinaryInfo`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ buildId: "feedface" }),
    });
    assert.equal(bad.status, 404);
    const e = (await bad.json()) as Any;
    assert.equal(e.code, "not_found");
    assert.match(e.message, /unknown build ID feedface; tried: cache, store/);
  });

  test("connect-es clients: gRPC-Web over HTTP/1.1 and Connect binary over HTTP/2", async () => {
    for (const transport of [
      createGrpcWebTransport({ baseUrl: srv.url, httpVersion: "1.1" }),
      createConnectTransport({ baseUrl: srv.url, httpVersion: "2" }),
    ]) {
      const c = createClient(SymbolizerService, transport);
      const r = await c.symbolize({
        batches: [{ binary: { ref: { case: "buildId", value: GNU } }, addresses: [0x1000n] }],
      });
      assert.equal(r.results[0]!.locations[0]!.frames[1]!.function, "main.work");
    }
  });

  test("buf curl over gRPC with server reflection (v1 and v1alpha)", async () => {
    for (const rp of ["grpc-v1", "grpc-v1alpha"]) {
      const { stdout: services } = await run(BUF, [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        rp,
        "--list-services",
        srv.url,
      ]);
      assert.deepEqual(services.trim().split("\n").sort(), [
        "gosymd.v1.SymbolizerService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]);
      const { stdout } = await run(BUF, [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--reflect-protocol",
        rp,
        "-d",
        JSON.stringify({ batches: [{ binary: { buildId: GNU }, addresses: ["4096"] }] }),
        `${srv.url}/gosymd.v1.SymbolizerService/Symbolize`,
      ]);
      const j = JSON.parse(stdout) as Any;
      assert.equal(j.results[0].locations[0].frames[0].function, "strings.Index");
    }
    const { stdout: health } = await run(BUF, [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-d",
      "{}",
      `${srv.url}/grpc.health.v1.Health/Check`,
    ]);
    assert.deepEqual(JSON.parse(health), { status: "SERVING" });
  });

  test("Health.Watch streams changes", async () => {
    const { Health } = loadGrpc();
    const h = new Health(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
    const seen: string[] = [];
    const stream = h.watch({ service: "gosymd.v1.SymbolizerService" });
    await new Promise<void>((resolve) => {
      stream.on("data", (m: Any) => {
        seen.push(m.status);
        if (seen.length === 1) srv.health.set("gosymd.v1.SymbolizerService", 2);
        if (seen.length === 2) {
          srv.health.set("gosymd.v1.SymbolizerService", 1);
          stream.cancel();
          resolve();
        }
      });
      stream.on("error", () => undefined);
    });
    h.close();
    assert.deepEqual(seen, ["SERVING", "NOT_SERVING"]);
  });
});

describe("TLS and mTLS", () => {
  const t = tempDir("gosymd-tls-");
  const pem = (n: string) => join(t.dir, n);
  before(() => {
    const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
    ssl(
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=test-ca",
      "-keyout",
      pem("ca.key"),
      "-out",
      pem("ca.pem"),
    );
    writeFileSync(pem("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    for (const who of ["server", "client"]) {
      ssl(
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        `/CN=${who}`,
        "-keyout",
        pem(`${who}.key`),
        "-out",
        pem(`${who}.csr`),
      );
      ssl(
        "x509",
        "-req",
        "-in",
        pem(`${who}.csr`),
        "-CA",
        pem("ca.pem"),
        "-CAkey",
        pem("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        pem("san.ext"),
        "-out",
        pem(`${who}.pem`),
      );
    }
  });
  after(() => t.cleanup());

  test("TLS serves h2 (gRPC) and HTTP/1.1 (JSON); mTLS rejects clients without a certificate", async () => {
    const store = tempDir();
    const srv = await startGosymd({
      port: 0,
      storeDir: store.dir,
      cacheBytes: 1 << 20,
      decoder: countingDecoder().decoder,
      tls: {
        cert: readFileSync(pem("server.pem")),
        key: readFileSync(pem("server.key")),
        clientCa: readFileSync(pem("ca.pem")),
      },
    });
    try {
      assert.match(srv.url, /^https:/);
      const { Health } = loadGrpc();
      const good = new Health(
        `127.0.0.1:${srv.port}`,
        grpc.credentials.createSsl(
          readFileSync(pem("ca.pem")),
          readFileSync(pem("client.key")),
          readFileSync(pem("client.pem")),
        ),
      );
      assert.equal((await call<Any>(good, "check", {})).status, "SERVING");
      good.close();
      const anon = new Health(
        `127.0.0.1:${srv.port}`,
        grpc.credentials.createSsl(readFileSync(pem("ca.pem"))),
      );
      await assert.rejects(call(anon, "check", {}), (e: Any) => e.code === grpc.status.UNAVAILABLE);
      anon.close();
      // HTTP/1.1 JSON over TLS with a client certificate.
      const { stdout } = await run("curl", [
        "-sS",
        "--cacert",
        pem("ca.pem"),
        "--cert",
        pem("client.pem"),
        "--key",
        pem("client.key"),
        "-H",
        "content-type: application/json",
        "-d",
        "{}",
        `${srv.url}/grpc.health.v1.Health/Check`,
      ]);
      assert.deepEqual(JSON.parse(stdout), { status: "SERVING" });
    } finally {
      await srv.close(500);
      store.cleanup();
    }
  });
});

describe("graceful shutdown", () => {
  test("in-flight calls finish, new connections are refused, health flips to NOT_SERVING", async () => {
    const store = tempDir();
    // A decoder that takes a while, so a call is in flight when shutdown starts.
    const slow = countingDecoder();
    const srv = await startGosymd({
      port: 0,
      storeDir: store.dir,
      cacheBytes: 1 << 20,
      decoder: (input) => {
        const until = Date.now() + 300;
        while (Date.now() < until) {
          // busy: a long decode
        }
        return slow.decoder(input);
      },
    });
    try {
      const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
      await upload(c, bytes);
      srv.cache.clear();
      const inflight = c.symbolize({
        batches: [{ binary: { ref: { case: "buildId", value: GNU } }, addresses: [0x1000n] }],
      });
      await new Promise((r) => setTimeout(r, 50));
      const closing = srv.close(5000);
      assert.equal(srv.health.get(""), 2 /* NOT_SERVING */);
      const r = await inflight;
      assert.equal(r.results[0]!.locations[0]!.frames[1]!.function, "main.work");
      await closing;
      await assert.rejects(
        new Promise((resolve, reject) => {
          const s = http2.connect(srv.url);
          s.on("error", reject);
          s.on("connect", resolve);
        }),
        /ECONNREFUSED/,
      );
    } finally {
      store.cleanup();
    }
  });
});
