/**
 * Mach-O reader against Go's debug/macho (objinfo): npm darwin fixtures (Go 1.16 amd64, Go 1.23
 * amd64/arm64) and hello builds for darwin; a fat file assembled here from two thin builds.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { computeBuildIds } from "../../src/object/buildid.js";
import { listFatSlices, MachoFile } from "../../src/object/macho.js";
import { openObject } from "../../src/object/open.js";
import type { ObjectFile } from "../../src/object/types.js";
import {
  goFatInfo,
  goObjInfo,
  goToolBuildid,
  helloBuild,
  makeFat,
  npmBinaries,
  oracleGo,
  run,
} from "./support.js";

function open(path: string): ObjectFile {
  return openObject(new FileSource(path));
}

function checkAgainstGo(path: string): void {
  compare(open(path), goObjInfo(path), 0);
}

function compare(f: ObjectFile, g: ReturnType<typeof goObjInfo>, sliceOffset: number): void {
  assert.equal(f.format, "macho");
  assert.equal(f.os, "darwin");
  assert.equal(f.arch, g.cpu === "CpuAmd64" ? "amd64" : g.cpu === "CpuArm64" ? "arm64" : "?");
  assert.equal(f.ptrSize, 8);
  assert.equal(f.littleEndian, true);
  assert.equal(f.pie, g.pie);
  assert.deepEqual(
    f.sections.map((s) => [
      s.segment,
      s.name,
      s.addr,
      s.size,
      s.fileSize === 0 ? 0 : s.offset - sliceOffset,
      s.fileSize,
    ]),
    (g.sections ?? []).map((s) => [
      s.segment,
      s.name,
      s.addr,
      s.size,
      s.fileSize === 0 ? 0 : s.offset,
      s.fileSize,
    ]),
  );
  assert.deepEqual(
    f.segments.map((s) => [s.vaddr, s.memSize, s.offset - sliceOffset, s.fileSize, s.read, s.write, s.exec]),
    (g.segments ?? []).map((s) => [
      s.vaddr,
      s.memSize,
      s.offset,
      s.fileSize,
      (s.prot & 1) !== 0,
      (s.prot & 2) !== 0,
      (s.prot & 4) !== 0,
    ]),
  );
  // Go's debug/macho drops the underscore of dotted names, which is our goName.
  const ours = f
    .symbols()
    .map((s) => `${s.goName ?? s.name}@${s.addr}`)
    .sort();
  const theirs = (g.symbols ?? []).map((s) => `${s.name}@${s.addr}`).sort();
  assert.deepEqual(ours, theirs);
  assert.equal(f.uuid, g.uuid);
  if (g.entry !== 0) assert.equal(f.entry, g.entry, "entry (LC_MAIN)");
  // __gopclntab is findable by plain and segment-qualified name.
  const pcln = f.section("__gopclntab");
  assert.ok(pcln, "__gopclntab");
  assert.equal(f.section(`${pcln.segment},__gopclntab`), pcln);
  assert.equal(f.section("__NOPE,__gopclntab"), undefined);
  // readVirtual agrees with sectionBytes.
  const v = f.readVirtual(pcln.addr, 16)!;
  assert.deepEqual(Buffer.from(v), Buffer.from(f.sectionBytes(pcln).subarray(0, 16)));
  const text = f.sectionAt(f.entry);
  assert.equal(text?.name, "__text", "entry lies in __text");
}

describe("Mach-O reader vs Go debug/macho", () => {
  for (const b of npmBinaries((n) => n.includes("-darwin-"))) {
    test(`npm ${b.name}`, () => checkAgainstGo(b.path));
  }
  for (const name of ["darwin-arm64", "darwin-amd64-uuid"]) {
    test(`hello ${name}`, () => checkAgainstGo(helloBuild(name)));
  }
});

describe("Mach-O specifics", () => {
  test("Go symbols carry a leading underscore; goName drops it for dotted names (vs go tool nm)", () => {
    const path = helloBuild("darwin-arm64");
    const f = open(path);
    const nm = run(oracleGo(), ["tool", "nm", path]);
    for (const name of ["main.main", "runtime.main", "fmt.Fprintln"]) {
      const m = new RegExp(`^\\s*([0-9a-f]+) T ${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`, "m").exec(
        nm,
      );
      assert.ok(m, `go tool nm lists ${name}`);
      const s = f.symbols().find((x) => (x.goName ?? x.name) === name);
      assert.ok(s, `${name} findable via goName`);
      assert.equal(s.name, `_${name}`);
      assert.equal(s.addr, Number.parseInt(m[1]!, 16));
      assert.equal(s.kind, "func");
    }
  });

  test("LC_UNIXTHREAD entry (Go 1.16 darwin/amd64) is the _rt0_amd64_darwin symbol", () => {
    const f = open(npmBinaries((n) => n === "esbuild-0.8.57-darwin-amd64")[0]!.path);
    const rt0 = f.symbols().find((s) => s.name === "__rt0_amd64_darwin");
    assert.ok(rt0);
    assert.equal(rt0.goName, undefined);
    assert.equal(f.entry, rt0.addr);
  });

  test("-B gobuildid gives an LC_UUID; zerofill sections have no file bytes", () => {
    const f = open(helloBuild("darwin-amd64-uuid"));
    assert.match(f.uuid ?? "", /^[0-9a-f]{32}$/);
    const bss = f.section("__bss");
    assert.ok(bss && bss.size > 0);
    assert.equal(bss.fileSize, 0);
    assert.equal(f.sectionBytes(bss).length, 0);
  });
});

describe("fat Mach-O", () => {
  const arm = helloBuild("darwin-arm64");
  const amd = helloBuild("darwin-amd64-uuid");
  const fat = `${arm}.fat`;
  makeFat([arm, amd], fat);

  test("slices match Go's debug/macho FatFile", () => {
    const g = goFatInfo(fat);
    const ours = listFatSlices(new FileSource(fat));
    assert.deepEqual(
      ours.map((s) => [s.arch, s.offset, s.size]),
      g.map((s) => [
        s.cpu === "CpuAmd64" ? "amd64" : s.cpu === "CpuArm64" ? "arm64" : s.cpu,
        s.offset,
        s.size,
      ]),
    );
  });

  test("default pick is amd64; opts.arch picks arm64; offsets are absolute", () => {
    const g = goFatInfo(fat);
    const def = openObject(new FileSource(fat));
    assert.ok(def instanceof MachoFile);
    assert.equal(def.arch, "amd64");
    const amdSlice = g.find((s) => s.cpu === "CpuAmd64")!;
    compare(def, amdSlice.report, amdSlice.offset);
    const a = openObject(new FileSource(fat), { arch: "arm64" });
    assert.equal(a.arch, "arm64");
    const armSlice = g.find((s) => s.cpu === "CpuArm64")!;
    compare(a, armSlice.report, armSlice.offset);
    assert.throws(
      () => openObject(new FileSource(fat), { arch: "386" }),
      (e: unknown) => (e as { kind?: string }).kind === "not_found",
    );
  });

  test("build IDs of a slice equal the thin file's; sha256 is of the whole fat file", () => {
    const thinIds = computeBuildIds(open(arm));
    const fatIds = computeBuildIds(openObject(new FileSource(fat), { arch: "arm64" }));
    assert.equal(fatIds.go, goToolBuildid(arm));
    assert.equal(fatIds.go, thinIds.go);
    assert.equal(fatIds.sha256, createHash("sha256").update(readFileSync(fat)).digest("hex"));
  });

  test("a Java class file (same magic) is not taken for a fat file", () => {
    const cls = Buffer.from([0xca, 0xfe, 0xba, 0xbe, 0x00, 0x00, 0x00, 0x34, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.throws(
      () => openObject(new BufferSource(cls)),
      (e: unknown) =>
        (e as { kind?: string }).kind === "not_executable" && /0xcafebabe/.test((e as Error).message),
    );
  });
});
