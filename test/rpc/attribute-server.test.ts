/**
 * Attribute, AttributeCore and SymbolizeProfile on a real server on port 0 (startGosymd, real
 * engine), driven by clients that share none of our code paths: @grpc/grpc-js loading our .proto
 * files, plain HTTP/1.1 JSON (the Connect protocol, what curl sends) and `buf curl` over gRPC with
 * server reflection. Inputs are real: crash-corpus text and raw PCs, a core dump, a runtime/pprof
 * profile.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { toJson } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { attributeText } from "../../src/crash/attribute.js";
import { AttributeResponseSchema } from "../../src/gen/gosymd/v1/attribute_pb.js";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { toAttributeResponse } from "../../src/rpc/crash-convert.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import { buildVariant, makeCore } from "../core/support.js";
import { decodeProfile } from "../pprof/support.js";
import { ROOT } from "../support/fixtures.js";
import {
  corpusBinary,
  crashText,
  firstCrash,
  frameKeys,
  GO,
  nmEntries,
  rawFromText,
} from "./crash-support.js";
import { tempDir, upload } from "./helpers.js";
import { exeLines, type RealProfile, realProfile } from "./profile-support.js";

const run = promisify(execFile);
const BUF = join(ROOT, "node_modules/.bin/buf");

// biome-ignore lint/suspicious/noExplicitAny: grpc-js dynamic clients are untyped
type Any = any;

function grpcClient(port: number): Any {
  const pkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(["gosymd/v1/symbolizer.proto"], {
      keepCase: false,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
      includeDirs: [join(ROOT, "proto")],
    }),
  ) as Any;
  return new pkg.gosymd.v1.SymbolizerService(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

function call<T>(client: Any, method: string, req: unknown): Promise<T> {
  return new Promise((resolve, reject) =>
    client[method](req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}

async function post(url: string, path: string, body: unknown): Promise<{ status: number; json: Any }> {
  const res = await fetch(`${url}/gosymd.v1.SymbolizerService/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

describe("Attribute / AttributeCore / SymbolizeProfile on a real server", {
  skip: GO ? false : "no Go toolchain",
}, () => {
  const t = tempDir("gosymd-attr-srv-");
  let srv: Gosymd;
  let bin = "";
  let sha = "";
  let text = "";
  let prof: RealProfile;
  before(async () => {
    bin = await corpusBinary();
    const bytes = readFileSync(bin);
    sha = createHash("sha256").update(bytes).digest("hex");
    text = crashText(bin, "workerpanic");
    prof = realProfile(t.dir);
    srv = await startGosymd({ port: 0, storeDir: join(t.dir, "store"), cacheBytes: 256 << 20 });
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    await upload(c, bytes);
    await upload(c, readFileSync(prof.exe));
  });
  after(async () => {
    await srv.close(1000);
    t.cleanup();
  });

  test("@grpc/grpc-js with our .proto: text, raw PCs, a streamed core, a profile", async () => {
    const c = grpcClient(srv.port);
    try {
      const local = attributeText(text);
      const fromText = await call<Any>(c, "attribute", { text, binary: { buildId: `sha256:${sha}` } });
      assert.equal(fromText.category, "CRASH_CATEGORY_EXPLICIT_PANIC");
      assert.equal(fromText.culprit.function, local.culprit?.function);
      assert.equal(fromText.fingerprint, local.fingerprint);
      assert.equal(fromText.buildId, `sha256:${sha}`);

      const crash = firstCrash(text);
      const raw = rawFromText(crash, nmEntries(bin));
      const json = (v: unknown) =>
        JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x)));
      const fromRaw = await call<Any>(c, "attribute", {
        raw: { ...json(raw), pcConvention: "PC_CONVENTION_RETURN_ADDRESSES" },
        binary: { buildId: `sha256:${sha}` },
      });
      assert.deepEqual(frameKeys(fromRaw.goroutines[0].frames), frameKeys(crash.goroutines[0]!.frames));
      assert.equal(fromRaw.fingerprint, fromText.fingerprint);

      // Client streaming with grpc-js: the core in 1 MiB chunks.
      const core = await makeCore(buildVariant("core-crash", GO!, "default"), [], "crash");
      const coreBytes = readFileSync(core.core);
      const coreBin = readFileSync(core.binary);
      const res = await new Promise<Any>((resolve, reject) => {
        const stream = c.attributeCore((err: Error | null, r: Any) => (err ? reject(err) : resolve(r)));
        stream.write({ binary: { contents: coreBin }, coreSize: String(coreBytes.length) });
        for (let off = 0; off < coreBytes.length; off += 1 << 20)
          stream.write({ chunk: coreBytes.subarray(off, off + (1 << 20)) });
        stream.end();
      });
      const coreText = attributeText(core.stderr);
      assert.equal(res.core.buildIdCheck, "match");
      assert.equal(res.attribution.culprit.function, coreText.culprit?.function);
      assert.equal(res.attribution.fingerprint, coreText.fingerprint);

      const p = await call<Any>(c, "symbolizeProfile", { profile: prof.bare });
      assert.equal(p.gzipped, true);
      assert.deepEqual(
        exeLines(decodeProfile(gunzipSync(p.profile)), prof.gnu),
        exeLines(prof.orig, prof.gnu),
      );
      assert.deepEqual(p.stats.missingBuildIds, []);

      // Bad input: the gRPC status codes.
      await assert.rejects(call(c, "attribute", {}), (e: Any) => e.code === grpc.status.INVALID_ARGUMENT);
      await assert.rejects(
        call(c, "attribute", { text, options: { rules: "rules:\n  - {severity: nope}" } }),
        (e: Any) => e.code === grpc.status.INVALID_ARGUMENT,
      );
      await assert.rejects(
        call(c, "attribute", { text, binary: { buildId: "ab".repeat(20) } }),
        (e: Any) => e.code === grpc.status.NOT_FOUND,
      );
      await assert.rejects(
        call(c, "symbolizeProfile", { profile: Buffer.from("not a profile") }),
        (e: Any) => e.code === grpc.status.INVALID_ARGUMENT,
      );
    } finally {
      c.close();
    }
  });

  test("Connect HTTP/1.1 JSON (curl): Attribute answers the CLI's JSON shape; errors as JSON", async () => {
    const r = await post(srv.url, "Attribute", { text });
    assert.equal(r.status, 200);
    // The same JSON `gosymd attribute --json` prints for this text.
    assert.deepEqual(r.json, toJson(AttributeResponseSchema, toAttributeResponse(attributeText(text))));
    const p = await post(srv.url, "SymbolizeProfile", {
      profile: Buffer.from(prof.bare).toString("base64"),
      compression: "PROFILE_COMPRESSION_NONE",
    });
    assert.equal(p.status, 200);
    assert.equal(p.json.gzipped ?? false, false);
    const got = exeLines(decodeProfile(Buffer.from(p.json.profile, "base64")), prof.gnu);
    assert.deepEqual(got, exeLines(prof.orig, prof.gnu));
    const bad = await post(srv.url, "Attribute", { raw: { goroutines: [{ pcs: ["1"] }] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.code, "invalid_argument");
    assert.match(bad.json.message, /need the binary/);
    const nf = await post(srv.url, "Attribute", { text, binary: { buildId: "feedface" } });
    assert.equal(nf.status, 404);
    const health = await fetch(`${srv.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.deepEqual(await health.json(), { status: "SERVING" });
  });

  test("buf curl over gRPC with server reflection", async () => {
    const base = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const { stdout: desc } = await run(BUF, [...base, "--list-methods", srv.url]);
    for (const m of ["Attribute", "AttributeCore", "SymbolizeProfile"])
      assert.ok(desc.includes(`gosymd.v1.SymbolizerService/${m}`), desc);
    const { stdout } = await run(
      BUF,
      [
        ...base,
        "-d",
        JSON.stringify({ text, binary: { buildId: `sha256:${sha}` } }),
        `${srv.url}/gosymd.v1.SymbolizerService/Attribute`,
      ],
      { maxBuffer: 64 << 20 },
    );
    const j = JSON.parse(stdout) as Any;
    assert.equal(j.category, "CRASH_CATEGORY_EXPLICIT_PANIC");
    assert.equal(j.culprit.function, attributeText(text).culprit?.function);
    assert.equal(j.culprit.modulePath, "example.com/crashcorpus");
    const { stdout: ps } = await run(
      BUF,
      [
        ...base,
        "-d",
        JSON.stringify({ profile: Buffer.from(prof.bare).toString("base64") }),
        `${srv.url}/gosymd.v1.SymbolizerService/SymbolizeProfile`,
      ],
      { maxBuffer: 64 << 20 },
    );
    const pj = JSON.parse(ps) as Any;
    assert.equal(pj.gzipped, true);
    assert.ok(pj.stats.resolved > 0);
    const err = await run(BUF, [
      ...base,
      "-d",
      "{}",
      `${srv.url}/gosymd.v1.SymbolizerService/Attribute`,
    ]).then(
      () => undefined,
      (e: Any) => e,
    );
    assert.ok(err, "an empty Attribute request fails");
    assert.match(String(err.stderr), /invalid_argument/);
  });
});
