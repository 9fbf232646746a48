/**
 * Crash text the test machine cannot produce (Go 1.14–1.16, 1.24–1.27 forms, test timeouts, OOM
 * kills, net/http logged panics, GOTRACEBACK=crash), from test/fixtures/crash-text (each file names
 * the runtime source it follows), and what logs do to crash text: prefixes, JSON escaping, CRLF,
 * several crashes, truncation, interleaved lines, garbage.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { attributeText, parseCrashText, renderReport } from "../../src/crash/index.js";
import type { AttributeResult } from "../../src/crash/types.js";
import { ROOT } from "../support/fixtures.js";

function fixture(name: string): string {
  const text = readFileSync(join(ROOT, "test/fixtures/crash-text", name), "utf8");
  const lines = text.split("\n");
  let i = 0;
  while (i < lines.length && lines[i]!.startsWith("#")) i++;
  return lines.slice(i).join("\n");
}

function same(a: AttributeResult, b: AttributeResult, what: string) {
  assert.equal(b.category, a.category, what);
  assert.equal(b.culprit?.function, a.culprit?.function, what);
  assert.equal(b.culprit?.line, a.culprit?.line, what);
  assert.equal(b.fingerprint, a.fingerprint, what);
  assert.equal(b.goroutines.length, a.goroutines.length, what);
  assert.deepEqual(
    b.buckets.map((x) => x.count),
    a.buckets.map((x) => x.count),
    what,
  );
}

describe("newer and older Go text forms", () => {
  test("Go 1.24 swiss-map concurrent writes: internal/runtime/maps frames are skipped", () => {
    const r = attributeText(fixture("go124-swissmap-concurrent-writes.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS");
    assert.equal(r.culprit?.function, "example.com/shop/internal/cart.(*Cart).Add");
    assert.equal(r.culprit?.line, 31);
    assert.equal(r.goVersion.min, "1.24");
    assert.equal(r.goroutines[0]!.crashed, true);
    assert.equal(r.goroutines[0]!.frames[2]!.inlined, true);
    assert.equal(r.goroutines[0]!.createdByGoroutine, 1);
    // Same bug in another goroutine: same fingerprint inputs after the culprit.
    assert.ok(r.fingerprintInputs.includes("example.com/shop/internal/cart.Fill.func"));
  });

  test("Go 1.25 [recovered, repanicked]: blamed on the re-panicking deferred function", () => {
    const r = attributeText(fixture("go125-recovered-repanicked.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_EXPLICIT_PANIC");
    assert.equal(r.panics.length, 1);
    assert.deepEqual(r.panics[0], {
      message: 'config: missing key "db.url"',
      recovered: true,
      repanicked: true,
    });
    assert.equal(r.messageTemplate, 'config: missing key "<str>"');
    assert.equal(r.culprit?.function, "example.com/svc/internal/boot.Run.func1");
    assert.equal(r.goVersion.min, "1.25");
  });

  test("labels in goroutine headers (both printed forms), (leaked), synctest bubble", () => {
    const r = attributeText(fixture("go127-traceback-labels.txt"));
    const [g21, g1, g35, g36] = r.goroutines;
    assert.deepEqual(g21!.labels, [
      { key: "job", value: "ingest" },
      { key: "tenant", value: "miyazaki" },
    ]);
    assert.equal(g21!.state, "running");
    assert.deepEqual(g1!.labels, [{ key: "job", value: "scheduler" }]);
    assert.equal(g1!.waitReason, "select");
    assert.equal(g1!.waitMinutes, 3);
    assert.equal(g35!.waitReason, "chan receive");
    assert.deepEqual(g35!.flags, ["leaked"]);
    assert.equal(g36!.waitReason, "sleep");
    assert.deepEqual(g36!.flags, ["durable", "synctest bubble 7"]);
    assert.equal(r.goVersion.min, "1.26");
    assert.equal(r.culprit?.function, "example.com/jobs/internal/ingest.(*Runner).step");
  });

  test("Go 1.21+ `...N frames elided...` and the pre-1.21 form", () => {
    const head = fixture("go121-frames-elided.txt");
    const rec = (n: number) =>
      Array.from(
        { length: n },
        (_, i) => `example.com/deep/rec.walk(0x${(i + 1).toString(16)})\n\t/src/rec/walk.go:9 +0x45`,
      );
    const newer = `${head}\ngoroutine 1 gp=0xc0000061c0 m=0 mp=0x5b9800 [running]:\n${rec(50).join("\n")}\n...4127 frames elided...\n${rec(48).join("\n")}\nexample.com/deep/rec.Start(...)\n\t/src/rec/walk.go:3\nmain.main()\n\t/src/main.go:5 +0x17\n`;
    const r = attributeText(newer);
    assert.equal(r.category, "CRASH_CATEGORY_STACK_OVERFLOW");
    assert.equal(r.goroutines[0]!.framesElided, 4127);
    assert.equal(r.goroutines[0]!.frames.length, 100);
    assert.equal(r.culprit?.function, "example.com/deep/rec.walk");
    assert.equal(r.goVersion.min, "1.22");
    const older = `${head.replace(/ fp=.*$/gm, "")}\ngoroutine 1 [running]:\n${rec(100).join("\n")}\n...additional frames elided...\n`;
    const o = attributeText(older);
    assert.equal(o.goroutines[0]!.framesElided, -1);
    assert.equal(o.goVersion.max, "1.20");
    assert.equal(o.fingerprint, r.fingerprint, "same bug, different Go versions");
  });

  test("test timeout: blamed in the running test's goroutine", () => {
    const r = attributeText(fixture("go123-test-timeout.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_TEST_TIMEOUT");
    assert.equal(r.message, "test timed out after 2s");
    assert.equal(r.messageTemplate, "test timed out after <dur>");
    assert.equal(r.culprit?.function, "example.com/svc/internal/queue.(*Queue).Drain");
    assert.equal(r.culprit?.goroutineId, 7);
  });

  test("kernel OOM kill", () => {
    const r = attributeText(fixture("kernel-oom-kill.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_OOM_KILLED");
    assert.equal(r.crashes.length, 1);
    assert.equal(r.culprit, undefined);
    assert.match(r.message, /Killed process 4242 \(api-server\)/);
    assert.ok(r.findings[0]!.remediation.includes("GOMEMLIMIT"));
  });

  test("Go 1.16 raw-word arguments and created-by without goroutine id", () => {
    const r = attributeText(fixture("go116-old-args.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_INDEX_OUT_OF_RANGE");
    assert.equal(r.culprit?.function, "example.com/legacy/pkg/table.(*Table).Row");
    assert.equal(r.goVersion.max, "1.20");
    assert.equal(r.goroutines[0]!.createdBy?.function, "main.main");
    assert.equal(r.goroutines[0]!.createdByGoroutine, undefined);
    assert.equal(r.goroutines[0]!.frames[1]!.args, "0xc00000e028, 0x5, 0xc000010200, 0x1b, 0x0");
  });

  test("http: panic serving: recover wrapper and panic skipped", () => {
    const r = attributeText(fixture("http-panic-serving.txt"));
    assert.equal(r.category, "CRASH_CATEGORY_NIL_DEREFERENCE");
    assert.equal(r.culprit?.function, "example.com/api/internal/handlers.(*Users).Get");
    assert.equal(r.panics[0]!.recovered, true);
  });

  test("GOTRACEBACK=crash: one crash, other Ms' sections folded in, registers ignored", () => {
    const r = attributeText(fixture("go122-gotraceback-crash.txt"));
    assert.equal(r.crashes.length, 1);
    assert.equal(r.category, "CRASH_CATEGORY_SIGNAL");
    assert.equal(r.signal?.name, "SIGABRT");
    assert.equal(r.signal?.m, 3);
    assert.equal(r.culprit?.function, "example.com/store/internal/mmapfile.(*File).ReadAt");
    assert.equal(r.goroutines.find((g) => g.crashed)?.id, 12);
    assert.deepEqual(r.diagnostics, []);
  });

  test("unexpected fault address / fatal error: fault is memory corruption", () => {
    const text =
      "unexpected fault address 0x7f21c3a00000\nfatal error: fault\n[signal SIGBUS: bus error code=0x2 addr=0x7f21c3a00000 pc=0x4a91f2]\n\ngoroutine 12 gp=0xc000183a40 m=3 mp=0xc000100808 [running]:\nruntime.throw({0x4b5a7e?, 0x0?})\n\t/usr/local/go/src/runtime/panic.go:1023 +0x5c fp=0xc00005fdc8 sp=0xc00005fd98 pc=0x4382dc\nruntime.sigpanic()\n\t/usr/local/go/src/runtime/signal_unix.go:895 +0x285 fp=0xc00005fe20 sp=0xc00005fdc8 pc=0x44f9a5\nexample.com/store/internal/mmapfile.(*File).ReadAt(0xc0001a6000, {0xc000280000, 0x1000, 0x1000}, 0x40000)\n\t/src/internal/mmapfile/file.go:77 +0x92 fp=0xc00005fe60 sp=0xc00005fe20 pc=0x4a91f2\n";
    const r = attributeText(text);
    assert.equal(r.category, "CRASH_CATEGORY_MEMORY_CORRUPTION");
    assert.equal(r.signal?.name, "SIGBUS");
    assert.equal(r.signal?.addr, 0x7f21c3a00000);
    assert.equal(r.culprit?.function, "example.com/store/internal/mmapfile.(*File).ReadAt");
  });
});

describe("what logs do to crash text", () => {
  const clean = fixture("go124-swissmap-concurrent-writes.txt");
  const base = attributeText(clean);

  test("a prefix on every line (CRI timestamps, varying widths)", () => {
    const lines = clean.split("\n");
    const damaged = lines
      .map(
        (l, i) =>
          `2024-01-01T00:00:${String(i % 60).padStart(2, "0")}.${"1234567".slice(0, 1 + (i % 7))}Z stderr F ${l}`,
      )
      .join("\n");
    const r = attributeText(damaged);
    same(base, r, "CRI prefix");
    assert.ok(r.stats.prefixesStripped >= 1);
  });

  test("a pod-name prefix", () => {
    const r = attributeText(
      clean
        .split("\n")
        .map((l) => `shop-7d9f8c6b5-x2k4q shop ${l}`)
        .join("\n"),
    );
    same(base, r, "pod prefix");
  });

  test("a whole crash inside one JSON log string", () => {
    const r = attributeText(`${JSON.stringify({ level: "error", ts: 1700000000.5, msg: clean })}\n`);
    same(base, r, "JSON");
    assert.ok(r.stats.unescapedLines >= 1);
  });

  test("one JSON record per line (docker json-file)", () => {
    const r = attributeText(
      clean
        .split("\n")
        .map((l, i) =>
          JSON.stringify({ log: `${l}\n`, stream: "stderr", time: `2024-01-01T00:00:${i % 60}Z` }),
        )
        .join("\n"),
    );
    same(base, r, "docker json-file");
  });

  test("escaped text in a logfmt field, doubly escaped JSON", () => {
    const escaped = JSON.stringify(clean).slice(1, -1);
    same(base, attributeText(`time=2024-01-01 level=error msg="${escaped}" caller=main.go:12`), "logfmt");
    same(base, attributeText(JSON.stringify({ outer: JSON.stringify({ msg: clean }) })), "double");
  });

  test("CRLF and lone CR line ends", () => {
    same(base, attributeText(clean.replace(/\n/g, "\r\n")), "CRLF");
    same(base, attributeText(clean.replace(/\n/g, "\r")), "CR");
  });

  test("interleaved unrelated log lines", () => {
    const lines = clean.split("\n");
    const out: string[] = [];
    lines.forEach((l, i) => {
      out.push(l);
      if (i % 5 === 4 && l.startsWith("\t")) out.push(`{"level":"info","msg":"request done","n":${i}}`);
    });
    const r = attributeText(out.join("\n"));
    assert.equal(r.category, base.category);
    assert.equal(r.culprit?.function, base.culprit?.function);
    assert.equal(r.fingerprint, base.fingerprint);
    assert.ok(r.diagnostics.some((d) => d.reason.includes("unrecognized")));
  });

  test("several crashes in one log: each attributed, the fatal one is primary", () => {
    const dump = fixture("go127-traceback-labels.txt").replace(/^panic: .*\n\n/, "");
    const log = [
      "starting server",
      fixture("http-panic-serving.txt"),
      "request ok",
      clean,
      "restarting",
      dump,
      fixture("kernel-oom-kill.txt"),
    ].join("\n");
    const r = attributeText(log);
    const cats = r.crashes.map((c) => c.category);
    assert.deepEqual(cats, [
      "CRASH_CATEGORY_NIL_DEREFERENCE",
      "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS",
      "CRASH_CATEGORY_GOROUTINE_DUMP",
      "CRASH_CATEGORY_OOM_KILLED",
    ]);
    assert.equal(r.primaryIndex, 1, "the logged (recovered) http panic ranks below the fatal error");
    assert.equal(r.fingerprint, base.fingerprint);
    assert.match(renderReport(r), /Other crashes in this log \(3\)/);
  });

  test("truncated in the middle of a frame and of a header", () => {
    const cut = clean.slice(0, clean.indexOf("runtime_fast64_swiss.go:196") - 10);
    const r = attributeText(cut);
    assert.equal(r.category, "CRASH_CATEGORY_CONCURRENT_MAP_ACCESS");
    assert.equal(r.culprit?.function, base.culprit?.function);
    assert.ok(r.truncated);
    assert.ok(r.diagnostics.some((d) => /truncated|location/.test(d.reason)));
    const header = attributeText("panic: boom\n\ngoroutine 1 [runn");
    assert.equal(header.category, "CRASH_CATEGORY_EXPLICIT_PANIC");
    assert.ok(header.truncated);
    assert.ok(header.diagnostics.length > 0);
  });

  test("garbage never throws and says what it could not parse", () => {
    const inputs = [
      "",
      "\n\n\n",
      "hello world\nnothing to see",
      "\u0000\u0001\u0002binary\uffff\ud800",
      "goroutine 1 [",
      "goroutine 99999999999999999999999 [running]:\nmain.main()\n\t/x.go:1\n",
      "panic: \npanic: \n\tpanic: \nfatal error: \n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x0]",
      `${"(".repeat(100_000)}\n${")".repeat(100_000)}`,
      "created by\ncreated by x in goroutine\n...additional frames elided...\n...1 frames elided...",
      "WARNING: DATA RACE\nRead at 0xzz by goroutine x:\n",
      '{"log": 12}\n{"msg": "\\u00"}\n{broken json',
      "x".repeat(200_000),
    ];
    for (const t of inputs) {
      const r = attributeText(t);
      assert.ok(Array.isArray(r.diagnostics));
      assert.equal(typeof renderReport(r), "string");
    }
    const g = attributeText("hello world\nnothing to see");
    assert.equal(g.primaryIndex, -1);
    assert.equal(g.category, "CRASH_CATEGORY_UNKNOWN");
    assert.match(g.diagnostics[0]!.reason, /no Go crash text/);
    const long = attributeText(
      `panic: x\n\ngoroutine 1 [running]:\nmain.main()\n\t/a.go:1 +0x1\n${"y".repeat(200_000)}`,
    );
    assert.ok(long.stats.longLines === 1);
    assert.ok(long.diagnostics.some((d) => d.reason.includes("cut to")));
  });

  test("random mutations of real text never throw", () => {
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const src = [clean, fixture("go127-traceback-labels.txt"), fixture("go122-gotraceback-crash.txt")];
    for (let i = 0; i < 300; i++) {
      const s = src[i % src.length]!.split("");
      const n = 1 + Math.floor(rnd() * 20);
      for (let j = 0; j < n; j++) {
        const k = Math.floor(rnd() * s.length);
        const op = rnd();
        if (op < 0.4) s.splice(k, 1);
        else if (op < 0.8) s.splice(k, 0, '\n\t[]():{}"0x_. '.charAt(Math.floor(rnd() * 16)));
        else s.splice(k, Math.floor(rnd() * 200));
      }
      const r = attributeText(s.join(""));
      assert.ok(r.crashes.length >= 0);
    }
  });

  test("caps: input size, goroutines, diagnostics", () => {
    const r = attributeText(clean, { limits: { maxInputChars: 300 } });
    assert.equal(r.stats.inputTruncated, true);
    assert.ok(r.diagnostics[0]!.reason.includes("only the first 300"));
    const many = Array.from(
      { length: 50 },
      (_, i) => `goroutine ${i + 1} [select]:\nmain.f()\n\t/a.go:1 +0x1\n`,
    ).join("\n");
    const capped = attributeText(many, { limits: { maxGoroutines: 10 } });
    assert.equal(capped.goroutines.length, 10);
    assert.ok(capped.truncated);
    const noisy = parseCrashText(`panic: x\n\ngoroutine 1 [running]:\n${"?? ??\n".repeat(2000)}`, {
      limits: { maxDiagnostics: 20 },
    });
    assert.equal(noisy.diagnostics.length, 20);
    assert.ok(noisy.diagnosticsDropped > 1900);
  });
});
