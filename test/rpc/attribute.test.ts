/**
 * Attribute and AttributeCore over the in-memory router with the real engines. Oracles: the Go
 * runtime's own crash text (for what raw PCs symbolize to, frame by frame), `go version -m` (the
 * binary's main module), node's SHA-256 (the canonical ID), and the text attribution of the same
 * process that dumped a core.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { attributeText } from "../../src/crash/attribute.js";
import {
  type AttributeCoreRequest,
  AttributeCoreRequestSchema,
  CrashCategory,
  PcConvention,
  RawCrashSchema,
} from "../../src/gen/gosymd/v1/attribute_pb.js";
import { buildVariant, makeCore } from "../core/support.js";
import { goBin } from "../support/fixtures.js";
import {
  corpusBinary,
  crashText,
  firstCrash,
  frameKeys,
  GO,
  nmEntries,
  rawFromText,
} from "./crash-support.js";
import { type InMemory, inMemoryService, upload } from "./helpers.js";

const codeOf = (e: unknown) => ConnectError.from(e).code;

describe("Attribute (in-memory, real engine)", { skip: GO ? false : "no Go toolchain" }, () => {
  let svc: InMemory;
  let bin = "";
  let bytes: Buffer;
  let sha = "";
  let nm: Map<string, number>;
  before(async () => {
    bin = await corpusBinary();
    bytes = readFileSync(bin);
    sha = createHash("sha256").update(bytes).digest("hex");
    nm = nmEntries(bin);
    svc = await inMemoryService({ limits: { maxRawGoroutines: 50, maxCoreBytes: 256 << 20 } });
    await upload(svc.client(), bytes);
  });
  after(() => svc.cleanup());

  test("crash text: same answer as the engine; with the binary, module and in-app from its buildinfo", async () => {
    const c = svc.client();
    const text = crashText(bin, "nilderef", "single");
    const plain = await c.attribute({ input: { case: "text", value: text } });
    const local = attributeText(text);
    assert.equal(plain.category, CrashCategory.NIL_DEREFERENCE);
    assert.equal(plain.fingerprint, local.fingerprint);
    assert.equal(plain.culprit?.function, local.culprit?.function);
    assert.equal(plain.culprit?.modulePath, "", "no module without the binary");
    assert.equal(plain.buildId, "");
    assert.equal(plain.primaryIndex, 0);
    assert.equal(plain.crashes.length, 1);
    assert.equal(plain.crashes[0]!.fingerprint, plain.fingerprint);

    // `go version -m` is the oracle for the main module.
    const mod = /\n\s*mod\s+(\S+)/.exec(
      execFileSync(goBin(GO!), ["version", "-m", bin], { encoding: "utf8" }),
    )![1]!;
    for (const ref of [
      { case: "buildId" as const, value: `sha256:${sha}` },
      { case: "contents" as const, value: new Uint8Array(bytes) },
    ]) {
      const withBin = await c.attribute({ input: { case: "text", value: text }, binary: { ref } });
      assert.equal(withBin.buildId, `sha256:${sha}`);
      assert.equal(withBin.culprit?.modulePath, mod);
      assert.ok(withBin.culprit?.inApp);
      assert.ok(withBin.culprit?.packagePath.startsWith(`${mod}/`), withBin.culprit?.packagePath);
      assert.equal(withBin.fingerprint, local.fingerprint, "the fingerprint does not depend on the binary");
    }
    // Options: an in-app prefix that excludes the corpus module moves the culprit out of it.
    const other = await c.attribute({
      input: { case: "text", value: text },
      options: { mainModule: "example.com/elsewhere" },
    });
    assert.notEqual(other.culprit?.function, plain.culprit?.function);
  });

  for (const scenario of ["nilderef", "workerpanic", "deadlock", "concmap"]) {
    test(`raw PCs of ${scenario} symbolize to the runtime's own frames (GOTRACEBACK=system)`, async () => {
      const c = svc.client();
      const text = crashText(bin, scenario);
      const crash = firstCrash(text);
      const raw = rawFromText(crash, nm);
      const binary = { ref: { case: "buildId" as const, value: `sha256:${sha}` } };
      const res = await c.attribute({
        binary,
        input: { case: "raw", value: { ...raw, pcConvention: PcConvention.RETURN_ADDRESSES } },
      });
      assert.deepEqual(res.diagnostics, []);
      assert.equal(res.goroutines.length, crash.goroutines.length);
      let frames = 0;
      for (const [i, g] of crash.goroutines.entries()) {
        const got = res.goroutines[i]!;
        assert.equal(got.id, BigInt(g.id));
        assert.deepEqual(frameKeys(got.frames), frameKeys(g.frames), `goroutine ${g.id}`);
        assert.deepEqual(
          got.frames.map((f) => f.pc),
          g.frames.map((f) => (f.inlined ? undefined : BigInt(f.pc!))),
        );
        if (g.createdBy) {
          assert.equal(got.createdBy?.function, g.createdBy.function);
          assert.equal(
            `${got.createdBy?.file}:${got.createdBy?.line}`,
            `${g.createdBy.file}:${g.createdBy.line}`,
          );
        }
        frames += g.frames.length;
      }
      assert.ok(frames > crash.goroutines.length * 2, `${frames} frames compared`);
      const fromText = await c.attribute({ binary, input: { case: "text", value: text } });
      assert.equal(res.category, fromText.category);
      assert.deepEqual({ ...res.culprit, reason: "" }, { ...fromText.culprit, reason: "" });
      assert.equal(
        res.fingerprint,
        fromText.fingerprint,
        `${res.fingerprintInputs} / ${fromText.fingerprintInputs}`,
      );
      // The default convention (innermost PC exact) may move innermost runtime lines, not the culprit.
      const dflt = await c.attribute({ binary, input: { case: "raw", value: raw } });
      assert.deepEqual({ ...dflt.culprit, reason: "" }, { ...fromText.culprit, reason: "" });
      assert.equal(dflt.fingerprint, fromText.fingerprint);
    });
  }

  test("PIE-style load base: runtime PCs minus load_base", async () => {
    const crash = firstCrash(crashText(bin, "nilderef"));
    const raw = rawFromText(crash, nm);
    const base = 0x7f0000000000n;
    const shifted = create(RawCrashSchema, raw);
    shifted.loadBase = base;
    shifted.pcConvention = PcConvention.RETURN_ADDRESSES;
    for (const g of shifted.goroutines) {
      g.pcs = g.pcs.map((p) => p + base);
      if (g.createdByPc !== 0n) g.createdByPc += base;
    }
    const res = await svc.client().attribute({
      binary: { ref: { case: "buildId", value: `sha256:${sha}` } },
      input: { case: "raw", value: shifted },
    });
    assert.deepEqual(frameKeys(res.goroutines[0]!.frames), frameKeys(crash.goroutines[0]!.frames));
    // Below the load base: reported, not fatal.
    const below = await svc.client().attribute({
      binary: { ref: { case: "buildId", value: `sha256:${sha}` } },
      input: { case: "raw", value: { ...raw, loadBase: base } },
    });
    assert.match(below.diagnostics[0]!.reason, /below the load base/);
    assert.equal(below.goroutines[0]!.frames[0]!.function, "?");
  });

  test("core dump streamed into AttributeCore: the same crash as the process's own text", async () => {
    const run = await makeCore(buildVariant("core-crash", GO!, "default"), [], "crash");
    const c = svc.client();
    const info = await upload(c, readFileSync(run.binary));
    const core = readFileSync(run.core);
    async function* stream(): AsyncGenerator<AttributeCoreRequest> {
      yield create(AttributeCoreRequestSchema, {
        binary: { ref: { case: "buildId", value: info.info!.buildIds!.go } },
        coreSize: BigInt(core.length),
      });
      for (let off = 0; off < core.length; off += 1 << 20)
        yield create(AttributeCoreRequestSchema, { chunk: core.subarray(off, off + (1 << 20)) });
    }
    const res = await c.attributeCore(stream());
    const a = res.attribution!;
    const fromText = attributeText(run.stderr);
    assert.equal(res.core?.buildIdCheck, "match");
    assert.equal(res.core?.fatalSignal, "SIGABRT");
    assert.ok((res.core?.goroutines ?? 0) >= 10);
    assert.equal(a.category, CrashCategory.NIL_DEREFERENCE);
    assert.equal(a.culprit?.function, fromText.culprit?.function);
    assert.equal(a.culprit?.line, fromText.culprit?.line);
    assert.equal(
      a.fingerprint,
      fromText.fingerprint,
      `${a.fingerprintInputs} / ${fromText.fingerprintInputs}`,
    );
    assert.equal(a.buildId, info.info!.buildId);
    assert.ok(a.culprit?.modulePath, "module from the binary's buildinfo");
    assert.deepEqual(readdirSync(join(svc.store.dir, "tmp")), [], "the spooled core is removed");
  });

  test("bad inputs get the right codes; nothing is left behind; the service keeps answering", async () => {
    const c = svc.client();
    const text = crashText(bin, "nilderef", "single");
    const sha256 = { ref: { case: "buildId" as const, value: `sha256:${sha}` } };
    const cases: [string, () => Promise<unknown>, Code, RegExp][] = [
      ["no input", () => c.attribute({}), Code.InvalidArgument, /no input/],
      [
        "raw without binary",
        () => c.attribute({ input: { case: "raw", value: {} } }),
        Code.InvalidArgument,
        /need the binary/,
      ],
      [
        "rules that are not YAML rules",
        () => c.attribute({ input: { case: "text", value: text }, options: { rules: "rules: [ {id: " } }),
        Code.InvalidArgument,
        /./,
      ],
      [
        "unknown build ID",
        () =>
          c.attribute({
            input: { case: "text", value: text },
            binary: { ref: { case: "buildId", value: "ab".repeat(20) } },
          }),
        Code.NotFound,
        /unknown build ID/,
      ],
      [
        "malformed build ID",
        () =>
          c.attribute({
            input: { case: "text", value: text },
            binary: { ref: { case: "buildId", value: "../x" } },
          }),
        Code.InvalidArgument,
        /./,
      ],
      [
        "too many goroutines",
        () =>
          c.attribute({
            binary: sha256,
            input: { case: "raw", value: { goroutines: Array.from({ length: 51 }, () => ({ pcs: [1n] })) } },
          }),
        Code.ResourceExhausted,
        /51 goroutines; the limit is 50/,
      ],
      [
        "core stream without a binary",
        () =>
          c.attributeCore(
            (async function* () {
              yield create(AttributeCoreRequestSchema, { chunk: new Uint8Array(8) });
            })(),
          ),
        Code.InvalidArgument,
        /first message must name the binary/,
      ],
      [
        "core announced over the limit",
        () =>
          c.attributeCore(
            (async function* () {
              yield create(AttributeCoreRequestSchema, { binary: sha256, coreSize: 1n << 40n });
            })(),
          ),
        Code.ResourceExhausted,
        /--max-core-bytes/,
      ],
      [
        "core shorter than announced",
        () =>
          c.attributeCore(
            (async function* () {
              yield create(AttributeCoreRequestSchema, {
                binary: sha256,
                coreSize: 100n,
                chunk: new Uint8Array(10),
              });
            })(),
          ),
        Code.InvalidArgument,
        /ended after 10 of the announced 100/,
      ],
      [
        "a core that is not an ELF core",
        () =>
          c.attributeCore(
            (async function* () {
              yield create(AttributeCoreRequestSchema, {
                binary: sha256,
                chunk: new Uint8Array(4096).fill(7),
              });
            })(),
          ),
        Code.InvalidArgument,
        /./,
      ],
      [
        "an empty core",
        () =>
          c.attributeCore(
            (async function* () {
              yield create(AttributeCoreRequestSchema, { binary: sha256 });
            })(),
          ),
        Code.InvalidArgument,
        /no core bytes/,
      ],
    ];
    for (const [name, call, code, msg] of cases) {
      await assert.rejects(call(), (e: unknown) => {
        assert.equal(codeOf(e), code, `${name}: ${ConnectError.from(e).message}`);
        assert.match(ConnectError.from(e).rawMessage, msg, name);
        return true;
      });
    }
    // Over the core limit while streaming (no size announced).
    const small = await inMemoryService({ limits: { maxCoreBytes: 1000 } });
    try {
      const sc = small.client();
      await upload(sc, bytes);
      await assert.rejects(
        sc.attributeCore(
          (async function* () {
            yield create(AttributeCoreRequestSchema, { binary: sha256 });
            for (let i = 0; i < 4; i++)
              yield create(AttributeCoreRequestSchema, { chunk: new Uint8Array(400) });
          })(),
        ),
        (e: unknown) => codeOf(e) === Code.ResourceExhausted,
      );
      assert.deepEqual(readdirSync(join(small.store.dir, "tmp")), []);
    } finally {
      small.cleanup();
    }
    // At most maxConcurrentCores streams at once.
    const one = await inMemoryService({ limits: { maxConcurrentCores: 1 } });
    try {
      const oc = one.client();
      let release = () => {};
      const held = new Promise<void>((r) => {
        release = r;
      });
      const first = oc.attributeCore(
        (async function* () {
          yield create(AttributeCoreRequestSchema, { binary: sha256, chunk: new Uint8Array(64) });
          await held;
        })(),
      );
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(
        oc.attributeCore(
          (async function* () {
            yield create(AttributeCoreRequestSchema, { binary: sha256, chunk: new Uint8Array(64) });
          })(),
        ),
        (e: unknown) => codeOf(e) === Code.ResourceExhausted && /at most 1 at once/.test(String(e)),
      );
      release();
      await assert.rejects(first, (e: unknown) => codeOf(e) !== Code.ResourceExhausted);
    } finally {
      one.cleanup();
    }
    assert.deepEqual(readdirSync(join(svc.store.dir, "tmp")), []);
    // Hostile text: no crash is an answer, not an error.
    const junk = await c.attribute({
      input: {
        case: "text",
        value:
          "goroutine 1 [running]:\nmain.main(0x" +
          "f".repeat(100) +
          ")\n\tx.go:99999999999999 +0xfffffffffffffffffff\n",
      },
    });
    assert.ok(junk.goroutines.length <= 1);
    const ok = await c.attribute({ input: { case: "text", value: text } });
    assert.equal(ok.category, CrashCategory.NIL_DEREFERENCE);
  });
});
