/**
 * Attribution pieces on their own: function-name facts, in-app decisions, source URLs, owners,
 * user rules, message templates, the structured (non-text) entry point, and the report.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import {
  attributeGoroutines,
  attributeText,
  isInApp,
  isStdlibPackage,
  locate,
  messageTemplate,
  normalizeFunction,
  ownersOf,
  packageOf,
  parseCrashText,
  parseOwners,
  parseRules,
  renderReport,
  revisionOfVersion,
} from "../../src/crash/index.js";
import type { Goroutine, StackFrame } from "../../src/crash/types.js";

function frame(fn: string, file = "", line = 0): StackFrame {
  return { function: fn, args: "", file, line, inlined: false, packagePath: packageOf(fn) };
}

describe("function names", () => {
  test("package paths", () => {
    assert.equal(packageOf("example.com/m/pkg.(*T).Method"), "example.com/m/pkg");
    assert.equal(packageOf("main.main.func1.2"), "main");
    assert.equal(packageOf("gopkg.in/yaml%2ev3.(*decoder).unmarshal"), "gopkg.in/yaml.v3");
    assert.equal(packageOf("example.com/m/pkg.Map[go.shape.string,example.com/x.T]"), "example.com/m/pkg");
    assert.equal(packageOf("net/http.(*conn).serve"), "net/http");
    assert.equal(packageOf("panic"), "runtime");
    assert.equal(packageOf("crash_in_c"), "");
  });
  test("standard library and in-app", () => {
    assert.ok(isStdlibPackage("net/http"));
    assert.ok(isStdlibPackage("vendor/golang.org/x/net/http2"));
    assert.ok(isStdlibPackage("internal/runtime/maps"));
    assert.ok(!isStdlibPackage("main"));
    assert.ok(!isStdlibPackage("github.com/a/b"));
    assert.ok(isInApp("github.com/a/b", {}));
    assert.ok(!isInApp("github.com/a/b", { mainModule: "example.com/m" }));
    assert.ok(
      isInApp("github.com/a/b/c", { mainModule: "example.com/m", inAppPrefixes: ["github.com/a/b"] }),
    );
    assert.ok(isInApp("example.com/m/internal/x", { mainModule: "example.com/m" }));
    assert.ok(!isInApp("example.com/mother", { mainModule: "example.com/m" }));
    assert.ok(isInApp("main", { mainModule: "example.com/m" }));
  });
  test("normalization for fingerprints", () => {
    assert.equal(normalizeFunction("main.glob..func3"), "main.init.func");
    assert.equal(normalizeFunction("example.com/m.F.func2.1"), "example.com/m.F.func.func");
    assert.equal(normalizeFunction("example.com/m.F.gowrap3"), "example.com/m.F.gowrap");
    assert.equal(normalizeFunction("example.com/m.Map[...].Get"), "example.com/m.Map.Get");
    assert.equal(normalizeFunction("example.com/m.Map[go.shape.int].Get-fm"), "example.com/m.Map.Get-fm");
    assert.equal(normalizeFunction("example.com/m.F-range1.func2"), "example.com/m.F-range.func");
  });
  test("message templates", () => {
    assert.equal(
      messageTemplate("runtime error: slice bounds out of range [:9] with capacity 3"),
      "runtime error: slice bounds out of range [:<n>] with capacity <n>",
    );
    assert.equal(messageTemplate('user "bob" not found at 0xc000123456'), 'user "<str>" not found at <hex>');
    assert.equal(
      messageTemplate("retry after 1m30s for 6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
      "retry after <dur> for <uuid>",
    );
    assert.equal(messageTemplate("first line 1\nsecond line 2"), "first line <n>");
  });
});

describe("source locations", () => {
  test("main module with vcs revision: absolute build path and -trimpath path", () => {
    const ctx = {
      mainModule: "github.com/acme/svc",
      vcsRevision: "0123abcd",
      modules: [],
      moduleRoot: "/build/svc",
    };
    const abs = locate(
      frame("github.com/acme/svc/internal/store.(*S).Get", "/build/svc/internal/store/store.go", 16),
      ctx,
    );
    assert.equal(abs.sourceUrl, "https://github.com/acme/svc/blob/0123abcd/internal/store/store.go#L16");
    const trimmed = locate(
      frame("github.com/acme/svc/internal/store.(*S).Get", "github.com/acme/svc/internal/store/store.go", 16),
      ctx,
    );
    assert.equal(trimmed.sourceUrl, abs.sourceUrl);
    const mainPkg = locate(frame("main.main", "/build/svc/cmd/svc/main.go", 9), ctx);
    assert.equal(mainPkg.sourceUrl, "https://github.com/acme/svc/blob/0123abcd/cmd/svc/main.go#L9");
    const noRev = locate(frame("github.com/acme/svc/x.F", "/b/x/f.go", 3), {
      mainModule: "github.com/acme/svc",
      modules: [],
    });
    assert.equal(noRev.sourceUrl, undefined);
    assert.equal(noRev.modulePath, "github.com/acme/svc");
  });
  test("dependencies: module cache path, pseudo-versions, subdirectory modules, other forges", () => {
    const dep = locate(
      frame(
        "github.com/Foo/bar/v2/codec.Decode",
        "/root/go/pkg/mod/github.com/!foo/bar/v2@v2.3.1/codec/decode.go",
        77,
      ),
      { modules: [] },
    );
    assert.equal(dep.modulePath, "github.com/Foo/bar/v2");
    assert.equal(dep.moduleVersion, "v2.3.1");
    assert.equal(dep.sourceUrl, "https://github.com/Foo/bar/blob/v2.3.1/codec/decode.go#L77");
    assert.equal(revisionOfVersion("v0.0.0-20240102150405-abcdef123456", ""), "abcdef123456");
    assert.equal(revisionOfVersion("v1.2.3", "tools"), "tools/v1.2.3");
    const sub = locate(frame("gitlab.com/g/mono/tools/lint.Run", "/x/lint/run.go", 5), {
      modules: [{ path: "gitlab.com/g/mono/tools", version: "v1.0.0" }],
    });
    assert.equal(sub.sourceUrl, "https://gitlab.com/g/mono/-/blob/tools/v1.0.0/tools/lint/run.go#L5");
    const bb = locate(frame("bitbucket.org/o/r.F", "/x/f.go", 2), {
      modules: [{ path: "bitbucket.org/o/r", version: "v0.1.0" }],
    });
    assert.equal(bb.sourceUrl, "https://bitbucket.org/o/r/src/v0.1.0/f.go#lines-2");
    const other = locate(frame("example.com/x.F", "/x/f.go", 2), {
      modules: [{ path: "example.com/x", version: "v1.0.0" }],
    });
    assert.equal(other.sourceUrl, undefined);
    assert.equal(other.moduleVersion, "v1.0.0");
  });
  test("through attributeText: the culprit carries module, URL and owners", () => {
    const text =
      "panic: boom\n\ngoroutine 1 [running]:\ngithub.com/acme/svc/internal/pay.Charge(0x1)\n\t/build/svc/internal/pay/charge.go:40 +0x1d\nmain.main()\n\t/build/svc/cmd/svc/main.go:9 +0x17\n";
    const r = attributeText(text, {
      mainModule: "github.com/acme/svc",
      vcsRevision: "deadbeef",
      owners:
        "# owners\ngithub.com/acme/svc/** @platform\ngithub.com/acme/svc/internal/pay/** @payments @risk\n",
    });
    assert.equal(
      r.culprit?.sourceUrl,
      "https://github.com/acme/svc/blob/deadbeef/internal/pay/charge.go#L40",
    );
    assert.deepEqual(r.culprit?.owners, ["@payments", "@risk"]);
    assert.match(renderReport(r), /^Culprit: github\.com\/acme\/svc\/internal\/pay\.Charge\n/);
  });
});

describe("owners", () => {
  const f = parseOwners(
    [
      "example.com/m/**            @core",
      "example.com/m/internal/*    @internal   # one level",
      "example.com/m/internal/db   @dba",
      "**/legacy                   @legacy",
      "example.com/m/internal/db/noowner",
    ].join("\n"),
  );
  test("last match wins, globs", () => {
    assert.deepEqual(ownersOf("example.com/m", f), ["@core"]);
    assert.deepEqual(ownersOf("example.com/m/cmd/x", f), ["@core"]);
    assert.deepEqual(ownersOf("example.com/m/internal/cache", f), ["@internal"]);
    assert.deepEqual(ownersOf("example.com/m/internal/db", f), ["@dba"]);
    assert.deepEqual(ownersOf("example.com/m/internal/db/sub", f), ["@dba"]);
    assert.deepEqual(ownersOf("example.com/m/x/legacy", f), ["@legacy"]);
    assert.deepEqual(ownersOf("example.com/m/internal/db/noowner", f), []);
    assert.deepEqual(ownersOf("other.org/z", f), []);
  });
});

