/**
 * `gosymd pprof` as a process: a runtime/pprof profile of the pprof-oracle fixture, stripped of
 * its symbols, comes back with the runtime's lines; unknown binaries, bad input and usage errors
 * give the documented exit codes and messages, and a failed run leaves no output file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { availableGoVersions, goBuild, npmFixture, ROOT } from "../support/fixtures.js";
import { decodeProfile, lineStrings, stripProfile } from "./support.js";

const GO = "1.23";
const dir = mkdtempSync(join(tmpdir(), "gosymd-pprof-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "test/pprof/run-cli.ts"), ...args], {
    cwd: ROOT,
    input,
    encoding: "buffer",
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8") };
}

describe("gosymd pprof", { skip: !availableGoVersions().includes(GO) && `go${GO} not installed` }, () => {
  let exe = "";
  let orig = "";
  let bare = "";
  before(() => {
    exe = goBuild("pprof-oracle", { go: GO, flags: ["-ldflags=-B gobuildid"] });
    orig = join(dir, "orig.pb.gz");
    spawnSync(exe, [orig, "300ms"], { stdio: "ignore" });
    bare = join(dir, "bare.pb.gz");
    writeFileSync(bare, stripProfile(decodeProfile(gunzipSync(readFileSync(orig)))));
  });

  test("symbolizes a bare profile to the runtime's answer; JSON stats", () => {
    const out = join(dir, "out.pb.gz");
    const r = cli(["--binary", exe, bare, "-o", out, "--json-stats"]);
    assert.equal(r.code, 0, r.stderr);
    const stats = JSON.parse(r.stderr) as { resolved: number; locations: number; missingBuildIds: string[] };
    const want = decodeProfile(gunzipSync(readFileSync(orig)));
    const got = decodeProfile(gunzipSync(readFileSync(out)));
    assert.deepEqual(lineStrings(got), lineStrings(want));
    assert.ok(stats.resolved > 0 && stats.resolved <= stats.locations);
    assert.deepEqual(stats.missingBuildIds, []);
  });

  test("stdin to stdout, --raw writes uncompressed profile.proto", () => {
    const r = cli(["--binary", exe, "--raw", "-"], readFileSync(bare));
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(r.stdout[0], 0x1f);
    const got = decodeProfile(r.stdout);
    assert.ok(got.location.every((l) => l.line.length > 0 || l.mapping_id !== got.mapping[0]!.id));
    assert.match(r.stderr, /^gosymd pprof: \d+ of \d+ locations symbolized/);
  });

  test("an unrelated binary: nothing resolved, the build ID is reported", () => {
    const other = npmFixture("esbuild-0.24.0-linux-amd64");
    const out = join(dir, "none.pb.gz");
    const r = cli(["--binary", other, bare, "-o", out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /0 of \d+ locations symbolized/);
    assert.match(r.stderr, /missing build IDs: [0-9a-f]{40}/);
    assert.match(r.stderr, /hint: .*esbuild.* has GNU build ID/);
    const got = decodeProfile(gunzipSync(readFileSync(out)));
    assert.ok(got.location.every((l) => l.line.length === 0));
  });

  test("errors: usage, missing input, corrupt input (no output file left)", () => {
    assert.equal(cli([]).code, 2);
    // --server goes through the SymbolizeProfile RPC (test/e2e/attribute-cli.test.ts); no server here.
    const srv = cli(["--server", "http://localhost:1", bare]);
    assert.equal(srv.code, 3);
    assert.match(srv.stderr, /is the server running/);
    assert.equal(cli(["--binary", exe]).code, 2);
    const missing = cli(["--binary", exe, join(dir, "nope.pb.gz"), "-o", join(dir, "x")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such file/);
    const junk = join(dir, "junk.pb");
    writeFileSync(junk, Buffer.from([0x0a, 0xff, 0x01, 0x02]));
    const out = join(dir, "junk.out");
    const bad = cli(["--binary", exe, junk, "-o", out]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /gosymd pprof: .*(truncated|ends|malformed)/);
    assert.equal(existsSync(out), false);
    const big = cli(["--binary", exe, "--max-size", "100", bare, "-o", out]);
    assert.equal(big.code, 1);
    assert.match(big.stderr, /at most 100/);
  });
});
