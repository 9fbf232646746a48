/**
 * Every npm fixture of Go 1.14 → 1.27 (ELF, Mach-O, PE; amd64, arm64, 386, arm) and cross builds
 * of our own against an independent decoder (`go tool addr2line`, or debug/gosym where addr2line
 * cannot find the table): see test/support/pclntab-oracle.ts. The Go ≤ 1.13 fixtures are
 * old-go.test.ts's.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
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
import { checkAgainstOracle } from "../support/pclntab-oracle.js";

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
