/**
 * Split text (moduledata.textsectmap, Go 1.18+): entry offsets map to addresses section by
 * section like the runtime's textAddr. No fixture has split text (it takes a huge externally
 * linked ppc64 or darwin/arm64 build), so a real table is given a synthetic section map that moves
 * the second half of its functions up by a gap: every lookup there must equal the unsplit lookup
 * at the original address.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { locatePclntab } from "../../src/gopclntab/locate.js";
import { Expansion, mapTextOffset, type ParseOptions, parsePclntab } from "../../src/gopclntab/table.js";
import { openObject } from "../../src/object/open.js";
import { npmFixture } from "../support/fixtures.js";

describe("split text sections", () => {
  test("mapTextOffset follows the runtime's textAddr", () => {
    const sects = [
      { vaddr: 0, end: 0x1000, base: 0x400000 },
      { vaddr: 0x1000, end: 0x3000, base: 0x500000 },
    ];
    assert.equal(mapTextOffset(sects, 0, 0x400000), 0x400000);
    assert.equal(mapTextOffset(sects, 0xfff, 0x400000), 0x400fff);
    assert.equal(mapTextOffset(sects, 0x1000, 0x400000), 0x500000);
    assert.equal(
      mapTextOffset(sects, 0x3000, 0x400000),
      0x502000,
      "the end of the last section is inside it",
    );
    assert.equal(mapTextOffset(sects, 0x4000, 0x400000), 0x404000, "outside every section: text + off");
  });

  test("a table with a synthetic split resolves the moved half at the moved addresses", () => {
    const src = new FileSource(npmFixture("esbuild-0.25.0-linux-amd64"));
    const obj = openObject(src);
    const loc = locatePclntab(obj);
    const opts: ParseOptions = {
      addr: loc.addr,
      textStart: loc.textStart!,
      gofunc: loc.gofuncCandidates[0]!,
      readMemory: (a, n) => obj.readVirtual(a, n),
    };
    const plain = parsePclntab(loc.bytes, opts);
    const mid = Math.floor(plain.nfunc / 2);
    const cut = plain.entry(mid) - plain.textStart;
    const endOff = plain.end(plain.nfunc - 1) - plain.textStart;
    const gap = 0x10_0000;
    const split = parsePclntab(loc.bytes, {
      ...opts,
      textSections: [
        { vaddr: 0, end: cut, base: plain.textStart },
        { vaddr: cut, end: endOff, base: plain.textStart + cut + gap },
      ],
    });
    src.close();
    assert.equal(split.nfunc, plain.nfunc);
    const a = new Expansion();
    const b = new Expansion();
    let compared = 0;
    for (let i = 0; i < plain.nfunc; i += 7) {
      const moved = i >= mid ? gap : 0;
      assert.equal(split.entry(i), plain.entry(i) + moved, `entry of function ${i}`);
      const pc = plain.entry(i) + Math.floor((plain.end(i) - plain.entry(i)) / 2);
      assert.equal(plain.expand(pc, a), true);
      assert.equal(split.expand(pc + moved, b), true);
      assert.equal(b.entry, a.entry + moved);
      assert.deepEqual(
        { n: b.count, names: b.nameOff.slice(0, b.count), lines: b.line.slice(0, b.count) },
        { n: a.count, names: a.nameOff.slice(0, a.count), lines: a.line.slice(0, a.count) },
      );
      compared++;
    }
    assert.ok(compared > 1000, `compared ${compared}`);
    // The gap between the sections belongs to the last function of the first section.
    assert.equal(split.findFunc(plain.entry(mid) + 1), mid - 1);
  });
});
