/**
 * SymbolizeProfile over the in-memory router with the real engine, on a real runtime/pprof CPU
 * profile whose functions and lines were stripped: the runtime's own symbolization is the oracle.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { Code, ConnectError } from "@connectrpc/connect";
import { ProfileCompression } from "../../src/gen/gosymd/v1/profile_pb.js";
import { decodeProfile } from "../pprof/support.js";
import { newestGo } from "../support/fixtures.js";
import { type InMemory, inMemoryService, tempDir, upload } from "./helpers.js";
import { exeLines, MIN_EXE_LOCATIONS, type RealProfile, realProfile } from "./profile-support.js";

const isGzip = (b: Uint8Array) => b[0] === 0x1f && b[1] === 0x8b;

/** The service's readMaxBytes in these tests: smaller than the profiles sent. */
const READ_MAX = 2048;

describe("SymbolizeProfile (in-memory, real engine)", {
  skip: newestGo() ? false : "no Go toolchain",
}, () => {
  const t = tempDir("gosymd-profile-");
  let svc: InMemory;
  let p: RealProfile;
  before(async () => {
    p = realProfile(t.dir);
    svc = await inMemoryService({ limits: { readMaxBytes: READ_MAX, maxProfileBytes: 8 << 20 } });
  });
  after(() => {
    svc.cleanup();
    t.cleanup();
  });

  test("unknown build IDs are reported, not errors; after upload the runtime's lines come back", async () => {
    const c = svc.client();
    const before = await c.symbolizeProfile({ profile: p.bare });
    assert.deepEqual(before.stats?.missingBuildIds, [p.gnu]);
    assert.equal(before.stats?.resolved, 0);
    const exeMap = before.stats!.mappings.find((m) => m.buildId === p.gnu)!;
    assert.equal(exeMap.binaryFound, false);
    assert.ok(decodeProfile(gunzipSync(before.profile)).location.every((l) => l.line.length === 0));

    await upload(c, readFileSync(p.exe), { chunk: 1800 });
    const res = await c.symbolizeProfile({ profile: p.bare });
    assert.equal(res.gzipped, true);
    assert.ok(isGzip(res.profile));
    const want = exeLines(p.orig, p.gnu);
    const got = exeLines(decodeProfile(gunzipSync(res.profile)), p.gnu);
    assert.ok(want.size >= MIN_EXE_LOCATIONS, `only ${want.size} locations; the profile is too thin`);
    assert.deepEqual(got, want);
    assert.deepEqual(res.stats?.missingBuildIds, []);
    assert.equal(res.stats?.resolved, want.size);
    assert.equal(res.stats?.inputGzipped, true);
    const m = res.stats!.mappings.find((x) => x.buildId === p.gnu)!;
    assert.equal(m.binaryFound, true);
    assert.equal(m.resolved, want.size);
    // An uncompressed profile above readMaxBytes (2 KiB): SymbolizeProfile reads up to its own
    // limit. (The profile's size varies with the run that recorded it: 3.8–5 KB seen in CI.)
    const inflated = gunzipSync(p.bare);
    assert.ok(inflated.length > READ_MAX, `${inflated.length} bytes`);
    const big = await c.symbolizeProfile({ profile: inflated });
    assert.equal(big.stats?.inputGzipped, false);
    assert.deepEqual(exeLines(decodeProfile(gunzipSync(big.profile)), p.gnu), want);
  });

  test("compression: none, same; redo keeps the answer", async () => {
    const c = svc.client();
    const raw = await c.symbolizeProfile({ profile: p.bare, compression: ProfileCompression.NONE });
    assert.equal(raw.gzipped, false);
    assert.ok(!isGzip(raw.profile));
    const again = await c.symbolizeProfile({
      profile: raw.profile,
      redo: true,
      compression: ProfileCompression.SAME,
    });
    assert.equal(again.gzipped, false);
    assert.equal(again.stats?.alreadySymbolized, 0);
    assert.deepEqual(exeLines(decodeProfile(again.profile), p.gnu), exeLines(p.orig, p.gnu));
    const kept = await c.symbolizeProfile({ profile: raw.profile });
    assert.ok((kept.stats?.alreadySymbolized ?? 0) > 0);
    assert.equal(kept.stats?.resolved, 0);
  });

  test("bad input: right codes, limits named; the service keeps answering", async () => {
    const c = svc.client();
    const code = (e: unknown) => ConnectError.from(e).code;
    await assert.rejects(c.symbolizeProfile({}), (e) => code(e) === Code.InvalidArgument);
    await assert.rejects(
      c.symbolizeProfile({ profile: new Uint8Array([0x0a, 0xff, 0x01, 0x02]) }),
      (e) => code(e) === Code.InvalidArgument,
    );
    // A gzip header over garbage.
    await assert.rejects(
      c.symbolizeProfile({ profile: new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3]) }),
      (e) => code(e) === Code.InvalidArgument,
    );
    const small = await inMemoryService({ limits: { maxProfileBytes: 1000 } });
    try {
      await assert.rejects(small.client().symbolizeProfile({ profile: p.bare }), (e) => {
        assert.equal(code(e), Code.ResourceExhausted);
        assert.match(ConnectError.from(e).rawMessage, /at most 1000 \(--max-profile-bytes\)/);
        return true;
      });
    } finally {
      small.cleanup();
    }
    // Other RPCs keep the small readMaxBytes.
    await assert.rejects(
      c.attribute({ input: { case: "text", value: "x".repeat(4096) } }),
      (e) => code(e) === Code.ResourceExhausted,
    );
    const ok = await c.symbolizeProfile({ profile: p.bare });
    assert.equal(ok.stats?.missingBuildIds.length, 0);
  });
});
