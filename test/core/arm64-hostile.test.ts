/**
 * Damaged linux/arm64 cores (qemu-user, see arm64-support.ts): hostile.test.ts's checks on the
 * aarch64 paths. A real core (newest go, core-crash) cut short at every structural boundary and at
 * random lengths; bytes flipped in its headers and its NT_PRSTATUS notes (aarch64 registers); the
 * goroutine stacks and signal stacks (saved LRs, frame records, the sigpanic LR slot, rt_sigframes)
 * overwritten word by word. The reader must throw a GosymdError or return a (possibly partial)
 * result — never another exception, never hang — within a few seconds.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { GosymdError } from "../../src/bytes/errors.js";
import { type ByteSource, FileSource } from "../../src/bytes/source.js";
import { readCore } from "../../src/core/read.js";
import { newestGo } from "../support/fixtures.js";
import { buildArm64Variant, EM_AARCH64, makeQemuCore, QEMU_SKIP } from "./arm64-support.js";

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

/** Runs readCore; "error:<kind>", "ok" or "ok-partial"; fails on any other exception or when slow. */
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
  machine: number;
  phoff: number;
  phnum: number;
  notes: { offset: number; size: number };
  /** NT_PRSTATUS descriptors (file offset, size). */
  prstatus: Array<{ offset: number; size: number }>;
  loads: Array<{ offset: number; size: number; vaddr: number }>;
}

function layoutOf(path: string): Layout {
  const h = readFileSync(path).subarray(0, 1 << 16);
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  const out: Layout = {
    machine: dv.getUint16(18, true),
    phoff,
    phnum,
    notes: { offset: 0, size: 0 },
    prstatus: [],
    loads: [],
  };
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * 56;
    const type = dv.getUint32(p, true);
    const offset = Number(dv.getBigUint64(p + 8, true));
    const vaddr = Number(dv.getBigUint64(p + 16, true));
    const size = Number(dv.getBigUint64(p + 32, true));
    if (type === 4) out.notes = { offset, size };
    if (type === 1 && size > 0) out.loads.push({ offset, size, vaddr });
  }
  for (let pos = out.notes.offset; pos + 12 <= out.notes.offset + out.notes.size; ) {
    const namesz = dv.getUint32(pos, true);
    const descsz = dv.getUint32(pos + 4, true);
    const type = dv.getUint32(pos + 8, true);
    const desc = pos + 12 + Math.ceil(namesz / 4) * 4;
    if (type === 1) out.prstatus.push({ offset: desc, size: descsz });
    pos = desc + Math.ceil(descsz / 4) * 4;
  }
  return out;
}

describe("damaged linux/arm64 cores (qemu-user)", { skip: QEMU_SKIP, timeout: 300_000 }, () => {
  const go = newestGo()!;

  test("truncated at every boundary and at random lengths", async () => {
    const run = await makeQemuCore(buildArm64Variant("core-crash", go, "default"), [], "crash");
    const src = new FileSource(run.core);
    const exe = new FileSource(run.binary);
    try {
      const L = layoutOf(run.core);
      assert.equal(L.machine, EM_AARCH64);
      assert.ok(L.prstatus.length >= 2, `${L.prstatus.length} NT_PRSTATUS notes`);
      const points = new Set<number>([0, 1, 4, 16, 63, 64, L.phoff + 10, L.phoff + L.phnum * 56 - 1]);
      for (let k = 0; k <= 8; k++) points.add(L.notes.offset + Math.floor((L.notes.size * k) / 8));
      for (const p of L.prstatus) {
        points.add(p.offset + 112); // pr_reg
        points.add(p.offset + 112 + 29 * 8); // x29
        points.add(p.offset + p.size - 1);
      }
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
        if (p < L.notes.offset) assert.match(o, /^error:/, `cut at ${p} (before the notes) must be an error`);
      }
      assert.ok(
        (outcomes.get("ok-partial") ?? 0) > 0,
        `some truncated cores give partial results: ${[...outcomes]}`,
      );
      assert.equal(attempt(src, exe, "whole"), "ok");
    } finally {
      src.close();
      exe.close();
    }
  });

  test("bytes flipped in headers, aarch64 registers, stacks and signal frames", async () => {
    const run = await makeQemuCore(buildArm64Variant("core-hang", go, "sw"), ["-n", "300"], "quit");
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
          const ps = L.prstatus[j % L.prstatus.length]!;
          const at =
            where === 0
              ? pick(0, L.phoff + L.phnum * 56)
              : where === 1
                ? pick(ps.offset + 112, 34 * 8) // x0–x30, sp, pc, pstate
                : pick(L.loads[k % L.loads.length]!.offset, L.loads[k % L.loads.length]!.size);
          flips.set(at, 1 + Math.floor(r() * 255));
        }
        attempt(flipped(src, flips), exe, `flip set ${k}`);
      }
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
    } finally {
      src.close();
      exe.close();
    }
  });
});
