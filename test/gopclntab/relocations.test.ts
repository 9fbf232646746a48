/**
 * Pointers the loader writes: in a PIE, the absolute addresses of a 1.2–1.17 pclntab (functab and
 * _func entries, funcdata pointers) and moduledata's pointer words are RELATIVE relocations.
 * Go's internal linker also writes their values into the file; external linkers need not (GNU ld
 * on arm64 leaves zeros or stale values: see oracle.test.ts for real ones of moduledata). Here the
 * real Android Go 1.16/1.17 PIEs get every relocated word of their table zeroed or garbled, as such
 * a linker would leave them; gosymd must answer exactly as for the intact file.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { BufferSource, FileSource } from "../../src/bytes/source.js";
import { openObject } from "../../src/object/open.js";
import { openBinary, openBinaryFile } from "../../src/symtab/binary.js";
import { npmFixture } from "../support/fixtures.js";
import { assertSameAnswers } from "../support/pclntab-oracle.js";
import { samplePcs } from "../support/sample.js";

describe("1.16/1.17 PIE tables whose relocated words the file does not hold", () => {
  for (const name of ["esbuild-0.11.20-android-arm64", "esbuild-0.13.15-android-arm64"]) {
    for (const damage of ["zeroed", "garbled"] as const) {
      test(`${name}: relocated words ${damage}`, () => {
        const path = npmFixture(name);
        const intact = openBinaryFile(path, { sha256: null });
        const { addr, size } = intact.info.pclntab!;
        const obj = openObject(new FileSource(path));
        const sec = obj.sectionAt(Number(addr))!;
        const relocs = obj.relativeRelocations!(Number(addr), Number(addr) + size);
        assert.ok(relocs.size > 10_000, `relocations in the table (${relocs.size})`);
        const bytes = new Uint8Array(readFileSync(path));
        const dv = new DataView(bytes.buffer);
        let k = 0;
        for (const va of relocs.keys()) {
          const off = sec.offset + (va - sec.addr);
          const v = damage === "zeroed" ? 0 : (0x9e3779b1 * ++k) >>> 0;
          dv.setUint32(off, v, true);
          dv.setUint32(off + 4, 0, true);
        }
        const damaged = openBinary(new BufferSource(bytes), { sha256: null });
        assert.equal(damaged.info.pclntab?.funcCount, intact.info.pclntab?.funcCount);
        const inlined = assertSameAnswers(damaged, intact, samplePcs(path, 3000, 23));
        assert.ok(inlined > 100, `inline chains compared (${inlined})`);
      });
    }
  }
});
