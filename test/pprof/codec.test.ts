/**
 * Profile symbolization against synthetic profiles: built and read back with an independent
 * protobuf codec (protobufjs over the profile.proto schema) and a fake binary whose answers are a
 * pure function of the PC. Covers pass-through of everything we do not touch, several mappings,
 * unknown and missing build IDs, kernel-range addresses, PIE and file-offset normalization, kept
 * vs redone locations, function deduplication, mapping flags, gzip handling and hostile input.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { gunzipSync, gzipSync, inflateRawSync } from "node:zlib";
import protobuf from "protobufjs";
import { GosymdError } from "../../src/bytes/errors.js";
import type { ProfileBinary, ResolveBinary, SymbolizeProfileOptions } from "../../src/pprof/index.js";
import { AddressMapper, NOT_MAPPED, symbolizeProfile } from "../../src/pprof/index.js";
import { goBin, newestGo } from "../support/fixtures.js";
import type { FakeFunc, PProfile } from "./support.js";
import { decodeProfile, expectedFrames, FakeBinary, ProfileBuilder } from "./support.js";

const FUNCS: FakeFunc[] = [
  {
    name: "main.main",
    file: "/src/main.go",
    entry: 0x401000,
    end: 0x401100,
    startLine: 5,
    inlined: {
      start: 0x401040,
      end: 0x401060,
      chain: [
        { name: "main.leaf", file: "/src/leaf.go", startLine: 10 },
        { name: "main.mid", file: "/src/mid.go", startLine: 20 },
      ],
    },
  },
  { name: "main.worker", file: "/src/worker.go", entry: 0x401100, end: 0x401200, startLine: 30 },
];

const BIN_ID = "aabbccddeeff00112233";
const KERNEL_START = "18446744071562067968"; // 0xffffffff80000000
const KERNEL_ADDR = "18446744071578845184"; // 0xffffffff81000000
const U64_MAX = "18446744073709551615";

/** Several mappings and every kind of location. */
function mixedProfile(): ProfileBuilder {
  const b = new ProfileBuilder();
  b.mapping({ id: 1, start: 0x400000, limit: 0x580000, file: "/usr/bin/app", buildId: BIN_ID.toUpperCase() });
  b.mapping({
    id: 2,
    start: 0x7f0000000000,
    limit: 0x7f0000200000,
    file: "/lib/libc.so.6",
    buildId: "libcbuildid",
  });
  b.mapping({ id: 3, start: 0x7ffd00000000, limit: 0x7ffd00002000, file: "[vdso]", buildId: "" });
  b.mapping({ id: 4, start: KERNEL_START, limit: U64_MAX, file: "[kernel.kallsyms]", buildId: "kernelid" });
  b.func(1, "main.worker", "/src/worker.go", 30);
  b.location(1, 1, 0x401010);
  b.location(2, 1, 0x401050);
  b.location(3, 1, 0x401150);
  b.location(4, 1, 0x401010);
  b.location(5, 2, 0x7f0000001234);
  b.location(6, 3, 0x7ffd00000500);
  b.location(7, 4, KERNEL_ADDR);
  b.location(8, 0, 0x401010);
  b.location(9, 1, 0x401180, [[1, 999]]);
  b.location(10, 1, 0x4ff000); // inside the file, no function
  b.location(11, 1, 0x590000); // beyond the file-backed segments
  b.sample([1, 3], [1, 10_000_000], ["thread", "t1"]);
  b.sample([2, 9, 3], [2, 20_000_000]);
  b.sample([5, 6, 7, 8], [3, 30_000_000]);
  b.sample([4, 10, 11], [4, 40_000_000], ["thread", "t2"]);
  return b;
}

function resolverFor(bins: Record<string, FakeBinary | ProfileBinary>): ResolveBinary & { calls: string[] } {
  const calls: string[] = [];
  const f = (id: string) => {
    calls.push(id);
    return bins[id.toLowerCase()];
  };
  return Object.assign(f, { calls });
}

async function run(input: Uint8Array, resolver: ResolveBinary, opts: SymbolizeProfileOptions = {}) {
  const r = await symbolizeProfile(input, resolver, opts);
  const raw = r.gzipped ? gunzipSync(r.profile) : r.profile;
  return { ...r, raw, p: decodeProfile(raw) };
}

