/**
 * Damaged input: a real core (go newest, core-crash) cut short at every structural boundary and at
 * random lengths, with bytes flipped in its headers, notes and memory, paired with the wrong
 * binary, or replaced by something that is not a core. The reader must throw a GosymdError or
 * return a (possibly partial) result — never another exception, never hang — within a second.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { type ByteSource, FileSource } from "../../src/bytes/source.js";
import { readCore } from "../../src/core/read.js";
import { newestGo } from "../support/fixtures.js";
import { buildVariant, makeCore } from "./support.js";

/** A view of a source cut at `size` bytes. */
function cut(src: ByteSource, size: number): ByteSource {
  return {
    size,
    read(o, n, field) {
      if (o < 0 || n < 0 || o + n > size)
        throw new GosymdError("truncated", `read past ${size}`, { field: field ?? "bytes" });
      return src.read(o, n, field);
    },
    close() {},
  };
}

/** A source with some bytes XOR-ed. */
function flipped(src: ByteSource, flips: Map<number, number>): ByteSource {
  return {
    size: src.size,
    read(o, n, field) {
      const b = src.read(o, n, field).slice();
      for (const [at, x] of flips) if (at >= o && at < o + n) b[at - o]! ^= x;
      return b;
    },
    close() {},
  };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Runs readCore; returns "error:<kind>" or "ok" (partial or not); fails on anything else or when slow. */
function attempt(core: ByteSource, exe: ByteSource, what: string): string {
  const t = performance.now();
  try {
    const r = readCore(core, exe);
    return r.partial ? "ok-partial" : "ok";
  } catch (e) {
    if (!(e instanceof GosymdError)) throw new Error(`${what}: not a GosymdError: ${(e as Error).stack}`);
    assert.ok(e.message.length > 0);
    return `error:${e.kind}`;
  } finally {
    const ms = performance.now() - t;
    assert.ok(ms < 3000, `${what}: took ${ms.toFixed(0)} ms`);
  }
}

interface Layout {
  phoff: number;
  phnum: number;
  notes: { offset: number; size: number };
  loads: Array<{ offset: number; size: number }>;
}

function layoutOf(path: string): Layout {
  const h = readFileSync(path).subarray(0, 1 << 16);
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  const out: Layout = { phoff, phnum, notes: { offset: 0, size: 0 }, loads: [] };
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56;
    const type = dv.getUint32(p, true);
    const offset = Number(dv.getBigUint64(p + 8, true));
    const size = Number(dv.getBigUint64(p + 32, true));
    if (type === 4) out.notes = { offset, size };
    if (type === 1 && size > 0) out.loads.push({ offset, size });
  }
  return out;
}

describe("damaged cores", { timeout: 300_000 }, () => {
  const go = newestGo()!;

  test("truncated at every boundary and at random lengths", async () => {
    const run = await makeCore(buildVariant("core-crash", go, "default"), [], "crash");
    const src = new FileSource(run.core);
    const exe = new FileSource(run.binary);
    try {
      const L = layoutOf(run.core);
      const points = new Set<number>([0, 1, 4, 16, 63, 64, L.phoff + 10, L.phoff + L.phnum * 56 - 1]);
      for (let k = 0; k <= 8; k++) points.add(L.notes.offset + Math.floor((L.notes.size * k) / 8));
      for (const l of L.loads) {
        points.add(l.offset + 1);
        points.add(l.offset + Math.floor(l.size / 2));
      }
      const r = rng(7);
      for (let k = 0; k < 20; k++) points.add(Math.floor(r() * src.size));
      points.add(src.size - 1);
      const outcomes = new Map<string, number>();
      for (const p of [...points].sort((a, b) => a - b)) {
        const o = attempt(cut(src, p), exe, `cut at ${p}`);
        outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
        // Cut inside the notes: no registers or signal → still no crash; cut after them: partial results.
        if (p < L.notes.offset) assert.match(o, /^error:/, `cut at ${p} (before the notes) must be an error`);
      }
      assert.ok(
        (outcomes.get("ok-partial") ?? 0) > 0,
        `some truncated cores give partial results: ${[...outcomes]}`,
      );
      // The whole core reads cleanly.
      assert.equal(attempt(src, exe, "whole"), "ok");
    } finally {
      src.close();
      exe.close();
    }
  });

  test("bytes flipped in headers, notes and memory", async () => {
    const run = await makeCore(buildVariant("core-hang", go, "sw"), ["-n", "300"], "quit");
    const src = new FileSource(run.core);
    const exe = new FileSource(run.binary);
    try {
      const L = layoutOf(run.core);
      const r = rng(42);
      const pick = (lo: number, n: number) => lo + Math.floor(r() * Math.max(1, n));
      for (let k = 0; k < 30; k++) {
        const flips = new Map<number, number>();
        const where = k % 3;
        for (let j = 0; j < 1 + (k % 16); j++) {
          const at =
            where === 0
              ? pick(0, L.phoff + L.phnum * 56)
              : where === 1
                ? pick(L.notes.offset, L.notes.size)
                : pick(L.loads[3 % L.loads.length]!.offset, L.loads[3 % L.loads.length]!.size);
          flips.set(at, 1 + Math.floor(r() * 255));
        }
        attempt(flipped(src, flips), exe, `flip set ${k}`);
      }
      // Heap words all over the place: every 64th word of the Go heap turned into garbage.
      const heap = L.loads.reduce((a, b) => (b.size > a.size ? b : a));
      const flips = new Map<number, number>();
      for (let o = heap.offset; o < heap.offset + Math.min(heap.size, 4 << 20); o += 512)
        flips.set(o + 3, 0x5a);
      attempt(flipped(src, flips), exe, "heap garbage");
    } finally {
      src.close();
      exe.close();
    }
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
