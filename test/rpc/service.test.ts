/**
 * The service over the in-memory router transport, with the fake engine (exact control over
 * functions, frames and failures). Real-binary tests are in real-binaries.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { create, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import {
  AddressKind,
  FrameSource,
  LocationSchema,
  type SymbolizeRequest,
  SymbolizeRequestSchema,
  UnresolvedReason,
} from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../src/gen/grpc/health/v1/health_pb.js";
import { toLocation } from "../../src/rpc/convert.js";
import { countingDecoder, decodeFake, fakeBytes, sha256Hex } from "../cache/fake-binary.js";
import { type InMemory, inMemoryService, upload } from "./helpers.js";

const GNU = "aabbccddeeff00112233445566778899aabbccdd";
const GOID = "actA/contB";
const spec = {
  gnu: GNU,
  go: GOID,
  funcs: [
    { name: "main.main", entry: 0x401000, end: 0x401100, file: "/src/main.go", line: 12 },
    {
      name: "main.outer",
      entry: 0x401100,
      end: 0x401200,
      file: "/src/main.go",
      line: 30,
      inl: { name: "main.inner", file: "/src/inner.go", line: 7 },
    },
  ],
  mem: 1000,
};
const bytes = fakeBytes(spec);
const SHA = sha256Hex(bytes);

function expectCode(code: Code, re?: RegExp) {
  return (e: unknown) => {
    const ce = ConnectError.from(e);
    assert.equal(ce.code, code, `got ${Code[ce.code]}: ${ce.message}`);
    if (re) assert.match(ce.message, re);
    return true;
  };
}

describe("SymbolizerService (in-memory transport, fake engine)", () => {
  let svc: InMemory;
  const dec = countingDecoder();
  before(async () => {
    svc = await inMemoryService({
      decoder: dec.decoder,
      limits: { maxAddressesPerRequest: 1000, maxUploadBytes: 1 << 20, readMaxBytes: 256 * 1024 },
    });
  });
  after(() => svc.cleanup());

  test("upload, then idempotent re-upload, then GetBinaryInfo by every alias", async () => {
    const c = svc.client();
    await assert.rejects(c.getBinaryInfo({ buildId: GNU }), expectCode(Code.NotFound, new RegExp(GNU)));
    const r1 = await upload(c, bytes, { chunk: 10, fileName: "prog" });
    assert.equal(r1.alreadyPresent, false);
    assert.equal(r1.info?.buildId, `sha256:${SHA}`);
    assert.equal(r1.info?.buildIds?.gnu, GNU);
    assert.ok(r1.info?.aliases.includes(GOID));
    const r2 = await upload(c, bytes);
    assert.equal(r2.alreadyPresent, true);
    assert.deepEqual(r2.info, r1.info);
    for (const alias of [GNU, GNU.toUpperCase(), GOID, `sha256:${SHA}`]) {
      const info = await c.getBinaryInfo({ buildId: alias });
      assert.equal(info.info?.buildId, `sha256:${SHA}`);
    }
    await assert.rejects(c.getBinaryInfo({ buildId: "not an id!" }), expectCode(Code.InvalidArgument));
  });

  test("Symbolize: batches, address kinds, reasons, per-batch status; binary and JSON codecs agree", async () => {
    const UNKNOWN = "0123456789abcdef0123456789abcdef01234567";
    const req: SymbolizeRequest = create(SymbolizeRequestSchema, {
      batches: [
        {
          binary: { ref: { case: "buildId", value: GNU } },
          addresses: [0x401010n, 0x401150n, 0x500000n, 0n],
        },
        { binary: { ref: { case: "buildId", value: UNKNOWN } }, addresses: [1n, 2n] },
        {
          binary: { ref: { case: "buildId", value: GOID } },
          addresses: [0x7f0000401010n, 0x1000n, 2n ** 60n],
          addressKind: AddressKind.RUNTIME,
          loadBase: 0x7f0000000000n,
        },
        // A return address at a function's end looks up pc-1 (inside the function).
        {
          binary: { ref: { case: "buildId", value: `sha256:${SHA}` } },
          addresses: [0x401100n],
          returnAddresses: true,
        },
        { binary: { ref: { case: "contents", value: bytes } }, addresses: [0x401000n] },
        {
          binary: { ref: { case: "contents", value: new TextEncoder().encode("not a binary") } },
          addresses: [1n],
        },
      ],
    });
    const bin = await svc.client(true).symbolize(req);
    const json = await svc.client(false).symbolize(req);
    // Again over the binary codec: now from remembered answers; byte-for-byte the same result.
    const again = await svc.client(true).symbolize(req);
    assert.deepEqual(again, bin);
    assert.ok(svc.cache.stats().answerBytes > 0, "answers are remembered");
    assert.equal(bin.results.length, 6);
    // Both codecs produce the same answer (hand-encoded fast path vs reflective encoding).
    assert.deepEqual(
      bin.results.map((r) => r.locations.map((l) => toJson(LocationSchema, l))),
      json.results.map((r) => r.locations.map((l) => toJson(LocationSchema, l))),
    );
    assert.deepEqual(
      bin.results.map((r) => [r.status?.code ?? 0, r.status?.message ?? "", r.buildId]),
      json.results.map((r) => [r.status?.code ?? 0, r.status?.message ?? "", r.buildId]),
    );
    const [b0, b1, b2, b3, b4, b5] = bin.results;
    // Batch 0: virtual addresses.
    assert.equal(b0!.status?.code ?? 0, 0);
    assert.equal(b0!.buildId, `sha256:${SHA}`);
    assert.equal(b0!.locations.length, 4);
    assert.deepEqual(
      b0!.locations.map((l) => l.address),
      [0x401010n, 0x401150n, 0x500000n, 0n],
    );
    const l0 = b0!.locations[0]!;
    assert.equal(l0.frames.length, 1);
    assert.equal(l0.frames[0]!.function, "main.main");
    assert.equal(l0.frames[0]!.line, 12);
    assert.equal(l0.frames[0]!.entry, 0x401000n);
    assert.equal(l0.frames[0]!.source, FrameSource.PCLNTAB);
    assert.equal(l0.frames[0]!.modulePath, "example.com/fake");
    const l1 = b0!.locations[1]!;
    assert.deepEqual(
      l1.frames.map((f) => [f.function, f.inlined]),
      [
        ["main.inner", true],
        ["main.outer", false],
      ],
      "innermost first",
    );
    assert.equal(b0!.locations[2]!.frames.length, 0);
    assert.equal(b0!.locations[2]!.unresolvedReason, UnresolvedReason.OUTSIDE_BINARY);
    // Batch 1: unknown binary fails only itself.
    assert.equal(b1!.status?.code, Code.NotFound);
    assert.match(b1!.status!.message, new RegExp(UNKNOWN));
    assert.match(b1!.status!.message, /tried: store/);
    assert.equal(b1!.locations.length, 0);
    // Batch 2: runtime addresses with a load base.
    assert.equal(b2!.locations[0]!.frames[0]?.function, "main.main");
    assert.equal(b2!.locations[1]!.unresolvedReason, UnresolvedReason.INVALID_ADDRESS);
    assert.match(b2!.locations[1]!.detail, /below the load base/);
    assert.equal(b2!.locations[2]!.unresolvedReason, UnresolvedReason.INVALID_ADDRESS);
    assert.equal(b2!.locations[2]!.address, 2n ** 60n);
    // Batch 3: return address.
    assert.equal(b3!.locations[0]!.frames[0]?.function, "main.main");
    assert.equal(b3!.locations[0]!.address, 0x401100n);
    // Batch 4: inline contents, same binary.
    assert.equal(b4!.locations[0]!.frames[0]?.function, "main.main");
    assert.equal(b4!.buildId, `sha256:${SHA}`);
    // Batch 5: inline non-binary → INVALID_ARGUMENT with the reason and offset.
    assert.equal(b5!.status?.code, Code.InvalidArgument);
    assert.match(b5!.status!.message, /not an executable.*offset 0/);
  });

  test("toLocation is the reflective form of one resolution", () => {
    const b = decodeFake(bytes);
    const loc = toLocation(0x401150n, b.resolve(0x401150));
    const j = toJson(LocationSchema, loc) as Record<string, unknown>;
    assert.equal(j.address, String(0x401150));
    const frames = j.frames as Record<string, unknown>[];
    assert.equal(frames[0]!.function, "main.inner");
    assert.equal(frames[0]!.inlined, true);
    assert.equal(frames[1]!.startLine, 29);
    assert.equal(frames[1]!.source, "FRAME_SOURCE_PCLNTAB");
    const miss = toJson(LocationSchema, toLocation(1n, b.resolve(1))) as Record<string, unknown>;
    assert.equal(miss.unresolvedReason, "UNRESOLVED_REASON_OUTSIDE_BINARY");
  });

  test("limits and bad input get the right codes and the service stays healthy", async () => {
    const c = svc.client();
    const many = Array.from({ length: 1001 }, (_, i) => BigInt(i));
    await assert.rejects(
      c.symbolize({ batches: [{ binary: { ref: { case: "buildId", value: GNU } }, addresses: many }] }),
      expectCode(Code.ResourceExhausted, /1001 addresses; the limit is 1000/),
    );
    // Over readMaxBytes (256 KiB): inline contents of 300 KB.
    await assert.rejects(
      c.symbolize({
        batches: [{ binary: { ref: { case: "contents", value: new Uint8Array(300_000) } }, addresses: [1n] }],
      }),
      expectCode(Code.ResourceExhausted),
    );
    // Upload: non-executable, truncated (fewer bytes than announced), over the size limit, empty.
    await assert.rejects(
      upload(c, Buffer.from("#!/bin/sh\n")),
      expectCode(Code.InvalidArgument, /not an executable/),
    );
    await assert.rejects(
      upload(c, bytes.subarray(0, 20), { size: bytes.length }),
      expectCode(Code.InvalidArgument, new RegExp(`after 20 of the announced ${bytes.length} bytes`)),
    );
    await assert.rejects(
      upload(c, bytes.subarray(0, bytes.length - 3)),
      expectCode(Code.InvalidArgument, /data ends inside/),
    );
    await assert.rejects(
      upload(c, bytes, { size: 2 << 20 }),
      expectCode(Code.ResourceExhausted, /upload limit/),
    );
    await assert.rejects(
      upload(c, new Uint8Array((1 << 20) + 10), { size: 0 }),
      expectCode(Code.ResourceExhausted, /larger than the limit/),
    );
    await assert.rejects(
      upload(c, bytes, { sha256: "00".repeat(32) }),
      expectCode(Code.InvalidArgument, /SHA-256/),
    );
    // Healthy afterwards.
    const h = createClient(Health, svc.transport(true));
    assert.equal((await h.check({})).status, HealthCheckResponse_ServingStatus.SERVING);
    assert.equal(
      (await h.check({ service: "gosymd.v1.SymbolizerService" })).status,
      HealthCheckResponse_ServingStatus.SERVING,
    );
    await assert.rejects(h.check({ service: "nope" }), expectCode(Code.NotFound));
    const ok = await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: GNU } }, addresses: [0x401000n] }],
    });
    assert.equal(ok.results[0]!.locations[0]!.frames[0]!.function, "main.main");
    assert.deepEqual((await import("node:fs")).readdirSync(`${svc.store.dir}/tmp`), []);
  });
});
