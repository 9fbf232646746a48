/**
 * The CLI against a real server (startGosymd on port 0) and against itself: `gosymd attribute`,
 * `gosymd pprof` and `gosymd symbolize` print the same whether they compute locally or ask the
 * server, and their JSON is the RPCs' proto-JSON (AttributeResponse, Location), byte for byte
 * after parsing. Inputs are real: crash-corpus text, a core dump, a runtime/pprof profile.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gunzipSync } from "node:zlib";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SymbolizerService } from "../../src/gen/gosymd/v1/symbolizer_pb.js";
import { type Gosymd, startGosymd } from "../../src/server.js";
import { buildVariant, makeCore } from "../core/support.js";
import { decodeProfile } from "../pprof/support.js";
import { corpusBinary, crashText, GO, nmEntries } from "../rpc/crash-support.js";
import { tempDir, upload } from "../rpc/helpers.js";
import { exeLines, type RealProfile, realProfile } from "../rpc/profile-support.js";
import { ROOT } from "../support/fixtures.js";

const pexec = promisify(execFile);
const MAIN = join(ROOT, "src/cli/main.ts");

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await pexec(process.execPath, ["--import", "tsx", MAIN, ...args], {
      cwd: ROOT,
      maxBuffer: 256 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === "number" ? err.code : -1,
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    };
  }
}

async function ok(args: string[]): Promise<string> {
  const r = await cli(args);
  assert.equal(r.code, 0, `gosymd ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

async function rpcJson(url: string, method: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${url}/gosymd.v1.SymbolizerService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200);
  return res.json();
}

describe("CLI: local and --server give the same answers, as the RPCs' JSON", {
  skip: GO ? false : "no Go toolchain",
}, () => {
  const t = tempDir("gosymd-cli-attr-");
  let srv: Gosymd;
  let bin = "";
  let sha = "";
  let crashFile = "";
  let prof: RealProfile;
  before(async () => {
    bin = await corpusBinary();
    sha = createHash("sha256").update(readFileSync(bin)).digest("hex");
    crashFile = join(t.dir, "crash.txt");
    writeFileSync(crashFile, crashText(bin, "workerpanic", "all"));
    prof = realProfile(t.dir);
    srv = await startGosymd({ port: 0, storeDir: join(t.dir, "store"), cacheBytes: 256 << 20 });
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    await upload(c, readFileSync(bin));
    await upload(c, readFileSync(prof.exe));
  });
  after(async () => {
    await srv.close(1000);
    t.cleanup();
  });

  test("attribute --json is the Attribute RPC's JSON; --server prints what local does", async () => {
    const text = readFileSync(crashFile, "utf8");
    const [plain, withBin, remote, human, remoteHuman] = await Promise.all([
      ok(["attribute", "--json", crashFile]),
      ok(["attribute", "--json", "--binary", bin, crashFile]),
      ok(["attribute", "--json", "--server", srv.url, "--build-id", `sha256:${sha}`, crashFile]),
      ok(["attribute", "--binary", bin, crashFile]),
      ok(["attribute", "--server", srv.url, "--build-id", `sha256:${sha}`, crashFile]),
    ]);
    assert.deepEqual(JSON.parse(plain), await rpcJson(srv.url, "Attribute", { text }));
    const rpcWithBin = await rpcJson(srv.url, "Attribute", { text, binary: { buildId: `sha256:${sha}` } });
    assert.deepEqual(JSON.parse(withBin), rpcWithBin);
    assert.deepEqual(JSON.parse(remote), rpcWithBin);
    assert.equal((rpcWithBin as { buildId: string }).buildId, `sha256:${sha}`);
    assert.match(human, /Culprit: example\.com\/crashcorpus\//);
    assert.equal(remoteHuman, human);
  });

  test("attribute --core: local and --server (streamed core) agree", async () => {
    const run = await makeCore(buildVariant("core-crash", GO!, "default"), [], "crash");
    const c = createClient(SymbolizerService, createGrpcTransport({ baseUrl: srv.url }));
    const info = await upload(c, readFileSync(run.binary));
    const [local, remote] = await Promise.all([
      ok(["attribute", "--json", "--core", run.core, "--binary", run.binary]),
      ok([
        "attribute",
        "--json",
        "--core",
        run.core,
        "--server",
        srv.url,
        "--build-id",
        info.info!.buildIds!.go,
      ]),
    ]);
    const l = JSON.parse(local);
    assert.deepEqual(JSON.parse(remote), l);
    assert.equal(l.category, "CRASH_CATEGORY_NIL_DEREFERENCE");
  });

  test("pprof --server IN -o OUT: the same profile and stats as pprof --binary", async () => {
    const input = join(t.dir, "bare.pb.gz");
    writeFileSync(input, prof.bare);
    const outL = join(t.dir, "local.pb.gz");
    const outR = join(t.dir, "remote.pb.gz");
    const [l, r] = await Promise.all([
      cli(["pprof", "--binary", prof.exe, "--json-stats", input, "-o", outL]),
      cli(["pprof", "--server", srv.url, "--json-stats", input, "-o", outR]),
    ]);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stderr), JSON.parse(l.stderr));
    const got = exeLines(decodeProfile(gunzipSync(readFileSync(outR))), prof.gnu);
    assert.deepEqual(got, exeLines(prof.orig, prof.gnu));
    assert.deepEqual(got, exeLines(decodeProfile(gunzipSync(readFileSync(outL))), prof.gnu));
    // Human summary names what was found.
    const h = await cli(["pprof", "--server", srv.url, input, "-o", join(t.dir, "h.pb.gz")]);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stderr, /(\d+) of \d+ locations symbolized/);
  });

  test("symbolize --json (local) prints exactly the Symbolize RPC's Location JSON", async () => {
    const nm = nmEntries(bin);
    const entries = [...nm.values()].filter((_, i) => i % 97 === 0).slice(0, 40);
    const addrs = [...entries, ...entries.map((e) => e + 5), 0x10];
    const local = (
      await ok(["symbolize", "--binary", bin, "--json", ...addrs.map((a) => `0x${a.toString(16)}`)])
    )
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { frames?: unknown[]; unresolvedReason?: string });
    const rpc = (await rpcJson(srv.url, "Symbolize", {
      batches: [{ binary: { buildId: `sha256:${sha}` }, addresses: addrs.map(String) }],
    })) as { results: { locations: unknown[] }[] };
    assert.equal(local.length, addrs.length);
    assert.deepEqual(local, rpc.results[0]!.locations);
    assert.ok(local.filter((l) => l.frames).length >= entries.length * 2, "most addresses resolve");
    assert.equal(local.at(-1)?.unresolvedReason, "UNRESOLVED_REASON_OUTSIDE_BINARY");
  });
});
