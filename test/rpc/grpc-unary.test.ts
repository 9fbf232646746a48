/**
 * The direct gRPC path for unary Symbolize (src/rpc/grpc-unary.ts) on a real server: its answers
 * equal connect's for the same request (Connect binary protocol, and gRPC with a compressed
 * request, both served by connect-node), and the protocol edges — limits, malformed envelopes,
 * bad protobuf, a bad grpc-timeout — give trailers-only gRPC errors with the right codes, seen by
 * @grpc/grpc-js and by a raw HTTP/2 client.
 */
import assert from "node:assert/strict";
import http2 from "node:http2";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  SymbolizeRequestSchema,
  SymbolizeResponseSchema,
  SymbolizerService,
} from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { parseGrpcTimeout, percentEncode } from "../../src/rpc/grpc-unary.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import { pclnTableOf } from "../../src/symtab/binary.js";
import { openBinaryFile } from "../../src/symtab/index.js";
import { npmFixture, ROOT } from "../support/fixtures.js";
import { tempDir, upload } from "./helpers.js";

// biome-ignore lint/suspicious/noExplicitAny: grpc-js dynamic clients are untyped
type Any = any;

const PATH = "/gosymd.v1.SymbolizerService/Symbolize";

/** A raw HTTP/2 unary call: what the server answers (headers, body, trailers). */
function rawCall(
  url: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
  bodyDelayMs = 0,
): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url);
    s.on("error", reject);
    const req = s.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    let h: http2.IncomingHttpHeaders = {};
    let t: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    req.on("response", (x) => {
      h = x;
    });
    req.on("trailers", (x) => {
      t = x;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      s.close();
      resolve({ headers: h, body: Buffer.concat(chunks), trailers: t });
    });
    req.on("error", reject);
    if (bodyDelayMs > 0) setTimeout(() => req.end(body), bodyDelayMs);
    else req.end(body);
  });
}

function frame(msg: Uint8Array, flag = 0): Buffer {
  const f = Buffer.alloc(5 + msg.length);
  f[0] = flag;
  f.writeUInt32BE(msg.length, 1);
  f.set(msg, 5);
  return f;
}

/** grpc-status of a response: in the trailers, or in the headers of a trailers-only response. */
function statusOf(r: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }): string {
  return String(r.trailers["grpc-status"] ?? r.headers["grpc-status"]);
}

