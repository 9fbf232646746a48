/**
 * A profile's Function.filename is the function's own file. At a few PCs the compiler leaves an
 * inlined callee's file and line in the tables while the inline tree has nothing inlined there
 * (runtime.mallocgc showing mcache.go:128, getMCache's line, in Go 1.23): the PC's frame names
 * mcache.go, but runtime/pprof — one file per function — reports malloc.go. Found in a real
 * build by scanning: every PC of the runtime's allocator whose single frame's file differs from
 * the file at the function's entry must come out of the memo with the entry's file.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { memoFor } from "../../src/pprof/memo.js";
import { pclnTableOf } from "../../src/symtab/binary.js";
import { openBinaryFile } from "../../src/symtab/index.js";
import { availableGoVersions, goBuild } from "../support/fixtures.js";

const go = availableGoVersions().includes("1.23") ? "1.23" : undefined;

test("a physical frame's function is filed under its own file, not an inlined callee's", {
  skip: go ? false : "no Go 1.23",
}, () => {
  const exe = goBuild("pprof-oracle", { go: go!, flags: ["-ldflags=-B gobuildid"] });
  const bin = openBinaryFile(exe, { sha256: null });
  const tab = pclnTableOf(bin)!;
  const memo = memoFor(bin, 1 << 20, false);
  let checked = 0;
  for (let i = 0; i < tab.nfunc; i++) {
    const entry = tab.entry(i);
    const at = bin.resolve(entry).frames;
    const fn = at[at.length - 1];
    if (fn === undefined || !fn.function.startsWith("runtime.malloc")) continue;
    for (let pc = entry; pc < tab.end(i); pc++) {
      const frames = bin.resolve(pc).frames;
      if (frames.length !== 1 || frames[0]!.file === fn.file) continue;
      const off = memo.lookup(pc);
      const gfid = memo.pool[off + 1]!;
      assert.equal(memo.strings[memo.fnName[gfid]!], fn.function);
      assert.equal(memo.strings[memo.fnFile[gfid]!], fn.file, `pc 0x${pc.toString(16)} (${frames[0]!.file})`);
      checked++;
    }
  }
  assert.ok(checked > 0, "the build has PCs whose frame names an inlined callee's file");
});
