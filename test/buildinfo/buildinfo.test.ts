/**
 * Buildinfo against `go version -m` (newest Debian toolchain) for every npm fixture and every hello
 * build: Go version, path, main module, every dep with version/sum/replacement, every build setting
 * (compared as the exact text Go prints). Go 1.13 binaries built outside a module, whose empty
 * runtime.modinfo lies in zero-filled memory, and damaged variants of their string headers. Plus
 * ParseBuildInfo edge cases and strconv.Unquote rules.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { formatBuildInfo, parseModInfo, readBuildInfo } from "../../src/buildinfo/buildinfo.js";
import { GosymdError } from "../../src/bytes/errors.js";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { goQuote, goQuotedPrefix, goUnquote } from "../../src/object/gostrconv.js";
import { openObject } from "../../src/object/open.js";
import {
  goObjInfo,
  goVersionM,
  HELLO_BUILDS,
  helloBuild,
  type NamedBinary,
  npmBinaries,
  type OracleReport,
  strippedCopy,
} from "../object/support.js";
import { npmFixtureList } from "../support/fixtures.js";
import { OLD_GO_FIXTURES } from "../support/old-go.js";

function check(b: NamedBinary): void {
  const f = openObject(new FileSource(b.path));
  const bi = readBuildInfo(f);
  const oracle = goVersionM(b.path);
  if (oracle === undefined) {
    assert.equal(bi, undefined, "Go cannot read buildinfo here, neither should we");
    return;
  }
  assert.ok(bi, "buildinfo expected");
  assert.equal(bi.goVersion, oracle.goVersion);
  assert.equal(formatBuildInfo({ ...bi, goVersion: "" }), oracle.text);
  f.source.close();
}

describe("buildinfo vs go version -m", () => {
  for (const b of npmBinaries()) test(`npm ${b.name}`, () => check(b));
  for (const hb of HELLO_BUILDS)
    test(`hello ${hb.name}`, () => check({ name: hb.name, path: helloBuild(hb.name) }));
  test("hello go1.23 after objcopy --strip-all", () =>
    check({ name: "strip-all", path: strippedCopy("go1.23") }));

  test("hello's module info is what its go.mod says", () => {
    const bi = readBuildInfo(openObject(new FileSource(helloBuild("go1.23"))))!;
    assert.equal(bi.path, "example.com/hello");
    assert.equal(bi.main.path, "example.com/hello");
    const lib = bi.deps.find((d) => d.path === "example.com/lib");
    assert.deepEqual(lib, {
      path: "example.com/lib",
      version: "v0.0.0",
      sum: "",
      replace: { path: "./lib", version: "(devel)", sum: "" },
    });
    const get = (k: string) => bi.settings.find((s) => s.key === k)?.value;
    assert.equal(get("GOOS"), "linux");
    assert.equal(get("GOARCH"), "amd64");
    const q = readBuildInfo(openObject(new FileSource(helloBuild("quoted-ldflags"))))!;
    assert.equal(q.settings.find((s) => s.key === "-ldflags")?.value, "-X 'main.note=a \"q\"\tb' -s");
    assert.equal(q.settings.find((s) => s.key === "-tags")?.value, "a,b");
  });

  test("a binary without buildinfo gives undefined (esbuild 0.28.2 ships none)", () => {
    const b = npmBinaries((n) => n === "esbuild-0.28.2-linux-amd64")[0]!;
    assert.equal(goVersionM(b.path), undefined);
    assert.equal(readBuildInfo(openObject(new FileSource(b.path))), undefined);
  });
});

/**
 * Go 1.13 binaries built in GOPATH mode (no module): the blob's runtime.modinfo pointer leads to a
 * string header the linker left zero, in .bss / __bss / the PE .data past its raw bytes, so not in
 * the file. The "buildinfo vs go version -m" tests above compare what we read with Go; these make
 * sure the fixtures really have that shape, and that damaged headers near it are still told apart.
 */
const GOPATH_MODE = [
  "esbuild-0.0.10-linux-amd64",
  "ibazel-0.11.2-windows-amd64",
  "bazelisk-1.3.0-darwin-amd64",
];

/** The section (as Go's debug/* read it) holding `addr`, with whether `addr` has bytes in the file. */
function sectionOf(rep: OracleReport, addr: number): { name: string; inFile: boolean } | undefined {
  for (const s of rep.sections ?? []) {
    if (s.addr !== 0 && addr >= s.addr && addr < s.addr + Math.max(s.size, s.fileSize))
      return { name: s.name, inFile: addr < s.addr + s.fileSize };
  }
  return undefined;
}

/** Virtual address of file offset `off` through Go's section table, or −1. */
function vaddrOfOffset(rep: OracleReport, off: number): number {
  for (const s of rep.sections ?? []) {
    if (s.addr !== 0 && s.fileSize > 0 && off >= s.offset && off < s.offset + s.fileSize)
      return s.addr + off - s.offset;
  }
  return -1;
}

const MAGIC = Buffer.from("\xff Go buildinf:", "latin1");