describe("direct gRPC path for unary Symbolize", () => {
  let srv: Gosymd;
  let id: string;
  let pcs: bigint[];
  const t = tempDir();
  before(async () => {
    srv = await startGosymd({
      port: 0,
      host: "127.0.0.1",
      storeDir: t.dir,
      cacheBytes: 256 << 20,
      limits: { readMaxBytes: 128 * 1024, maxAddressesPerRequest: 5000 },
    });
    const path = npmFixture("esbuild-0.19.12-linux-amd64");
    const c = createClient(SymbolizerService, createConnectTransport({ baseUrl: srv.url, httpVersion: "2" }));
    const { readFileSync } = await import("node:fs");
    // The upload itself is larger than readMaxBytes: it streams in chunks, so it is not limited.
    id = (await upload(c, readFileSync(path))).info!.buildId;
    const b = openBinaryFile(path, { sha256: null });
    const tab = pclnTableOf(b)!;
    pcs = [];
    for (let i = 0; i < 300; i++) {
      const f = (i * 7919) % tab.nfunc;
      pcs.push(BigInt(tab.entry(f) + ((i * 13) % Math.max(1, tab.end(f) - tab.entry(f)))));
    }
    pcs.push(1n, 0xffff_ffff_ffffn);
  });
  after(async () => {
    await srv.close(1000);
    t.cleanup();
  });

  test("GOSYMD_NODE_HTTP2 (nodeHttp2): node:http2 carries cleartext h2, the direct path still first, same answers", async () => {
    const node = await startGosymd({
      port: 0,
      host: "127.0.0.1",
      storeDir: t.dir,
      cacheBytes: 64 << 20,
      nodeHttp2: true,
    });
    try {
      assert.equal(node.listener.directActive, true);
      const req = { batches: [{ binary: { ref: { case: "buildId" as const, value: id } }, addresses: pcs }] };
      const viaNode = await createClient(
        SymbolizerService,
        createGrpcTransport({ baseUrl: node.url }),
      ).symbolize(req);
      const viaOurs = await createClient(
        SymbolizerService,
        createGrpcTransport({ baseUrl: srv.url }),
      ).symbolize(req);
      const enc = (r: typeof viaNode) => Buffer.from(toBinary(SymbolizeResponseSchema, r)).toString("hex");
      assert.equal(viaNode.results[0]!.locations.length, pcs.length);
      assert.equal(enc(viaNode), enc(viaOurs));
      // Which stack answered shows in the response headers: node:http2 sends a date header, src/h2 does not.
      const r = await rawCall(node.url, Buffer.alloc(0));
      assert.ok(r.headers.date !== undefined, "node:http2 answered");
      const ours = await rawCall(srv.url, Buffer.alloc(0));
      assert.equal(ours.headers.date, undefined, "src/h2 answered");
    } finally {
      await node.close(500);
    }
  });

  test("answers equal connect-node's (Connect binary protocol; gRPC with a gzip request)", async () => {
    const req = {
      batches: [
        { binary: { ref: { case: "buildId" as const, value: id } }, addresses: pcs },
        { binary: { ref: { case: "buildId" as const, value: "00".repeat(20) } }, addresses: [1n] },
      ],
    };
    const direct = await createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url })).symbolize(
      req,
    );
    const viaConnect = await createClient(
      SymbolizerService,
      createConnectTransport({ baseUrl: srv.url, httpVersion: "2", useBinaryFormat: true }),
    ).symbolize(req);
    // A compressed request is not for the direct path: connect-node serves it.
    const gzipped = await createClient(
      SymbolizerService,
      createGrpcTransport({ baseUrl: srv.url, sendCompression: compressionGzip, compressMinBytes: 1 }),
    ).symbolize(req);
    const enc = (r: typeof direct) => Buffer.from(toBinary(SymbolizeResponseSchema, r)).toString("hex");
    assert.equal(enc(direct), enc(viaConnect));
    assert.equal(enc(gzipped), enc(direct));
    assert.equal(direct.results.length, 2);
    assert.equal(direct.results[0]!.locations.length, pcs.length);
    assert.ok(direct.results[0]!.locations.filter((l) => l.frames.length > 0).length >= 300);
    assert.equal(direct.results[1]!.status?.code, 5 /* NOT_FOUND */);
    // Without the direct path in place, connect would have answered all three (and equally).
    assert.equal(srv.listener.directActive, true);
    // One batch, twice in a row: each result is encoded in the one reused writer and copied out.
    const one = { batches: [req.batches[0]!] };
    const grpc = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    const connectBin = createClient(
      SymbolizerService,
      createConnectTransport({ baseUrl: srv.url, httpVersion: "2", useBinaryFormat: true }),
    );
    const [d1, d2] = [await grpc.symbolize(one), await grpc.symbolize(one)];
    const c1 = await connectBin.symbolize(one);
    assert.equal(enc(d1), enc(c1));
    assert.equal(enc(d2), enc(c1));
    assert.equal(d1.results[0]!.locations.length, pcs.length);
  });

  test("@grpc/grpc-js: a request over the address limit is RESOURCE_EXHAUSTED, over readMaxBytes too", async () => {
    const pkg = grpc.loadPackageDefinition(
      protoLoader.loadSync("gosymd/v1/symbolizer.proto", {
        longs: String,
        includeDirs: [join(ROOT, "proto")],
      }),
    ) as Any;
    const c = new pkg.gosymd.v1.SymbolizerService(`127.0.0.1:${srv.port}`, grpc.credentials.createInsecure());
    const callErr = (req: unknown) =>
      new Promise<grpc.ServiceError | null>((resolve) =>
        c.symbolize(req, (err: grpc.ServiceError | null) => resolve(err)),
      );
    const many = Array.from({ length: 5001 }, (_, i) => String(0x1000 + i));
    const e1 = await callErr({ batches: [{ binary: { buildId: id }, addresses: many }] });
    assert.equal(e1?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(e1!.details, /5001 addresses; the limit is 5000/);
    // 3 × 5,000 addresses of ~11 bytes each: well over 128 KiB (refused before decoding).
    const big = Array.from({ length: 5000 }, () => "18446744073709551615");
    const e2 = await callErr({
      batches: [0, 1, 2].map(() => ({ binary: { buildId: id }, addresses: big })),
    });
    assert.equal(e2?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(e2!.details, /readMaxBytes/);
    const ok = await new Promise<Any>((resolve, reject) =>
      c.symbolize(
        { batches: [{ binary: { buildId: id }, addresses: [String(pcs[0])] }] },
        (err: Error, r: Any) => (err ? reject(err) : resolve(r)),
      ),
    );
    assert.ok(ok.results[0].locations[0].frames.length > 0);
    c.close();
  });

  test("raw HTTP/2: malformed envelopes and protobuf are trailers-only errors", async () => {
    const good = toBinary(SymbolizeRequestSchema, {
      $typeName: "gosymd.v1.SymbolizeRequest",
      batches: [],
    } as never);
    const short = await rawCall(srv.url, Buffer.from([0, 0]));
    assert.equal(statusOf(short), "3");
    assert.equal(short.body.length, 0);
    const compressed = await rawCall(srv.url, frame(good, 1));
    assert.equal(statusOf(compressed), "13");
    const two = await rawCall(srv.url, Buffer.concat([frame(good), frame(good)]));
    assert.equal(statusOf(two), "3");
    assert.match(decodeURIComponent(String(two.headers["grpc-message"])), /more than one gRPC message/);
    const cut = await rawCall(srv.url, frame(new Uint8Array(10)).subarray(0, 9));
    assert.equal(statusOf(cut), "3");
    const junk = await rawCall(srv.url, frame(Buffer.from([0x0a, 0xff, 0xff, 0xff])));
    assert.equal(statusOf(junk), "3");
    assert.match(decodeURIComponent(String(junk.headers["grpc-message"])), /cannot decode the request/);
    const badTimeout = await rawCall(srv.url, frame(good), { "grpc-timeout": "soon" });
    assert.equal(statusOf(badTimeout), "3");
    // And a well-formed empty request: status 0 in the trailers, one framed (empty) response.
    const empty = await rawCall(srv.url, frame(good), { "grpc-timeout": "5S" });
    assert.equal(empty.trailers["grpc-status"], "0");
    assert.equal(empty.headers["content-type"], "application/grpc+proto");
    assert.equal(empty.body.readUInt32BE(1), empty.body.length - 5);
    assert.equal(fromBinary(SymbolizeResponseSchema, empty.body.subarray(5)).results.length, 0);
  });

  test("grpc-timeout units and grpc-message encoding", () => {
    assert.equal(parseGrpcTimeout(undefined), undefined);
    assert.equal(parseGrpcTimeout("5S"), 5000);
    assert.equal(parseGrpcTimeout("2M"), 120_000);
    assert.equal(parseGrpcTimeout("1H"), 3_600_000);
    assert.equal(parseGrpcTimeout("250m"), 250);
    assert.equal(parseGrpcTimeout("1500u"), 1.5);
    assert.equal(parseGrpcTimeout("99999999H"), 2 ** 31 - 1);
    assert.ok(parseGrpcTimeout("123456789S") instanceof Error);
    assert.ok(parseGrpcTimeout("5s") instanceof Error);
    assert.equal(percentEncode("a b%c\nü"), "a b%25c%0A%C3%BC");
  });
});

