/**
 * The oracle helpers themselves: the dump parser on text in the runtime's formats (1.19 and 1.22+
 * headers, inlined frames, names with parentheses and brackets, created-by trailers, register
 * dumps), the display rules, and the expected-failure bookkeeping. The real dumps are exercised
 * by goroutine-dump.test.ts; these pin the edge cases.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  chainsOf,
  funcPackagePath,
  parseGoroutineDump,
  reconcile,
  runtimeLookupPC,
  runtimePrintName,
  splitFuncLine,
} from "./support.js";

const DUMP = [
  "SIGQUIT: quit",
  "PC=0x46f50c m=0 sigcode=0",
  "",
  "goroutine 0 gp=0x5a1b20 m=0 mp=0x5a2400 [idle]:",
  "runtime.futex(0x5a2540, 0x80, 0x0, 0x0, 0x0, 0x0)",
  "\t/usr/lib/go-1.23/src/runtime/sys_linux_amd64.s:557 +0x21 fp=0x7ffc sp=0x7ff0 pc=0x46f50c",
  "runtime.futexsleep(...)",
  "\t/usr/lib/go-1.23/src/runtime/os_linux.go:69",
  "runtime.notesleep(0x5a2540)",
  "\t/usr/lib/go-1.23/src/runtime/lock_futex.go:170 +0x87 fp=0x7ffd sp=0x7ffc pc=0x40e4a7",
  "",
  "goroutine 13 [chan receive]:",
  "main.(*Queue[...]).Pop(...)",
  "\t/src/main.go:62",
  "main.main.func4()",
  "\t/src/main.go:122 +0x37 fp=0xc000043fe0 sp=0xc000043fa8 pc=0x47aa17",
  "panic({0x485cc0?, 0x5217c0?})",
  "\t/usr/lib/go-1.23/src/runtime/panic.go:785 +0x132 fp=0xc00003df28 sp=0xc00003de78 pc=0x465372",
  "runtime.sigpanic()",
  "\t/usr/lib/go-1.23/src/runtime/signal_unix.go:917 +0x359 fp=0xc00003df88 sp=0xc00003df28 pc=0x4668d9",
  "main.nilDeref(0x0?, 0x0?)",
  "\t/src/main.go:82 +0x43 fp=0xc00003dfc0 sp=0xc00003df88 pc=0x479d03",
  "main.entry()",
  "\t/src/main.go:90 fp=0xc00003dfc8 sp=0xc00003dfc0 pc=0x479e00",
  "created by main.main in goroutine 1",
  "\t/src/main.go:126 +0x1af",
  "",
  "goroutine 7 [running]:",
  "\tgoroutine running on other thread; stack unavailable",
  "created by main.main",
  "\t/src/main.go:130 +0x1c0",
  "",
  "rax    0x0",
  "rip    0x46f50c",
].join("\n");

describe("oracle support", () => {
  test("splitFuncLine keeps parentheses and brackets of the name", () => {
    assert.deepEqual(splitFuncLine("sync.(*Mutex).Lock(...)"), { func: "sync.(*Mutex).Lock", args: "..." });
    assert.deepEqual(splitFuncLine("main.(*Queue[...]).Pop(0xc0, {0x1?, 0x2})"), {
      func: "main.(*Queue[...]).Pop",
      args: "0xc0, {0x1?, 0x2}",
    });
    assert.equal(splitFuncLine("rax    0x0"), undefined);
    assert.equal(splitFuncLine("(0x1)"), undefined);
  });

  test("parseGoroutineDump reads headers, frames, created-by and skips register dumps", () => {
    const d = parseGoroutineDump(DUMP);
    assert.equal(d.signal, "SIGQUIT: quit");
    assert.equal(d.signalPC, 0x46f50c);
    assert.deepEqual(d.unparsed, []);
    assert.deepEqual(
      d.goroutines.map((g) => [g.id, g.state, g.frames.length, g.afterSignal]),
      [
        [0, "idle", 3, true],
        [13, "chan receive", 6, false],
        [7, "running", 0, false],
      ],
    );
    const g13 = d.goroutines[1]!;
    assert.deepEqual(g13.createdBy, { func: "main.main", file: "/src/main.go", line: 126, offset: 0x1af });
    assert.equal(d.goroutines[2]!.createdBy?.line, 130);
    assert.deepEqual(d.goroutines[2]!.notes, ["goroutine running on other thread; stack unavailable"]);
    const inl = g13.frames[0]!;
    assert.equal(inl.pc, undefined);
    assert.equal(inl.offset, undefined);
    assert.equal(g13.frames[5]!.offset, undefined, "pc == entry prints no +0x");
    assert.equal(g13.frames[5]!.pc, 0x479e00);
  });

  test("lookup PC: trap frame, after sigpanic, at entry, else pc-1", () => {
    const d = parseGoroutineDump(DUMP);
    const g0 = d.goroutines[0]!;
    const g13 = d.goroutines[1]!;
    const c0 = chainsOf(g0);
    assert.deepEqual(c0.problems, []);
    assert.equal(runtimeLookupPC(g0, c0.chains, 0, d.signalPC, 23), 0x46f50c, "signal PC itself");
    assert.equal(runtimeLookupPC(g0, c0.chains, 1, d.signalPC, 23), 0x40e4a7 - 1);
    const c13 = chainsOf(g13);
    assert.deepEqual(
      c13.chains.map((c) => c.frames.length),
      [2, 1, 1, 1, 1],
    );
    assert.equal(runtimeLookupPC(g13, c13.chains, 3, d.signalPC, 19), 0x479d03, "frame above sigpanic");
    assert.equal(runtimeLookupPC(g13, c13.chains, 2, d.signalPC, 23), 0x4668d9 - 1);
    assert.equal(runtimeLookupPC(g13, c13.chains, 4, d.signalPC, 23), 0x479e00, "at entry");
  });

  test("runtime display names and package paths", () => {
    assert.equal(runtimePrintName("runtime.gopanic", 23, false), "panic");
    assert.equal(runtimePrintName("main.(*Queue[go.shape.string]).Pop", 23, true), "main.(*Queue[...]).Pop");
    assert.equal(runtimePrintName("main.Recv[...]", 19, true), "main.Recv[...]");
    assert.equal(runtimePrintName("runtime.gopanic", 19, true), "runtime.gopanic");
    assert.equal(funcPackagePath("example.com/x/sub.(*T[go.shape.int]).M"), "example.com/x/sub");
    assert.equal(funcPackagePath("main.F[example.com/y.T]"), "main");
    assert.equal(funcPackagePath("sync.(*Mutex).Lock"), "sync");
  });

  test("reconcile: unlisted failures are unexpected, listed ones that pass are stale", () => {
    const expected = [
      { oracle: "dump" as const, label: "go1.21/pie", func: "main.f", reason: "r" },
      { oracle: "dump" as const, label: "go1.21/pie", func: "main.g", reason: "r" },
      { oracle: "addr2line" as const, label: "go1.21/pie", func: "main.h", reason: "r" },
    ];
    const ms = [
      { label: "go1.21/pie", func: "main.f", detail: "" },
      { label: "go1.21/pie", func: "main.x", detail: "" },
    ];
    const r = reconcile("dump", "go1.21/pie", ms, expected);
    assert.deepEqual(
      r.unexpected.map((m) => m.func),
      ["main.x"],
    );
    assert.deepEqual(
      r.stale.map((e) => e.func),
      ["main.g"],
    );
    assert.equal(r.expectedHits, 1);
  });
});