describe("user rules", () => {
  const dump = Array.from(
    { length: 12 },
    (_, i) =>
      `goroutine ${i + 2} [IO wait, 5 minutes]:\ninternal/poll.runtime_pollWait(0x1, 0x72)\n\t/go/src/runtime/netpoll.go:345 +0x85\nexample.com/m/rpc.(*Client).recv(0xc0)\n\t/src/rpc/client.go:90 +0x1\n`,
  ).join("\n");
  test("bucket-level and crash-level matches, evidence", () => {
    const rules = `
rules:
  - id: rpc-stuck
    severity: error
    title: RPC clients stuck reading
    remediation: set read deadlines
    match:
      frame: 'rpc\\.\\(\\*Client\\)\\.recv$'
      wait_reason: '^IO wait$'
      min_count: 10
  - id: too-many
    match:
      frame: 'recv'
      min_count: 13
  - id: any-dump
    severity: info
    match:
      category: GOROUTINE_DUMP
`;
    const r = attributeText(dump, { rules });
    const stuck = r.findings.find((f) => f.ruleId === "rpc-stuck");
    assert.ok(stuck);
    assert.equal(stuck.severity, "SEVERITY_ERROR");
    assert.deepEqual(stuck.evidenceBuckets, [0]);
    assert.equal(r.buckets[0]!.count, 12);
    assert.equal(r.buckets[0]!.maxWaitMinutes, 5);
    assert.ok(!r.findings.some((f) => f.ruleId === "too-many"));
    assert.equal(r.findings.find((f) => f.ruleId === "any-dump")?.severity, "SEVERITY_INFO");
  });
  test("bad rule files are rejected with the field named", () => {
    const cases: [string, RegExp][] = [
      ["rules: 3", /rules/],
      ["rules:\n  - title: x", /id/],
      ["rules:\n  - id: a\n    match:\n      message: '('", /regular expression/],
      ["rules:\n  - id: a\n    severity: loud", /severity/],
      ["rules:\n  - id: a\n    match:\n      category: NOPE", /unknown category/],
      ["rules:\n  - id: a\n  - id: a", /duplicate/],
      ["rules: [", /YAML/],
    ];
    for (const [y, re] of cases) {
      assert.throws(
        () => parseRules(y),
        (e: unknown) => e instanceof GosymdError && e.kind === "invalid_argument" && re.test(e.message),
        y,
      );
    }
  });
});