function str(p: PProfile, i: string): string {
  const s = p.string_table[Number(i)];
  assert.notEqual(s, undefined, `string index ${i} out of range`);
  return s!;
}

/** Location id → [function, system name, file, start line, line][], innermost first. */
function linesOf(p: PProfile): Map<string, string[][]> {
  const fns = new Map(p.function.map((f) => [f.id, f]));
  return new Map(
    p.location.map((l) => [
      l.id,
      l.line.map((ln) => {
        const f = fns.get(ln.function_id);
        assert.ok(f, `location ${l.id} names missing function ${ln.function_id}`);
        return [str(p, f.name), str(p, f.system_name), str(p, f.filename), f.start_line, ln.line];
      }),
    ]),
  );
}

function expectedLines(pc: number): string[][] {
  const f = FUNCS.find((x) => pc >= x.entry && pc < x.end)!;
  return expectedFrames(f, pc).map((fr) => [
    fr.function,
    fr.function,
    fr.file,
    String(fr.startLine),
    String(fr.line),
  ]);
}

describe("symbolizeProfile on synthetic profiles", () => {
  test("resolves known mappings, keeps the rest byte-identical in meaning, reports missing build IDs", async () => {
    const input = mixedProfile().build();
    const fake = new FakeBinary(FUNCS);
    const resolver = resolverFor({ [BIN_ID]: fake });
    const { p, stats, gzipped } = await run(input, resolver);
    const orig = decodeProfile(input);
    assert.equal(gzipped, true);

    // Everything but locations/functions/strings-appended/mapping flags is unchanged.
    assert.deepEqual(p.sample, orig.sample);
    assert.deepEqual(p.sample_type, orig.sample_type);
    assert.deepEqual(p.period_type, orig.period_type);
    assert.equal(p.time_nanos, orig.time_nanos);
    assert.equal(p.duration_nanos, orig.duration_nanos);
    assert.deepEqual(p.comment, orig.comment);
    assert.deepEqual(p.mapping, orig.mapping); // binary mapping not fully resolved: flags untouched
    assert.deepEqual(p.string_table.slice(0, orig.string_table.length), orig.string_table);
    assert.deepEqual(
      p.location.map((l) => [l.id, l.mapping_id, l.address]),
      orig.location.map((l) => [l.id, l.mapping_id, l.address]),
    );
    assert.equal(p.location[6]!.address, KERNEL_ADDR);

    const lines = linesOf(p);
    assert.deepEqual(lines.get("1"), expectedLines(0x401010));
    assert.deepEqual(lines.get("2"), expectedLines(0x401050));
    assert.equal(lines.get("2")!.length, 3, "inlined chain: leaf, mid, main");
    assert.deepEqual(lines.get("3"), expectedLines(0x401150));
    assert.deepEqual(lines.get("4"), expectedLines(0x401010));
    // Kept as it was (wrong line 999 and all).
    assert.deepEqual(lines.get("9"), [["main.worker", "main.worker", "/src/worker.go", "30", "999"]]);
    for (const id of ["5", "6", "7", "8", "10", "11"]) assert.deepEqual(lines.get(id), [], `location ${id}`);

    // Functions are unique and the existing main.worker was reused.
    const keys = p.function.map((f) => `${str(p, f.name)}|${str(p, f.filename)}|${f.start_line}`);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(new Set(p.function.map((f) => f.id)).size, p.function.length);
    assert.deepEqual(keys.sort(), [
      "main.leaf|/src/leaf.go|10",
      "main.main|/src/main.go|5",
      "main.mid|/src/mid.go|20",
      "main.worker|/src/worker.go|30",
    ]);
    assert.equal(p.function.find((f) => str(p, f.name) === "main.worker")!.id, "1");

    // The binary was asked once, and for link-time PCs.
    assert.deepEqual(resolver.calls.sort(), [BIN_ID.toUpperCase(), "kernelid", "libcbuildid"].sort());
    // Each distinct PC once (location 4 repeats location 1's PC).
    assert.deepEqual(fake.asked, [0x401010, 0x401050, 0x401150, 0x4ff000]);

    assert.deepEqual(stats.missingBuildIds, ["kernelid", "libcbuildid"]);
    assert.equal(stats.locations, 11);
    assert.equal(stats.resolved, 4);
    assert.equal(stats.alreadySymbolized, 1);
    assert.equal(stats.unresolved, 5);
    assert.equal(stats.unmappedLocations, 1);
    assert.equal(stats.functionsAdded, 3);
    const m1 = stats.perMapping[0]!;
    assert.deepEqual(
      { ...m1 },
      {
        mappingId: 1,
        buildId: BIN_ID.toUpperCase(),
        filename: "/usr/bin/app",
        locations: 7,
        alreadySymbolized: 1,
        resolved: 4,
        unresolved: 2,
        binaryFound: true,
      },
    );
    assert.deepEqual(
      stats.perMapping.map((m) => [m.mappingId, m.locations, m.unresolved, m.binaryFound]),
      [
        [1, 7, 2, true],
        [2, 1, 1, false],
        [3, 1, 1, false],
        [4, 1, 1, false],
      ],
    );
  });

  test("redo replaces existing lines; a fully resolved mapping gets its flags", async () => {
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "app", buildId: BIN_ID });
    b.func(7, "stale.fn", "stale.go", 1);
    b.location(1, 1, 0x401010);
    b.location(2, 1, 0x401180, [[7, 3]]);
    b.sample([1, 2], [1, 1]);
    const input = b.build();
    const fake = new FakeBinary(FUNCS);

    const kept = await run(input, resolverFor({ [BIN_ID]: fake }));
    assert.deepEqual(linesOf(kept.p).get("2"), [["stale.fn", "stale.fn", "stale.go", "1", "3"]]);
    // All locations have lines, but the kept one's file/line quality is unknown: only has_functions.
    assert.deepEqual(
      [
        kept.p.mapping[0]!.has_functions,
        kept.p.mapping[0]!.has_filenames,
        kept.p.mapping[0]!.has_inline_frames,
      ],
      [true, false, false],
    );

    const redone = await run(input, resolverFor({ [BIN_ID]: fake }), { redo: true });
    assert.deepEqual(linesOf(redone.p).get("1"), expectedLines(0x401010));
    assert.deepEqual(linesOf(redone.p).get("2"), expectedLines(0x401180));
    assert.equal(redone.stats.resolved, 2);
    assert.equal(redone.stats.alreadySymbolized, 0);
    const m = redone.p.mapping[0]!;
    assert.deepEqual(
      [m.has_functions, m.has_filenames, m.has_line_numbers, m.has_inline_frames],
      [true, true, true, true],
    );
    // The stale function is still there (samples elsewhere could name it); ids stay unique.
    assert.equal(new Set(redone.p.function.map((f) => f.id)).size, redone.p.function.length);
  });

  test("the per-binary memo: warm runs and a memo reset mid-profile give identical output", async () => {
    const input = mixedProfile().build();
    const fake = new FakeBinary(FUNCS);
    const first = await symbolizeProfile(input, resolverFor({ [BIN_ID]: fake }), { output: "raw" });
    const asked = fake.asked.length;
    const warm = await symbolizeProfile(input, resolverFor({ [BIN_ID]: fake }), { output: "raw" });
    assert.equal(fake.asked.length, asked, "a warm run asks the binary nothing");
    assert.deepEqual(warm.profile, first.profile);
    // A memo that holds 2 PCs is reset twice while symbolizing: same answer.
    const tiny = new FakeBinary(FUNCS);
    const small = await symbolizeProfile(input, resolverFor({ [BIN_ID]: tiny }), {
      output: "raw",
      maxMemoPcs: 2,
    });
    assert.deepEqual(small.profile, first.profile);
    // Two mappings of one binary share its functions: no duplicate Function entries.
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "app", buildId: BIN_ID });
    b.mapping({ id: 2, start: 0x7f0000000000, limit: 0x7f0000100000, file: "app", buildId: BIN_ID });
    b.location(1, 1, 0x401010);
    b.location(2, 2, 0x7f0000001020);
    b.sample([1, 2], [1, 1]);
    const two = await run(b.build(), resolverFor({ [BIN_ID]: fake }));
    assert.deepEqual(
      linesOf(two.p)
        .get("1")!
        .map((l) => l[0]),
      ["main.main"],
    );
    assert.deepEqual(
      linesOf(two.p)
        .get("2")!
        .map((l) => l[0]),
      ["main.main"],
    );
    assert.equal(two.p.function.length, 1);
  });

  test("wrapper frames are left out of chains like Go tracebacks do (unless asked to keep them)", async () => {
    const funcs: FakeFunc[] = [
      {
        name: "main.(*T).M",
        file: "<autogenerated>",
        entry: 0x402000,
        end: 0x402100,
        startLine: 1,
        wrapper: true,
        inlined: {
          start: 0x402000,
          end: 0x402080,
          chain: [
            { name: "main.T.M", file: "/src/t.go", startLine: 7 },
            { name: "main.T.M-fm", file: "<autogenerated>", startLine: 1, wrapper: true },
          ],
        },
      },
    ];
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "app", buildId: BIN_ID });
    b.location(1, 1, 0x402010); // M inlined into two wrappers
    b.location(2, 1, 0x402090); // only the wrapper itself
    b.sample([1, 2], [1, 1]);
    const input = b.build();
    const elided = await run(input, resolverFor({ [BIN_ID]: new FakeBinary(funcs) }));
    assert.deepEqual(
      linesOf(elided.p)
        .get("1")!
        .map((l) => l[0]),
      ["main.T.M"],
    );
    assert.deepEqual(
      linesOf(elided.p)
        .get("2")!
        .map((l) => l[0]),
      ["main.(*T).M"],
      "a bare wrapper keeps its frame",
    );
    const kept = await run(input, resolverFor({ [BIN_ID]: new FakeBinary(funcs) }), { elideWrappers: false });
    assert.deepEqual(
      linesOf(kept.p)
        .get("1")!
        .map((l) => l[0]),
      ["main.T.M", "main.T.M-fm", "main.(*T).M"],
    );
  });

  test("PIE: runtime addresses are mapped through start and the segments", async () => {
    const pieFuncs: FakeFunc[] = FUNCS.map((f) => ({
      ...f,
      entry: f.entry - 0x400000,
      end: f.end - 0x400000,
      inlined: f.inlined && {
        ...f.inlined,
        start: f.inlined.start - 0x400000,
        end: f.inlined.end - 0x400000,
      },
    }));
    const fake = new FakeBinary(pieFuncs, {
      pie: true,
      segments: [
        { vaddr: 0, memSize: 0x100000, offset: 0, fileSize: 0x100000, read: true, write: false, exec: true },
      ],
    });
    const base = 0x555555554000;
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: base, limit: base + 0x100000, file: "pie", buildId: BIN_ID });
    b.location(1, 1, base + 0x1050);
    b.location(2, 1, base + 0x1110);
    b.sample([1, 2], [1, 1]);
    const { p } = await run(b.build(), resolverFor({ [BIN_ID]: fake }));
    assert.deepEqual(fake.asked, [0x1050, 0x1110]);
    const f = pieFuncs[0]!;
    assert.deepEqual(
      linesOf(p)
        .get("1")!
        .map((l) => l[0]),
      expectedFrames(f, 0x1050).map((x) => x.function),
    );
  });

  test("a mapping that starts at a file offset (externally linked r-x segment)", async () => {
    const fake = new FakeBinary(FUNCS, {
      pie: true,
      segments: [
        {
          vaddr: 0x3ff000,
          memSize: 0x800,
          offset: 0,
          fileSize: 0x800,
          read: true,
          write: false,
          exec: false,
        },
        {
          vaddr: 0x401000,
          memSize: 0x2000,
          offset: 0x1000,
          fileSize: 0x2000,
          read: true,
          write: false,
          exec: true,
        },
      ],
    });
    const start = 0x7f1234561000;
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start, limit: start + 0x2000, offset: 0x1000, file: "app", buildId: BIN_ID });
    b.location(1, 1, start + 0x50);
    b.sample([1], [1]);
    const { p, stats } = await run(b.build(), resolverFor({ [BIN_ID]: fake }));
    assert.deepEqual(fake.asked, [0x401050]);
    assert.deepEqual(linesOf(p).get("1"), expectedLines(0x401050));
    assert.equal(stats.resolved, 1);
  });

  test("AddressMapper: identity for whole-address-space mappings, NOT_MAPPED outside the file", () => {
    const segs = [{ vaddr: 0x400000, memSize: 0x1000, offset: 0, fileSize: 0x1000, exec: true }];
    assert.equal(new AddressMapper({ start: 0, limit: 0, offset: 0 }, segs).toLinkTime(0x123456), 0x123456);
    assert.equal(new AddressMapper({ start: 0, limit: -1, offset: 0 }, segs).toLinkTime(0x42), 0x42);
    const m = new AddressMapper({ start: 0x10000, limit: 0x11000, offset: 0 }, segs);
    assert.equal(m.toLinkTime(0x10010), 0x400010);
    assert.equal(m.toLinkTime(0xffff), NOT_MAPPED);
    assert.equal(m.toLinkTime(0x11000), NOT_MAPPED);
    assert.equal(m.toLinkTime(-1), NOT_MAPPED);
  });

  test("ProfileBinary segments are used when info.segments is absent; resolver errors are per mapping", async () => {
    const fake = new FakeBinary(FUNCS, { segments: undefined });
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "app", buildId: BIN_ID });
    b.mapping({ id: 2, start: 0x600000, limit: 0x700000, file: "broken", buildId: "deadbeef" });
    b.location(1, 1, 0x401010);
    b.location(2, 2, 0x600010);
    b.sample([1, 2], [1, 1]);
    const resolver: ResolveBinary = (id) => {
      if (id === "deadbeef") throw new GosymdError("corrupt", "stored binary is damaged");
      return {
        binary: fake,
        segments: [{ vaddr: 0x400000, memSize: 0x2000, offset: 0, fileSize: 0x2000, exec: true }],
      };
    };
    const { p, stats } = await run(b.build(), resolver);
    assert.deepEqual(linesOf(p).get("1"), expectedLines(0x401010));
    assert.match(stats.perMapping[1]!.error ?? "", /damaged/);
    assert.deepEqual(stats.missingBuildIds, []);
  });

  test("a resolver bug fails the call as internal, other pending lookups are not left unhandled", async () => {
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "a", buildId: "aa" });
    b.mapping({ id: 2, start: 0x600000, limit: 0x700000, file: "b", buildId: "bb" });
    b.location(1, 1, 0x401010);
    b.location(2, 2, 0x600010);
    b.sample([1, 2], [1, 1]);
    const resolver: ResolveBinary = async (id) => {
      if (id === "aa") throw new Error("bug in the resolver");
      await new Promise((r) => setTimeout(r, 20));
      throw new GosymdError("unavailable", "store is down");
    };
    await assert.rejects(symbolizeProfile(b.build(), resolver), /bug in the resolver/);
    await new Promise((r) => setTimeout(r, 50)); // the second lookup rejects after we gave up
  });

  test("output encoding: gzip by default, raw on request, same as input", async () => {
    const input = mixedProfile().build();
    const r = resolverFor({ [BIN_ID]: new FakeBinary(FUNCS) });
    const a = await symbolizeProfile(input, r, { output: "raw" });
    assert.equal(a.gzipped, false);
    assert.notEqual(a.profile[0], 0x1f);
    const b = await symbolizeProfile(gzipSync(input), r, { output: "same" });
    assert.equal(b.gzipped, true);
    assert.deepEqual(gunzipSync(b.profile), Buffer.from(a.profile));
    const c = await symbolizeProfile(input, r, { output: "same" });
    assert.deepEqual(c.profile, a.profile);
    assert.equal(b.stats.inputGzipped, true);
  });

  test("big outputs are gzip members deflated in parallel; Node and go tool pprof read them whole", async () => {
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "/usr/bin/app", buildId: BIN_ID });
    b.location(1, 1, 0x401050);
    b.location(2, 1, 0x401150);
    let seed = 7;
    for (let i = 0; i < 120_000; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      b.sample([1, 2], [1 + (seed % 1000), seed], ["request", `r${seed}`]);
    }
    const input = b.build();
    const raw = await symbolizeProfile(input, resolverFor({ [BIN_ID]: new FakeBinary(FUNCS) }), {
      output: "raw",
    });
    assert.ok(raw.profile.length > 2 << 20, `only ${raw.profile.length} bytes`);
    const gz = await symbolizeProfile(input, resolverFor({ [BIN_ID]: new FakeBinary(FUNCS) }));
    assert.deepEqual(new Uint8Array(gunzipSync(gz.profile)), raw.profile);
    // Count members: 10-byte header (no optional fields), raw deflate data, 8-byte trailer.
    let members = 0;
    for (let off = 0; off < gz.profile.length; members++) {
      assert.deepEqual([...gz.profile.subarray(off, off + 4)], [0x1f, 0x8b, 0x08, 0x00], `member ${members}`);
      const r = inflateRawSync(gz.profile.subarray(off + 10), { info: true }) as unknown as {
        engine: { bytesWritten: number };
      };
      off += 10 + r.engine.bytesWritten + 8;
    }
    assert.ok(members >= 2, `expected several gzip members, saw ${members}`);
    if (newestGo() !== undefined) {
      const dir = mkdtempSync(join(tmpdir(), "gosymd-pprof-"));
      try {
        const f = join(dir, "big.pb.gz");
        writeFileSync(f, gz.profile);
        const out = execFileSync(goBin(newestGo()!), ["tool", "pprof", "-top", "-symbolize=none", f], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
        assert.match(out, /main\.worker/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test("unknown fields survive, inside rewritten locations too", async () => {
    const base = mixedProfile().build();
    // Location 12 with an unknown field 9 = 7 and is_folded, plus an unknown top-level field 111.
    const loc = Uint8Array.from([0x08, 12, 0x10, 1, 0x18, 0x90, 0xa0, 0x80, 0x02, 0x48, 7, 0x28, 1]); // 0x401010
    const extra = Uint8Array.from([0x22, loc.length, ...loc, 0xf8, 0x06, 42]);
    const input = Buffer.concat([base, extra]);
    const fake = new FakeBinary(FUNCS);
    const { raw, p } = await run(input, resolverFor({ [BIN_ID]: fake }));
    const l12 = p.location.find((l) => l.id === "12")!;
    assert.equal(l12.is_folded, true);
    assert.deepEqual(linesOf(p).get("12"), expectedLines(0x401010));
    // Walk the output with protobufjs' reader: field 111 is at top level, field 9 in location 12.
    const top = protobuf.Reader.create(raw);
    let sawTop = false;
    let sawInner = false;
    while (top.pos < top.len) {
      const key = top.uint32();
      if (key >>> 3 === 111) {
        assert.equal(Number(String(top.uint64())), 42);
        sawTop = true;
      } else if (key >>> 3 === 4) {
        const inner = protobuf.Reader.create(top.bytes());
        const fields = new Map<number, number>();
        while (inner.pos < inner.len) {
          const k = inner.uint32();
          if ((k & 7) === 0) fields.set(k >>> 3, Number(String(inner.uint64())));
          else inner.skipType(k & 7);
        }
        if (fields.get(1) === 12) {
          assert.equal(fields.get(9), 7);
          sawInner = true;
        }
      } else top.skipType(key & 7);
    }
    assert.ok(sawTop && sawInner);
  });

  test("go tool pprof reads our output", { skip: newestGo() === undefined }, async () => {
    const b = new ProfileBuilder();
    b.mapping({ id: 1, start: 0x400000, limit: 0x500000, file: "/usr/bin/app", buildId: BIN_ID });
    b.location(1, 1, 0x401050);
    b.location(2, 1, 0x401150);
    b.sample([1, 2], [5, 50_000_000]);
    const { profile } = await symbolizeProfile(b.build(), resolverFor({ [BIN_ID]: new FakeBinary(FUNCS) }));
    const dir = mkdtempSync(join(tmpdir(), "gosymd-pprof-"));
    try {
      const f = join(dir, "p.pb.gz");
      writeFileSync(f, profile);
      const go = goBin(newestGo()!);
      assert.ok(existsSync(go));
      const out = execFileSync(go, ["tool", "pprof", "-raw", "-symbolize=none", f], { encoding: "utf8" });
      // pprof prints each location's frames innermost first: "name file:line:column s=start".
      const want = [...expectedLines(0x401050), ...expectedLines(0x401150)].map(
        ([fn, , file, start, line]) => `${fn} ${file}:${line}:0 s=${start}`,
      );
      assert.equal(want.length, 4);
      for (const w of want) assert.ok(out.includes(w), `pprof -raw lacks ${JSON.stringify(w)}:\n${out}`);
      assert.match(
        out,
        /0x400000\/0x500000\/0x0 \/usr\/bin\/app aabbccddeeff00112233 \[FN\]\[FL\]\[LN\]\[IN\]/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("hostile and malformed profiles", () => {
  const resolver = resolverFor({ [BIN_ID]: new FakeBinary(FUNCS) });

  async function rejects(input: Uint8Array, kind: string, opts: SymbolizeProfileOptions = {}) {
    await assert.rejects(symbolizeProfile(input, resolver, opts), (e: unknown) => {
      assert.ok(e instanceof GosymdError, `not a GosymdError: ${e}`);
      assert.equal(e.kind, kind, e.message);
      return true;
    });
  }

  test("every truncation is a typed error or a (shorter) valid profile", async () => {
    const input = mixedProfile().build();
    for (let n = 0; n < input.length; n++) {
      try {
        await symbolizeProfile(input.subarray(0, n), resolver, { output: "raw" });
      } catch (e) {
        assert.ok(e instanceof GosymdError, `prefix ${n}: ${e}`);
        assert.ok(["truncated", "corrupt"].includes(e.kind), `prefix ${n}: ${e.kind} ${e.message}`);
      }
    }
  });

  test("random corruption never escapes as anything but a typed error", async () => {
    const input = mixedProfile().build();
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed;
    };
    let failures = 0;
    for (let i = 0; i < 400; i++) {
      const b = Uint8Array.from(input);
      for (let k = 0; k < 1 + (rnd() % 4); k++) b[rnd() % b.length] = rnd() & 0xff;
      try {
        const r = await symbolizeProfile(b, resolver, { output: "raw" });
        decodeProfile(r.profile); // whatever we accept, we write a decodable profile
      } catch (e) {
        assert.ok(e instanceof GosymdError, `mutation ${i}: ${e}`);
        assert.notEqual(e.kind, "internal", e.message);
        failures++;
      }
    }
    assert.ok(failures > 0);
  });

  test("structural errors", async () => {
    // string_table[0] must be "".
    const noEmpty = new ProfileBuilder();
    noEmpty.strings[0] = "x";
    await rejects(noEmpty.build(), "corrupt");
    // Location (field 4) as a varint.
    await rejects(Uint8Array.from([0x20, 0x01, 0x32, 0x00]), "corrupt");
    // An 11-byte varint.
    await rejects(Uint8Array.from([0x48, ...new Array(10).fill(0xff), 0x01, 0x32, 0x00]), "corrupt");
    // Wire type 3 (group).
    await rejects(Uint8Array.from([0x4b, 0x32, 0x00]), "corrupt");
    // Length beyond the end.
    await rejects(Uint8Array.from([0x32, 0x00, 0x22, 0x7f, 0x08]), "truncated");
    // A mapping naming a string that does not exist.
    await rejects(Uint8Array.from([0x1a, 0x04, 0x08, 0x01, 0x30, 0x09, 0x32, 0x00]), "corrupt");
  });

  test("limits: locations, raw size, gzip bombs, broken gzip", async () => {
    const input = mixedProfile().build();
    await rejects(input, "limit_exceeded", { limits: { maxLocations: 5 } });
    await rejects(input, "limit_exceeded", { maxProfileBytes: 100 });
    const bomb = gzipSync(new Uint8Array(16 << 20));
    assert.ok(bomb.length < 100_000);
    await rejects(bomb, "limit_exceeded", { maxProfileBytes: 1 << 20 });
    const gz = gzipSync(input);
    await rejects(gz.subarray(0, gz.length - 12), "truncated");
    const garbage = Buffer.from(gz);
    garbage.fill(0x55, 10, 40);
    await rejects(garbage, "corrupt");
  });

  test("cancellation", async () => {
    const ac = new AbortController();
    ac.abort();
    await rejects(mixedProfile().build(), "cancelled", { signal: ac.signal });
  });
});