describe("direct gRPC path: deadlines reach a binary still being looked up", () => {
  // A source that never answers: only the call's deadline can end a request for an unknown ID.
  let finds = 0;
  const hanging = {
    name: "hanging",
    remote: true,
    accepts: () => true,
    find: () => {
      finds++;
      return new Promise<undefined>(() => {});
    },
  };
  let srv: Gosymd;
  const t = tempDir();
  before(async () => {
    srv = await startGosymd({
      port: 0,
      host: "127.0.0.1",
      storeDir: t.dir,
      cacheBytes: 16 << 20,
      extraSources: [hanging],
    });
  });
  after(async () => {
    await srv.close(200);
    t.cleanup();
  });

  const request = (buildId: string) =>
    frame(
      toBinary(
        SymbolizeRequestSchema,
        create(SymbolizeRequestSchema, {
          batches: [{ binary: { ref: { case: "buildId", value: buildId } }, addresses: [0x401000n] }],
        }),
      ),
    );

  test("the deadline passes while the call waits on the lookup: DEADLINE_EXCEEDED, on time", {
    timeout: 10_000,
  }, async () => {
    const t0 = performance.now();
    const r = await rawCall(srv.url, request("ab".repeat(20)), { "grpc-timeout": "300m" });
    const took = performance.now() - t0;
    assert.equal(statusOf(r), "4");
    assert.ok(took >= 290 && took < 5000, `answered after ${took.toFixed(0)} ms`);
    assert.ok(finds >= 1, "the hanging source was asked");
  });

  test("a client that resets its stream while the call waits (INTERNAL_ERROR) leaves the server serving", {
    timeout: 10_000,
  }, async () => {
    // The whole request is sent, so the call is waiting on the hanging lookup when the reset
    // comes: Node then closes the server's stream with an error, which must not be thrown.
    const s = http2.connect(srv.url);
    const req = s.request({
      ":method": "POST",
      ":path": PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    req.on("error", () => {});
    req.end(request("ef".repeat(20)));
    await new Promise((r) => setTimeout(r, 100));
    req.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    await new Promise((r) => setTimeout(r, 100));
    s.close();
    // The server is still there and still answers on the direct path.
    const r = await rawCall(srv.url, request("cd".repeat(20)), { "grpc-timeout": "100m" });
    assert.equal(statusOf(r), "4");
  });

  test("the deadline has passed before the call asks for its signal: DEADLINE_EXCEEDED", {
    timeout: 10_000,
  }, async () => {
    // The body comes 100 ms after the headers and their 1 ms deadline: the deadline timer has
    // fired before the call asks for its signal (at the cache miss), which must then be made
    // already aborted.
    const r = await rawCall(srv.url, request("cd".repeat(20)), { "grpc-timeout": "1m" }, 100);
    assert.equal(statusOf(r), "4");
  });
});