describe("structured input", () => {
  test("attributeGoroutines gives the same answer as the text it came from", () => {
    const text =
      "panic: runtime error: integer divide by zero\n\ngoroutine 1 [running]:\nexample.com/m/calc.Div(...)\n\t/src/calc/div.go:7\nmain.main()\n\t/src/main.go:11 +0x1d\n";
    const fromText = attributeText(text);
    const g: Goroutine = {
      id: 1,
      state: "running",
      waitReason: "",
      status: "running",
      waitMinutes: 0,
      lockedToThread: false,
      crashed: false,
      frames: [
        { ...frame("example.com/m/calc.Div", "/src/calc/div.go", 7), packagePath: "", inlined: true },
        { ...frame("main.main", "/src/main.go", 11), packagePath: "" },
      ],
      labels: [],
      flags: [],
      framesElided: 0,
      stackUnavailable: false,
      sourceLine: 0,
    };
    const r = attributeGoroutines([g], { panics: [{ message: "runtime error: integer divide by zero" }] });
    assert.equal(r.category, "CRASH_CATEGORY_DIVIDE_BY_ZERO");
    assert.equal(r.culprit?.function, "example.com/m/calc.Div");
    assert.equal(r.culprit?.packagePath, "example.com/m/calc");
    assert.equal(r.fingerprint, fromText.fingerprint);
  });
});

