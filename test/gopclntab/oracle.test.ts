/**
 * Every npm fixture of Go 1.14 → 1.27 (ELF, Mach-O, PE; amd64, arm64, 386, arm) and cross builds
 * of our own against an independent decoder (`go tool addr2line`, or debug/gosym where addr2line
 * cannot find the table): see test/support/pclntab-oracle.ts. The Go ≤ 1.13 fixtures are
 * old-go.test.ts's.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FileSource } from "../../src/bytes/source.js";
import { locatePclntab } from "../../src/gopclntab/locate.js";
import { openObject } from "../../src/object/open.js";
import { openBinaryFile } from "../../src/symtab/binary.js";
import {
  availableGoVersions,
  type GoBuildOptions,
  goBuild,
  newestGo,
  npmFixture,
  npmFixtureList,
} from "../support/fixtures.js";
import { OLD_GO_FIXTURES } from "../support/old-go.js";
import { assertSameAnswers, checkAgainstOracle } from "../support/pclntab-oracle.js";
import { samplePcs } from "../support/sample.js";

const go = newestGo();

describe("pclntab vs go tool addr2line / debug/gosym", {
  skip: go === undefined && "no Go toolchain",
}, () => {
  // Go ≤ 1.13 fixtures (some without inline trees) are checked by old-go.test.ts.
  for (const fx of npmFixtureList().filter((f) => !OLD_GO_FIXTURES.has(f.name))) {
    test(fx.name, () => {
      checkAgainstOracle(npmFixture(fx.name), fx.name.length * 7919);
    });
  }
});

// Byte orders, quanta and pointer sizes no npm fixture has: big-endian s390x (quantum 2), ppc64
// (quantum 4) and mips (32-bit); and the big-endian Go 1.18 table generation from go1.19.
const crossBuilds: Array<{ label: string; opts: GoBuildOptions; prog?: string; foundBy?: RegExp }> = [];
if (go !== undefined) {
  for (const arch of ["s390x", "ppc64", "mips"]) {
    crossBuilds.push({ label: `go${go} GOARCH=${arch}`, opts: { go, env: { GOARCH: arch } } });
  }
  if (availableGoVersions().includes("1.19")) {
    crossBuilds.push({ label: "go1.19 GOARCH=s390x", opts: { go: "1.19", env: { GOARCH: "s390x" } } });
  }
  // External linking (cgo) of a PIE merges the table into .data.rel.ro: found by its symbols, or,
  // stripped, by the magic scan; C start-up code precedes runtime.text.
  const cgo = { CGO_ENABLED: "1" };
  crossBuilds.push(
    {
      label: `go${go} cgo PIE`,
      prog: "cgo-symbols",
      opts: { go, env: cgo, flags: ["-buildmode=pie"] },
      foundBy: /^runtime\.pclntab symbol$/,
    },
    {
      label: `go${go} cgo PIE -s -w`,
      prog: "cgo-symbols",
      opts: { go, env: cgo, flags: ["-buildmode=pie", "-ldflags=-s -w"] },
      foundBy: /^magic scan of \.data\.rel\.ro$/,
    },
  );
}

describe("pclntab vs go tool addr2line: other architectures", {
  skip: go === undefined && "no Go toolchain",
}, () => {
  for (const { label, opts, prog, foundBy } of crossBuilds) {
    test(label, () => {
      const path = goBuild(prog ?? "inline-oracle", opts);
      if (foundBy !== undefined) assert.match(openBinaryFile(path).info.pclntab?.foundBy ?? "", foundBy);
      checkAgainstOracle(path, label.length * 104729);
    });
  }
});

// Externally linked arm64 PIEs (cgo, GNU ld): the file holds stale values in moduledata's pointer
// words (the loader writes the RELATIVE relocations' addends there), so moduledata — and with it
// gofunc, where the inline trees are — is found only with the relocations applied; stripped, there
// is no symbol to fall back on. Unstripped against addr2line; stripped against unstripped (same
// link, same addresses): every frame of the inline chains must agree.
describe("externally linked arm64 PIE (moduledata through its relocations)", {
  skip: go === undefined && "no Go toolchain",
}, () => {
  const versions =
    go === undefined ? [] : [...new Set([go, ...(availableGoVersions().includes("1.19") ? ["1.19"] : [])])];
  for (const v of versions) {
    test(`go${v} cgo arm64 PIE, unstripped and -s -w`, () => {
      const env = { GOARCH: "arm64", CGO_ENABLED: "1", CC: "aarch64-linux-gnu-gcc" };
      const full = goBuild("cgo-symbols", { go: v, env, flags: ["-buildmode=pie"] });
      const stripped = goBuild("cgo-symbols", { go: v, env, flags: ["-buildmode=pie", "-ldflags=-s -w"] });
      for (const path of [full, stripped]) {
        const loc = locatePclntab(openObject(new FileSource(path)));
        assert.match(loc.moduledata?.foundIn ?? "(none)", /with its relocations applied$/, path);
      }
      checkAgainstOracle(full, v.length * 7877);
      const a = openBinaryFile(full, { sha256: null });
      const b = openBinaryFile(stripped, { sha256: null });
      assert.equal(b.info.pclntab?.inlineTrees, true, "stripped: inline trees found");
      const inlined = assertSameAnswers(b, a, samplePcs(full, 3000, 17));
      assert.ok(inlined > 100, `inlined frames expanded (${inlined})`);
    });
  }
});
