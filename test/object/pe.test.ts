/**
 * PE reader against Go's debug/pe (objinfo) and binutils objdump: npm windows fixtures (Go 1.17 and
 * 1.23, stripped) and hello builds for windows/amd64 (unstripped: COFF symbols, long section names)
 * and windows/386 (PE32).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { openObject } from "../../src/object/open.js";
import type { ObjectFile } from "../../src/object/types.js";
import { goObjInfo, helloBuild, npmBinaries, oracleGo, run } from "./support.js";

function open(path: string): ObjectFile {
  return openObject(new FileSource(path));
}

function checkAgainstGo(path: string): ObjectFile {
  const f = open(path);
  const g = goObjInfo(path);
  assert.equal(f.format, "pe");
  assert.equal(f.os, "windows");
  assert.equal(f.littleEndian, true);
  assert.equal(
    f.arch,
    g.cpu === "0x8664" ? "amd64" : g.cpu === "0x14c" ? "386" : g.cpu === "0xaa64" ? "arm64" : "?",
  );
  assert.equal(f.imageBase, g.imageBase);
  assert.equal(f.entry, g.entry);
  assert.equal(f.pie, g.pie);
  // Go's Size is SizeOfRawData; ours is the part of it inside the section's memory size.
  assert.deepEqual(
    f.sections.map((s) => [s.name, s.addr, s.size, s.offset, s.fileSize]),
    (g.sections ?? []).map((s) => [
      s.name,
      s.addr,
      s.size === 0 ? s.fileSize : s.size,
      s.offset,
      Math.min(s.fileSize, s.size === 0 ? s.fileSize : s.size),
    ]),
  );
  assert.deepEqual(
    f
      .symbols()
      .map((s) => `${s.name}@${s.addr}`)
      .sort(),
    (g.symbols ?? []).map((s) => `${s.name}@${s.addr}`).sort(),
  );
  return f;
}

/** `objdump -h` section table: name, VMA, file offset. */
function objdumpSections(path: string): Array<[string, number, number]> {
  const out: Array<[string, number, number]> = [];
  for (const m of run("objdump", ["-h", path]).matchAll(
    /^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/gm,
  )) {
    out.push([m[1]!, Number.parseInt(m[3]!, 16), Number.parseInt(m[4]!, 16)]);
  }
  return out;
}

describe("PE reader vs Go debug/pe", () => {
  for (const b of npmBinaries((n) => n.includes("-windows-"))) {
    test(`npm ${b.name}`, () => {
      const f = checkAgainstGo(b.path);
      assert.equal(f.ptrSize, 8);
      assert.equal(f.type, f.pie ? "dyn" : "exec");
      // Also binutils' view of the section table.
      assert.deepEqual(
        f.sections.map((s) => [s.name, s.addr, s.offset]),
        objdumpSections(b.path),
      );
    });
  }
  test("hello windows-amd64 (COFF symbols, long section names)", () => {
    const path = helloBuild("windows-amd64");
    const f = checkAgainstGo(path);
    assert.ok(
      f.sections.some((s) => s.name.length > 8),
      "a section name longer than 8 bytes, read from the string table",
    );
    // Symbols vs go tool nm (section-relative values turned into addresses).
    const nm = run(oracleGo(), ["tool", "nm", path]);
    for (const name of ["main.main", "runtime.main", "runtime.pclntab", "runtime.text"]) {
      const m = new RegExp(`^\\s*([0-9a-f]+) \\S ${name.replace(/[.]/g, "\\.")}$`, "m").exec(nm);
      assert.ok(m, `go tool nm lists ${name}`);
      const s = f.symbols().find((x) => x.name === name);
      assert.ok(s, name);
      assert.equal(s.addr, Number.parseInt(m[1]!, 16), name);
    }
    assert.equal(f.symbols().find((x) => x.name === "main.main")?.kind, "func");
    assert.equal(f.sectionAt(f.entry)?.name, ".text");
  });
  test("hello windows-386 (PE32, stripped)", () => {
    const f = checkAgainstGo(helloBuild("windows-386-stripped"));
    assert.equal(f.arch, "386");
    assert.equal(f.ptrSize, 4);
    assert.equal(f.symbols().length, 0);
  });
});
