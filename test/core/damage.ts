/**
 * Damaging real cores, for hostile.test.ts and arm64-hostile.test.ts: views of a core cut short or
 * with bytes flipped, a seeded generator, the ELF layout of a core (where to cut and flip), and
 * the one outcome the reader may have on such input.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { GosymdError } from "../../src/bytes/errors.js";
import { type ByteSource, FileSource } from "../../src/bytes/source.js";
import { readCore } from "../../src/core/read.js";
import { seededRandom } from "../support/sample.js";

/** A view of a source cut at `size` bytes. */
export function cut(src: ByteSource, size: number): ByteSource {
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
export function flipped(src: ByteSource, flips: Map<number, number>): ByteSource {
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

/** The seeded generator the damage is drawn from (the tests' shared one). */
export const rng = seededRandom;

/** Runs readCore; "error:<kind>", "ok" or "ok-partial"; fails on any other exception or when slow. */
export function attempt(core: ByteSource, exe: ByteSource, what: string): string {
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

export interface Layout {
  machine: number;
  phoff: number;
  phnum: number;
  notes: { offset: number; size: number };
  /** NT_PRSTATUS descriptors (file offset, size). */
  prstatus: Array<{ offset: number; size: number }>;
  loads: Array<{ offset: number; size: number; vaddr: number }>;
}

/** The program headers and the NT_PRSTATUS notes of a 64-bit little-endian ELF core. */
export function layoutOf(path: string): Layout {
  const h = readFileSync(path);
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

/** Calls `fn` with the core and the binary of a run opened (closed after) and the core's layout. */
export function withCore(
  run: { core: string; binary: string },
  fn: (src: ByteSource, exe: ByteSource, L: Layout) => void,
): void {
  const src = new FileSource(run.core);
  const exe = new FileSource(run.binary);
  try {
    fn(src, exe, layoutOf(run.core));
  } finally {
    src.close();
    exe.close();
  }
}

/**
 * The core cut short at every structural boundary (the ELF header, the program headers, the notes
 * in eighths, each load segment's start and middle, and the `more` offsets), at 20 random lengths
 * and one byte short: a cut before the notes must be an error, some cuts must give partial results,
 * and the whole core reads cleanly.
 */
export function assertTruncationsHandled(
  src: ByteSource,
  exe: ByteSource,
  L: Layout,
  more: readonly number[] = [],
): void {
  const points = new Set<number>([0, 1, 4, 16, 63, 64, L.phoff + 10, L.phoff + L.phnum * 56 - 1]);
  for (let k = 0; k <= 8; k++) points.add(L.notes.offset + Math.floor((L.notes.size * k) / 8));
  for (const p of more) points.add(p);
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
}

/**
 * 30 sets of 1 to 16 bytes XOR-ed with random values (seeded): set k's j-th byte at `at(k % 3,
 * k, j, pick)`, where `pick(lo, n)` is a random offset in [lo, lo + n). Each set must be handled.
 */
export function assertFlipSetsHandled(
  src: ByteSource,
  exe: ByteSource,
  at: (where: number, k: number, j: number, pick: (lo: number, n: number) => number) => number,
): void {
  const r = rng(42);
  const pick = (lo: number, n: number) => lo + Math.floor(r() * Math.max(1, n));
  for (let k = 0; k < 30; k++) {
    const flips = new Map<number, number>();
    for (let j = 0; j < 1 + (k % 16); j++) flips.set(at(k % 3, k, j, pick), 1 + Math.floor(r() * 255));
    attempt(flipped(src, flips), exe, `flip set ${k}`);
  }
}
