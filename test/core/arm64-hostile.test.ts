/**
 * Damaged linux/arm64 cores (qemu-user, see arm64-support.ts): hostile.test.ts's checks on the
 * aarch64 paths. A real core (newest go, core-crash) cut short at every structural boundary and at
 * random lengths; bytes flipped in its headers and its NT_PRSTATUS notes (aarch64 registers); the
 * goroutine stacks and signal stacks (saved LRs, frame records, the sigpanic LR slot, rt_sigframes)
 * overwritten word by word. The reader must throw a GosymdError or return a (possibly partial)
 * result — never another exception, never hang — within a few seconds.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { newestGo } from "../support/fixtures.js";
import { buildArm64Variant, EM_AARCH64, makeQemuCore, QEMU_SKIP } from "./arm64-support.js";
import { assertFlipSetsHandled, assertTruncationsHandled, attempt, flipped, withCore } from "./damage.js";

describe("damaged linux/arm64 cores (qemu-user)", { skip: QEMU_SKIP, timeout: 300_000 }, () => {
  const go = newestGo()!;

  test("truncated at every boundary and at random lengths", async () => {
    const run = await makeQemuCore(buildArm64Variant("core-crash", go, "default"), [], "crash");
    withCore(run, (src, exe, L) => {
      assert.equal(L.machine, EM_AARCH64);
      assert.ok(L.prstatus.length >= 2, `${L.prstatus.length} NT_PRSTATUS notes`);
      const registers = L.prstatus.flatMap((p) => [
        p.offset + 112, // pr_reg
        p.offset + 112 + 29 * 8, // x29
        p.offset + p.size - 1,
      ]);
      assertTruncationsHandled(src, exe, L, registers);
    });
  });

  test("bytes flipped in headers, aarch64 registers, stacks and signal frames", async () => {
    const run = await makeQemuCore(buildArm64Variant("core-hang", go, "sw"), ["-n", "300"], "quit");
    withCore(run, (src, exe, L) => {
      assertFlipSetsHandled(src, exe, (where, k, j, pick) =>
        where === 0
          ? pick(0, L.phoff + L.phnum * 56)
          : where === 1
            ? pick(L.prstatus[j % L.prstatus.length]!.offset + 112, 34 * 8) // x0–x30, sp, pc, pstate
            : pick(L.loads[k % L.loads.length]!.offset, L.loads[k % L.loads.length]!.size),
      );
      // Goroutine and signal stacks live in the Go arena (0x40_0000_0000 on arm64): every 16th
      // word of its first 4 MiB, at the low and the high half, turned into garbage — saved LRs,
      // frame records and rt_sigframes included.
      const arena = L.loads.find((l) => l.vaddr === 0x40_0000_0000) ?? L.loads[0]!;
      for (const [step, at] of [
        [128, 0],
        [128, 4],
        [56, 0],
      ] as const) {
        const flips = new Map<number, number>();
        for (let o = arena.offset; o < arena.offset + Math.min(arena.size, 4 << 20); o += step)
          flips.set(o + at, 0xa5);
        attempt(flipped(src, flips), exe, `arena garbage every ${step} bytes at +${at}`);
      }
    });
  });
});
