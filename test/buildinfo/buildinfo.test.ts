/**
 * Buildinfo against `go version -m` (newest Debian toolchain) for every npm fixture and every hello
 * build: Go version, path, main module, every dep with version/sum/replacement, every build setting
 * (compared as the exact text Go prints). Plus ParseBuildInfo edge cases and strconv.Unquote rules.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatBuildInfo, parseModInfo, readBuildInfo } from "../../src/buildinfo/buildinfo.js";
import { FileSource } from "../../src/bytes/source.js";
import { goQuote, goQuotedPrefix, goUnquote } from "../../src/object/gostrconv.js";
import { openObject } from "../../src/object/open.js";
import {
  goVersionM,
  HELLO_BUILDS,
  helloBuild,
  type NamedBinary,
  npmBinaries,
  strippedCopy,
} from "../object/support.js";

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
