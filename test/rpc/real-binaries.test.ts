/**
 * The service with the real engine and real Go binaries (built at test time; `go tool nm` and
 * `readelf` are the oracles), over the in-memory router transport.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { defaultDecoder } from "../../src/cache/binary-cache.js";
import { AddressKind, FrameSource, UnresolvedReason } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { goBin, goBuild, newestGo } from "../support/fixtures.js";
import { type InMemory, inMemoryService, upload } from "./helpers.js";

const go = newestGo();

function nmFuncs(path: string): Map<string, number> {
  const out = execFileSync(goBin(go!), ["tool", "nm", path], { encoding: "utf8", maxBuffer: 64 << 20 });
  const m = new Map<string, number>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length === 3 && (f[1] === "T" || f[1] === "t")) m.set(f[2]!, Number.parseInt(f[0]!, 16));
  }
  return m;
}

interface Seg {
  offset: number;
  vaddr: number;
  filesz: number;
}
function loadSegments(path: string): Seg[] {
  const out = execFileSync("readelf", ["-lW", path], { encoding: "utf8" });
  const segs: Seg[] = [];
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] === "LOAD") segs.push({ offset: Number(f[1]), vaddr: Number(f[2]), filesz: Number(f[4]) });
  }
  return segs;
}

describe("service with real Go binaries", { skip: go ? false : "no Go toolchain" }, () => {
  let svc: InMemory;
  let decodes = 0;
  let path = "";
  let bytes: Buffer;
  let gnu = "";
  let goId = "";
  let sha = "";
  before(async () => {
    path = goBuild("hello", { go: go!, flags: ["-ldflags=-B gobuildid"], tag: "gnu-buildid" });
    bytes = readFileSync(path);
    svc = await inMemoryService({
      decoder: (input) => {
        decodes++;
        return defaultDecoder(input);
      },
    });
  });
  after(() => svc.cleanup());

  test("upload reports every build ID; aliases name one cache entry", async () => {
    const c = svc.client();
    const r = await upload(c, bytes, { chunk: 100_000 });
    const ids = r.info!.buildIds!;
    gnu = ids.gnu;
    goId = ids.go;
    sha = ids.sha256;
    const readelf = /Build ID: ([0-9a-f]+)/.exec(
      execFileSync("readelf", ["-n", path], { encoding: "utf8" }),
    )![1]!;
    assert.equal(gnu, readelf);
    const toolId = execFileSync(goBin(go!), ["tool", "buildid", path], { encoding: "utf8" }).trim();
    assert.equal(goId, toolId);
    assert.equal(r.info!.format, "elf");
    assert.equal(
      r.info!.goVersion,
      `go${execFileSync(goBin(go!), ["env", "GOVERSION"], { encoding: "utf8" }).trim().slice(2)}`,
    );
    assert.ok(r.info!.buildInfo?.deps.some((d) => d.path === "example.com/lib"));
    // The upload decoded it once and put it in the cache; every alias now hits that entry.
    svc.cache.clear();
    decodes = 0;
    const main = nmFuncs(path).get("main.main")!;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        c.symbolize({
          batches: [
            {
              binary: { ref: { case: "buildId", value: [gnu, goId, `sha256:${sha}`][i % 3]! } },
              addresses: [BigInt(main)],
            },
          ],
        }),
      ),
    );
    assert.equal(decodes, 1, "50 concurrent cold requests, three aliases: one decode");
    for (const res of results)
      assert.equal(res.results[0]!.locations[0]!.frames.at(-1)!.function, "main.main");
    assert.equal(svc.cache.stats().entries, 1);
  });

  test("every function's entry resolves to that function (go tool nm oracle)", async () => {
    const funcs = [...nmFuncs(path)].filter(([n]) => /^(main|fmt|strconv|example\.com)[./]/.test(n));
    assert.ok(funcs.length > 50, `${funcs.length} functions`);
    const r = await svc.client().symbolize({
      batches: [
        { binary: { ref: { case: "buildId", value: gnu } }, addresses: funcs.map(([, a]) => BigInt(a)) },
      ],
    });
    const locs = r.results[0]!.locations;
    assert.equal(locs.length, funcs.length);
    for (let i = 0; i < funcs.length; i++) {
      const [name, addr] = funcs[i]!;
      const outer = locs[i]!.frames.at(-1);
      assert.ok(outer, `${name} unresolved: ${locs[i]!.detail}`);
      assert.equal(outer.function, name);
      assert.equal(outer.entry, BigInt(addr));
      assert.equal(outer.source, FrameSource.PCLNTAB);
      assert.equal(outer.inlined, false);
    }
  });

  test("file offsets, runtime addresses, return addresses and addresses outside the binary", async () => {
    const main = nmFuncs(path).get("main.main")!;
    const seg = loadSegments(path).find((s) => main >= s.vaddr && main < s.vaddr + s.filesz)!;
    const fileOff = main - seg.vaddr + seg.offset;
    const base = 0x7f1200000000n;
    const r = await svc.client().symbolize({
      batches: [
        {
          binary: { ref: { case: "buildId", value: gnu } },
          addresses: [BigInt(fileOff)],
          addressKind: AddressKind.FILE_OFFSET,
        },
        {
          binary: { ref: { case: "buildId", value: gnu } },
          addresses: [base + BigInt(main), 5n],
          addressKind: AddressKind.RUNTIME,
          loadBase: base,
        },
        {
          binary: { ref: { case: "buildId", value: gnu } },
          addresses: [BigInt(main + 1)],
          returnAddresses: true,
        },
        {
          binary: { ref: { case: "buildId", value: gnu } },
          addresses: [0x10n, 0xffff_ffff_0000n, 2n ** 63n],
        },
      ],
    });
    const [a, b, c, d] = r.results;
    assert.equal(a!.locations[0]!.frames.at(-1)!.function, "main.main");
    assert.equal(b!.locations[0]!.frames.at(-1)!.function, "main.main");
    assert.equal(b!.locations[1]!.unresolvedReason, UnresolvedReason.INVALID_ADDRESS);
    assert.equal(c!.locations[0]!.frames.at(-1)!.function, "main.main");
    assert.equal(d!.locations[0]!.frames.length, 0);
    assert.equal(d!.locations[0]!.unresolvedReason, UnresolvedReason.OUTSIDE_BINARY);
    assert.equal(d!.locations[1]!.unresolvedReason, UnresolvedReason.OUTSIDE_BINARY);
    assert.equal(d!.locations[2]!.unresolvedReason, UnresolvedReason.INVALID_ADDRESS);
  });

  test("remembered answers (a request's second time) equal first answers and the JSON codec's, for every address kind", async () => {
    const main = nmFuncs(path).get("main.main")!;
    const base = 0x7f1200000000n;
    const ref = { ref: { case: "buildId" as const, value: gnu } };
    const near = [0, 1, 2, 17, 40].map((d) => BigInt(main + d));
    const req = {
      batches: [
        { binary: ref, addresses: [...near, 0x10n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n] },
        { binary: ref, addresses: [...near, 0n], returnAddresses: true },
        {
          binary: ref,
          addresses: [...near.map((a) => base + a), base, base - 1n, 5n],
          addressKind: AddressKind.RUNTIME,
          loadBase: base,
        },
        {
          binary: ref,
          addresses: [...near.map((a) => base + a), base, base + 1n],
          addressKind: AddressKind.RUNTIME,
          loadBase: base,
          returnAddresses: true,
        },
        {
          binary: ref,
          addresses: near,
          addressKind: AddressKind.RUNTIME,
          loadBase: 2n ** 60n,
        },
      ],
    };
    const fresh = await inMemoryService();
    try {
      await upload(fresh.client(), bytes);
      const first = await fresh.client().symbolize(req);
      const again = await fresh.client().symbolize(req);
      const json = await fresh.client(false).symbolize(req);
      assert.deepEqual(again, first);
      assert.deepEqual(json, first);
      // Sanity: the batches did resolve main.main where they should.
      for (const k of [0, 2])
        assert.equal(first.results[k]!.locations[0]!.frames.at(-1)!.function, "main.main");
      assert.equal(first.results[1]!.locations[1]!.frames.at(-1)!.function, "main.main");
      assert.equal(
        first.results[2]!.locations[near.length + 1]!.unresolvedReason,
        UnresolvedReason.INVALID_ADDRESS,
      );
    } finally {
      fresh.cleanup();
    }
  });

  test("truncated and corrupt uploads are INVALID_ARGUMENT with where; the store keeps nothing", async () => {
    const c = svc.client();
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    await assert.rejects(upload(c, half), (e: unknown) => {
      const ce = ConnectError.from(e);
      assert.equal(ce.code, Code.InvalidArgument, ce.message);
      assert.match(ce.message, /offset \d+/);
      return true;
    });
    const broken = Buffer.from(bytes);
    broken.fill(0, 64, 4096); // program and section headers gone
    await assert.rejects(
      upload(c, broken),
      (e: unknown) => ConnectError.from(e).code === Code.InvalidArgument,
    );
    const r = await c.symbolize({
      batches: [{ binary: { ref: { case: "buildId", value: gnu } }, addresses: [1n] }],
    });
    assert.equal(r.results[0]!.status?.code ?? 0, 0, "the good binary is still served");
  });
});
