/**
 * Build IDs against the toolchain: Go build ID = `go tool buildid`, GNU build ID = `readelf -n`,
 * Mach-O UUID = Go's debug/macho load command, SHA-256 = node's crypto over the file. Every npm
 * fixture and the hello builds (stripped ones included).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { buildIdAliases, computeBuildIds, dashedUuid, findGoBuildId } from "../../src/object/buildid.js";
import { openObject } from "../../src/object/open.js";
import {
  goObjInfo,
  goToolBuildid,
  HELLO_BUILDS,
  helloBuild,
  type NamedBinary,
  npmBinaries,
  run,
  strippedCopy,
} from "./support.js";

function readelfGnuBuildId(path: string): string | undefined {
  const m = /Build ID: ([0-9a-f]+)/.exec(run("readelf", ["-n", path]));
  return m?.[1];
}

function check(b: NamedBinary): void {
  const f = openObject(new FileSource(b.path));
  const ids = computeBuildIds(f);
  assert.equal(ids.go, goToolBuildid(b.path), "Go build ID vs go tool buildid");
  assert.equal(ids.sha256, createHash("sha256").update(readFileSync(b.path)).digest("hex"), "sha256");
  if (f.format === "elf") assert.equal(ids.gnu, readelfGnuBuildId(b.path), "GNU build ID vs readelf -n");
  else assert.equal(ids.gnu, undefined);
  if (f.format === "macho") assert.equal(ids.machoUuid, goObjInfo(b.path).uuid, "LC_UUID");
  else assert.equal(ids.machoUuid, undefined);
  f.source.close();
}

describe("build IDs", () => {
  for (const b of npmBinaries()) test(`npm ${b.name}`, () => check(b));
  for (const hb of HELLO_BUILDS)
    test(`hello ${hb.name}`, () => check({ name: hb.name, path: helloBuild(hb.name) }));
  test("hello go1.23 after objcopy --strip-all keeps its Go build ID", () => {
    const path = strippedCopy("go1.23");
    check({ name: "strip-all", path });
    assert.equal(computeBuildIds(openObject(new FileSource(path))).go, goToolBuildid(helloBuild("go1.23")));
  });

  test("-B gobuildid: GNU build ID present on ELF, UUID present on darwin", () => {
    const elf = computeBuildIds(openObject(new FileSource(helloBuild("gnu-buildid"))));
    assert.match(elf.gnu ?? "", /^[0-9a-f]{40}$/);
    const mac = computeBuildIds(openObject(new FileSource(helloBuild("darwin-amd64-uuid"))));
    assert.match(mac.machoUuid ?? "", /^[0-9a-f]{32}$/);
  });

  test("aliases: gnu, go, uuid with and without dashes, sha256:", () => {
    const mac = computeBuildIds(openObject(new FileSource(helloBuild("darwin-amd64-uuid"))));
    const a = buildIdAliases(mac);
    const u = mac.machoUuid!;
    assert.deepEqual(a, [mac.go, u, dashedUuid(u), `sha256:${mac.sha256}`]);
    // The dashed form is what tools print (llvm-dwarfdump --uuid, dwarfdump): 8-4-4-4-12.
    assert.match(dashedUuid(u), /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(dashedUuid(u).replaceAll("-", ""), u);
    const elf = computeBuildIds(openObject(new FileSource(helloBuild("gnu-buildid"))));
    assert.deepEqual(buildIdAliases(elf), [elf.gnu, elf.go, `sha256:${elf.sha256}`]);
    assert.deepEqual(buildIdAliases({ sha256: "AB" }), ["sha256:ab"]);
  });

  test("the go:buildid record is unquoted the Go way", () => {
    const rec = (s: string) =>
      Uint8Array.from(Buffer.from(`junk\xff Go build ID: ${s}\n \xffjunk`, "latin1"));
    assert.equal(findGoBuildId(rec('"abc/def"')), "abc/def");
    assert.equal(findGoBuildId(rec('"a\\x41\\"b"')), 'aA"b');
    assert.equal(findGoBuildId(rec('"bad\\q"')), undefined);
    assert.equal(findGoBuildId(rec('"unterminated')), undefined);
    assert.equal(findGoBuildId(new Uint8Array(100)), undefined);
  });

  test("sha256 is streamed: no single read above 1 MiB", () => {
    const path = npmBinaries((n) => n.startsWith("buf-"))[0]!.path;
    const inner = new FileSource(path);
    let maxRead = 0;
    const counting = {
      size: inner.size,
      read(o: number, n: number, field?: string) {
        maxRead = Math.max(maxRead, n);
        return inner.read(o, n, field);
      },
      close: () => inner.close(),
    };
    const ids = computeBuildIds(openObject(counting));
    assert.ok(maxRead <= 1 << 20, `largest read ${maxRead}`);
    assert.equal(ids.sha256, createHash("sha256").update(readFileSync(path)).digest("hex"));
    inner.close();
  });

  test("an in-memory copy gives the same IDs as the file", () => {
    const path = helloBuild("windows-amd64");
    const a = computeBuildIds(openObject(new FileSource(path)));
    const b = computeBuildIds(openObject(new BufferSource(readFileSync(path))));
    assert.deepEqual(a, b);
  });
});
