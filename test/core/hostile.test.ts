/**
 * Damaged input: a real core (go newest, core-crash) cut short at every structural boundary and at
 * random lengths, with bytes flipped in its headers, notes and memory, paired with the wrong
 * binary, or replaced by something that is not a core. The reader must throw a GosymdError or
 * return a (possibly partial) result — never another exception, never hang — within a second.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { FileSource } from "../../src/bytes/source.js";
import { readCore } from "../../src/core/read.js";
import { newestGo } from "../support/fixtures.js";
import {
  assertFlipSetsHandled,
  assertTruncationsHandled,
  attempt,
  cut,
  flipped,
  withCore,
} from "./damage.js";
import { buildVariant, makeCore } from "./support.js";

describe("damaged cores", { timeout: 300_000 }, () => {
  const go = newestGo()!;

  test("truncated at every boundary and at random lengths", async () => {
    const run = await makeCore(buildVariant("core-crash", go, "default"), [], "crash");
    withCore(run, (src, exe, L) => assertTruncationsHandled(src, exe, L));
  });

  test("bytes flipped in headers, notes and memory", async () => {
    const run = await makeCore(buildVariant("core-hang", go, "sw"), ["-n", "300"], "quit");
    withCore(run, (src, exe, L) => {
      assertFlipSetsHandled(src, exe, (where, _k, _j, pick) =>
        where === 0
          ? pick(0, L.phoff + L.phnum * 56)
          : where === 1
            ? pick(L.notes.offset, L.notes.size)
            : pick(L.loads[3 % L.loads.length]!.offset, L.loads[3 % L.loads.length]!.size),
      );
      // Heap words all over the place: every 64th word of the Go heap turned into garbage.
      const heap = L.loads.reduce((a, b) => (b.size > a.size ? b : a));
      const flips = new Map<number, number>();
      for (let o = heap.offset; o < heap.offset + Math.min(heap.size, 4 << 20); o += 512)
        flips.set(o + 3, 0x5a);
      attempt(flipped(src, flips), exe, "heap garbage");
    });
  });

  test("wrong binary, not a core, empty input", async () => {
    const crash = await makeCore(buildVariant("core-crash", go, "default"), [], "crash");
    const hang = await makeCore(buildVariant("core-hang", go, "default"), ["-n", "300"], "quit");
    const core = new FileSource(crash.core);
    const wrong = new FileSource(hang.binary);
    const right = new FileSource(crash.binary);
    try {
      assert.throws(
        () => readCore(core, wrong),
        (e: unknown) =>
          e instanceof GosymdError &&
          e.kind === "invalid_argument" &&
          /not produced by this binary/.test(e.message),
      );
      const r = readCore(core, wrong, { allowMismatch: true });
      assert.ok(r.warnings.some((w) => w.includes("not produced by this binary")));
      assert.throws(
        () => readCore(right, right),
        (e: unknown) =>
          e instanceof GosymdError && e.kind === "invalid_argument" && /not a core file/.test(e.message),
      );
      assert.throws(
        () => readCore(cut(core, 0), right),
        (e: unknown) => e instanceof GosymdError,
      );
    } finally {
      core.close();
      wrong.close();
      right.close();
    }
  });
});