describe("interleaved runtime output", () => {
  test("two Ms throwing at once: 'fatal error: fatal error: concurrent map writes'", () => {
    // Real output of test/fixtures/go/crash-corpus (concmap, go1.23) captured in a CI run: both
    // writers hit the map race and printed at the same time.
    const text = [
      "fatal error: fatal error: concurrent map writes",
      "concurrent map writes",
      "",
      "goroutine 18 [running]:",
      "example.com/crashcorpus/internal/work.ConcurrentMapWrites.func1(0x0)",
      "\t/src/crash-corpus/internal/work/work.go:48 +0x78",
      "created by example.com/crashcorpus/internal/work.ConcurrentMapWrites in goroutine 1",
      "\t/src/crash-corpus/internal/work/work.go:45 +0x51",
      "",
      "goroutine 1 [semacquire]:",
      "sync.runtime_Semacquire(0xc000090210?)",
      "\t/usr/lib/go-1.23/src/runtime/sema.go:71 +0x25",
      "sync.(*WaitGroup).Wait(0x4?)",
      "\t/usr/lib/go-1.23/src/sync/waitgroup.go:118 +0x48",
      "example.com/crashcorpus/internal/work.ConcurrentMapWrites()",
      "\t/src/crash-corpus/internal/work/work.go:52 +0x10a",
      "main.main()",
      "\t/src/crash-corpus/main.go:60 +0x18f",
      "",
    ].join("\n");
    const r = attributeText(text, { mainModule: "example.com/crashcorpus" });
    assert.equal(r.category, "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS");
    assert.equal(r.culprit?.function, "example.com/crashcorpus/internal/work.ConcurrentMapWrites.func1");
    assert.equal(r.message, "concurrent map writes");
    // The other order of the same writes.
    const other = text.replace(
      "fatal error: fatal error: concurrent map writes\nconcurrent map writes",
      "fatal error: concurrent map writesfatal error: \nconcurrent map writes",
    );
    assert.notEqual(other, text);
    const r2 = attributeText(other, { mainModule: "example.com/crashcorpus" });
    assert.equal(r2.category, "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS");
    assert.equal(r2.message, "concurrent map writes");
    assert.equal(r2.fingerprint, r.fingerprint);
  });
});

describe("what ran the program reports its death after the dump", () => {
  test("qemu-user's and the shell's lines are not taken for runtime output", () => {
    const dump = [
      "SIGABRT: abort",
      "PC=0x4712c4 m=0 sigcode=0",
      "",
      "goroutine 1 gp=0xc000002380 m=0 mp=0x5a8f20 [running]:",
      "main.main()",
      "\t/src/app/main.go:12 +0x1c",
    ].join("\n");
    const clean = parseCrashText(`${dump}\n`);
    assert.deepEqual(clean.diagnostics, []);
    for (const trailer of [
      "qemu: uncaught target signal 6 (Aborted) - core dumped",
      "qemu-aarch64: uncaught target signal 11 (Segmentation fault)",
      "Aborted (core dumped)",
      "Segmentation fault",
    ]) {
      const r = parseCrashText(`${dump}\n${trailer}\n`);
      assert.deepEqual(r.diagnostics, [], trailer);
      assert.equal(r.crashes[0]?.goroutines[0]?.frames.length, 1, trailer);
    }
    // Anything else there is still reported.
    const other = parseCrashText(`${dump}\nqemu: something else\n`);
    assert.ok(other.diagnostics.length > 0, "an unknown line is a diagnostic");
  });
});