/** Writes a little-endian pointer-sized word. */
function putWord(b: Buffer, off: number, ptrSize: number, v: number | bigint): void {
  if (ptrSize === 8) b.writeBigUInt64LE(BigInt(v), off);
  else b.writeUInt32LE(Number(v), off);
}

function isBuildinfoError(field: string) {
  return (e: unknown) =>
    e instanceof GosymdError && e.kind === "corrupt" && e.format === "buildinfo" && e.field === field;
}

describe("Go 1.13 binaries built outside a module: runtime.modinfo in zero-filled memory", () => {
  test("they come from two packages or more and are old-go.test.ts's too", () => {
    const list = npmFixtureList();
    const pkgs = new Set(GOPATH_MODE.map((n) => list.find((f) => f.name === n)?.package));
    assert.ok(!pkgs.has(undefined) && pkgs.size >= 2, GOPATH_MODE.join(", "));
    for (const n of GOPATH_MODE) assert.match(OLD_GO_FIXTURES.get(n) ?? "", /^go1\.13\./, n);
  });

  for (const name of GOPATH_MODE) {
    const { path } = npmBinaries((n) => n === name)[0]!;
    const bytes = readFileSync(path);
    const rep = goObjInfo(path);
    // The blob, found by its magic (the first one on a 16-byte boundary), without gosymd.
    let at = bytes.indexOf(MAGIC);
    while (at >= 0 && at % 16 !== 0) at = bytes.indexOf(MAGIC, at + 1);
    const ptrSize = bytes[at + 14]!;
    const modPtrAt = at + 16 + ptrSize;

    test(`${name}: runtime.modinfo's header is past the file's bytes, go version -m reads no modules`, () => {
      assert.ok(at >= 0 && bytes[at + 15] === 0, "a little-endian pointer-form (Go < 1.18) blob");
      const sym = rep.symbols?.find((s) => s.name === "runtime.modinfo" || s.name === "_runtime.modinfo");
      assert.ok(sym, "runtime.modinfo symbol");
      const modPtr = ptrSize === 8 ? Number(bytes.readBigUInt64LE(modPtrAt)) : bytes.readUInt32LE(modPtrAt);
      assert.equal(modPtr, sym.addr, "the blob points at runtime.modinfo");
      const sec = sectionOf(rep, sym.addr);
      assert.ok(sec, "runtime.modinfo is in a section");
      assert.equal(sec.inFile, false, `runtime.modinfo in ${sec.name} has no bytes in the file`);
      const oracle = goVersionM(path);
      assert.ok(oracle, "go version -m reads it");
      assert.match(oracle.goVersion, /^go1\.13\./);
      assert.equal(oracle.text, "", "no path, mod or dep lines");
      const bi = readBuildInfo(openObject(new BufferSource(bytes)));
      assert.ok(bi);
      assert.equal(bi.goVersion, oracle.goVersion);
      assert.deepEqual(bi, { goVersion: oracle.goVersion, ...parseModInfo("") });
    });

    // A 2-word string header written over the bytes after the blob (file-backed data), the blob's
    // modinfo pointer redirected to it.
    const patched = (data: number | bigint, len: number): Buffer => {
      const b = Buffer.from(bytes);
      const hdrAddr = vaddrOfOffset(rep, at + 32);
      assert.ok(hdrAddr > 0, "the bytes after the blob are in a section");
      putWord(b, modPtrAt, ptrSize, hdrAddr);
      putWord(b, at + 32, ptrSize, data);
      putWord(b, at + 32 + ptrSize, ptrSize, len);
      return b;
    };

    test(`${name}: an empty modinfo is empty whatever its data pointer (as go version -m reads it)`, () => {
      const dir = mkdtempSync(join(tmpdir(), "gosymd-buildinfo-"));
      try {
        for (const data of [0, 0xdead0000, ptrSize === 8 ? 0xfffffffffffffff0n : 0xfffffff0]) {
          const b = patched(data, 0);
          const file = join(dir, "bin");
          writeFileSync(file, b);
          const oracle = goVersionM(file);
          assert.ok(oracle, `go version -m reads the data pointer 0x${data.toString(16)}`);
          const bi = readBuildInfo(openObject(new BufferSource(b)));
          assert.ok(bi);
          assert.equal(bi.goVersion, oracle.goVersion);
          assert.equal(formatBuildInfo({ ...bi, goVersion: "" }), oracle.text);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test(`${name}: damaged modinfo headers are typed errors`, () => {
      // Non-empty bytes outside the file: far away, or in the zero-filled memory itself. (Go's
      // debug/buildinfo reads these as "no module info"; for us a length without its bytes is damage.)
      const sym = rep.symbols!.find((s) => s.name === "runtime.modinfo" || s.name === "_runtime.modinfo")!;
      for (const data of [0xdead0000, sym.addr]) {
        assert.throws(
          () => readBuildInfo(openObject(new BufferSource(patched(data, 5)))),
          isBuildinfoError("runtime.modinfo data"),
        );
      }
      // The header itself in no readable segment.
      const b = Buffer.from(bytes);
      putWord(b, modPtrAt, ptrSize, 0x10);
      assert.throws(
        () => readBuildInfo(openObject(new BufferSource(b))),
        isBuildinfoError("runtime.modinfo string header"),
      );
    });
  }
});

describe("modinfo parsing (runtime/debug.ParseBuildInfo, tolerant)", () => {
  test("all line kinds, replacement, quoted keys and values", () => {
    const text = [
      "path\texample.com/x/cmd",
      "mod\texample.com/x\tv1.2.3\th1:abc=",
      "dep\tgolang.org/x/sys\tv0.1.0\th1:sys=",
      "dep\texample.com/old\tv1.0.0",
      "=>\texample.com/new\tv1.1.0\th1:new=",
      'build\t-ldflags="-s -w"',
      'build\t"key with space"=v',
      "build\t`raw key`=`raw\tvalue`",
      "build\tEMPTY=",
      "",
    ].join("\n");
    const bi = parseModInfo(text);
    assert.equal(bi.path, "example.com/x/cmd");
    assert.deepEqual(bi.main, { path: "example.com/x", version: "v1.2.3", sum: "h1:abc=" });
    assert.deepEqual(bi.deps, [
      { path: "golang.org/x/sys", version: "v0.1.0", sum: "h1:sys=" },
      {
        path: "example.com/old",
        version: "v1.0.0",
        sum: "",
        replace: { path: "example.com/new", version: "v1.1.0", sum: "h1:new=" },
      },
    ]);
    assert.deepEqual(bi.settings, [
      { key: "-ldflags", value: "-s -w" },
      { key: "key with space", value: "v" },
      { key: "raw key", value: "raw\tvalue" },
      { key: "EMPTY", value: "" },
    ]);
  });

  test("garbled lines are skipped, never thrown", () => {
    const text = [
      "mod\tonly-one-column",
      "dep\ta\tb\tc\td",
      "=>\treplacement\twithout\tprevious",
      "dep\tgood\tv1",
      "=>\ttoo\tfew",
      "build\t=novalue",
      "build\tnoequals",
      'build\t"unterminated=x',
      'build\t"k"x=1',
      "build\tk=unquoted value",
      'build\tk="bad\\q"',
      "build\tbad key=1",
      "something else entirely",
      "\u0000\uffff",
      "build\tok=1",
      "build\tlast=unterminated-line-is-ignored",
    ].join("\n");
    const bi = parseModInfo(text);
    assert.deepEqual(bi.main, { path: "", version: "", sum: "" });
    assert.deepEqual(bi.deps, [{ path: "good", version: "v1", sum: "" }]);
    assert.deepEqual(bi.settings, [{ key: "ok", value: "1" }]);
  });

  test("formatBuildInfo inverts parseModInfo", () => {
    const text = 'path\tp\nmod\tm\tv1\t\ndep\td\tv2\n=>\tr\tv3\th1:x\n\nbuild\t"a b"="c\\td"\nbuild\tx=`\n';
    const bi = parseModInfo(text);
    assert.equal(formatBuildInfo({ goVersion: "", ...bi }), text.replace("build\tx=`\n", ""));
  });
});

describe("Go string quoting", () => {
  test("Unquote: escapes from the Go spec", () => {
    const cases: Array<[string, string | undefined]> = [
      ['""', ""],
      ['"abc"', "abc"],
      ['"\\a\\b\\f\\n\\r\\t\\v\\\\\\""', '\x07\b\f\n\r\t\v\\"'],
      ['"\\x41\\101\\u00e9\\U0001F600"', "AAé😀"],
      ["`raw\\n`", "raw\\n"],
      ["`a\rb`", "ab"],
      ["'x'", "x"],
      ["'\\''", "'"],
      ['"\\\'"', undefined], // \' is not allowed in "..."
      ["'\\\"'", undefined],
      ["'ab'", undefined],
      ['"a\nb"', undefined],
      ['"abc', undefined],
      ['"\\400"', undefined], // octal above 255
      ['"\\uD800"', undefined], // surrogate
      ['"\\xZZ"', undefined],
      ['"a"b"', undefined],
      ["`a`b`", undefined],
      ["x", undefined],
    ];
    for (const [lit, want] of cases) assert.equal(goUnquote(lit), want, lit);
  });

  test("QuotedPrefix and Quote round-trip", () => {
    assert.equal(goQuotedPrefix('"a\\"b"=rest'), '"a\\"b"');
    assert.equal(goQuotedPrefix("`x`=y"), "`x`");
    assert.equal(goQuotedPrefix('"open'), undefined);
    for (const s of ["plain", "tab\there", 'q"uote', "back\\slash", "nl\n", "\x00\x7f", "é😀", "\u200b"]) {
      assert.equal(goUnquote(goQuote(s)), s, JSON.stringify(s));
    }
    assert.equal(goQuote("a\tb"), '"a\\tb"');
    assert.equal(goQuote("\x01"), '"\\x01"');
    assert.equal(goQuote("\u200b"), '"\\u200b"');
  });
});
