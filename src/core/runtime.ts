/**
 * Finding the Go runtime's structures in a core without DWARF: goroutines (runtime.allgs when the
 * binary has symbols, else a scan of the dumped memory for `g` structures), Ms (runtime.allm,
 * else the Ms the goroutines and threads point at), and reading them with the per-release layout.
 *
 * A `g` is accepted only when it validates: its `sched.g` points at itself, its stack bounds are
 * ordered, aligned and of a plausible size, its status is a known one, its goid is positive, and
 * (unless it is dead or running) its saved PC is inside a Go function.
 */
import type { PclnTable } from "../gopclntab/table.js";
import { G_DEAD, G_RUNNING, G_SCAN, type RuntimeLayout } from "./layout.js";
import type { CoreMemory } from "./memory.js";

/** Largest goroutine stack we accept (the runtime's default max is 1 GB on 64-bit). */
const MAX_STACK = 1 << 30;
/** Largest goid we accept (ids are allocated sequentially, in batches per P). */
const MAX_GOID = 2 ** 48;

export interface GInfo {
  addr: number;
  goid: number;
  /** atomicstatus without the scan bit. */
  status: number;
  scan: boolean;
  stackLo: number;
  stackHi: number;
  m: number;
  schedPc: number;
  schedSp: number;
  schedBp: number;
  schedLr: number;
  syscallPc: number;
  syscallSp: number;
  syscallBp: number;
  waitReason: number;
  waitSince: number;
  lockedm: number;
  panic: number;
  sig: number;
  sigcode0: number;
  sigcode1: number;
  sigpc: number;
  gopc: number;
  parentGoid: number;
  startpc: number;
}

export interface MInfo {
  addr: number;
  id: number;
  procid: number;
  g0: number;
  gsignal: number;
  curg: number;
}

function word(mem: CoreMemory, addr: number): number {
  return mem.u64(addr) ?? 0;
}

/** Reads and validates a g at addr; undefined when it is not one. */
export function readG(
  mem: CoreMemory,
  L: RuntimeLayout,
  table: PclnTable,
  bias: number,
  addr: number,
): GInfo | undefined {
  const g = L.g;
  const b = mem.read(addr, g.size);
  if (b === undefined) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = mem.littleEndian;
  const w = (off: number): number => {
    const lo = dv.getUint32(le ? off : off + 4, le);
    const hi = dv.getUint32(le ? off + 4 : off, le);
    return hi >= 0x200000 ? -1 : hi * 0x1_0000_0000 + lo;
  };
  if (w(g.schedG) !== addr) return undefined;
  const stackLo = w(g.stackLo);
  const stackHi = w(g.stackHi);
  const raw = dv.getUint32(g.atomicstatus, le);
  const status = raw & ~G_SCAN;
  if (status > 11 || (raw & ~(G_SCAN | 0xf)) !== 0) return undefined;
  const goid = w(g.goid);
  if (goid < 0 || goid > MAX_GOID) return undefined;
  const info: GInfo = {
    addr,
    goid,
    status,
    scan: (raw & G_SCAN) !== 0,
    stackLo,
    stackHi,
    m: Math.max(w(g.m), 0),
    schedPc: Math.max(w(g.schedPc), 0),
    schedSp: Math.max(w(g.schedSp), 0),
    schedBp: Math.max(w(g.schedBp), 0),
    schedLr: Math.max(w(g.schedLr), 0),
    syscallPc: Math.max(w(g.syscallpc), 0),
    syscallSp: Math.max(w(g.syscallsp), 0),
    syscallBp: g.syscallbp >= 0 ? Math.max(w(g.syscallbp), 0) : 0,
    waitReason: b[g.waitreason]!,
    waitSince: Math.max(w(g.waitsince), 0),
    lockedm: Math.max(w(g.lockedm), 0),
    panic: Math.max(w(g.panic), 0),
    sig: dv.getUint32(g.sig, le),
    sigcode0: Math.max(w(g.sigcode0), 0),
    sigcode1: Math.max(w(g.sigcode1), 0),
    sigpc: Math.max(w(g.sigpc), 0),
    gopc: Math.max(w(g.gopc), 0),
    parentGoid: g.parentGoid >= 0 ? Math.max(w(g.parentGoid), 0) : 0,
    startpc: Math.max(w(g.startpc), 0),
  };
  if (status === G_DEAD) return info; // dead gs keep stale fields; they are listed, not walked.
  if (stackLo <= 0 || stackHi <= stackLo || stackHi - stackLo > MAX_STACK || stackLo % 8 !== 0)
    return undefined;
  if (status !== G_RUNNING) {
    const pc = info.syscallSp !== 0 ? info.syscallPc : info.schedPc;
    const sp = info.syscallSp !== 0 ? info.syscallSp : info.schedSp;
    if (table.findFunc(pc - bias) < 0) return undefined;
    if (sp < stackLo || sp > stackHi) return undefined;
  }
  return info;
}

export function readM(mem: CoreMemory, L: RuntimeLayout, addr: number): MInfo | undefined {
  const m = L.m;
  const procid = mem.u64(addr + m.procid);
  const id = mem.u64(addr + m.id);
  if (procid === undefined || id === undefined) return undefined;
  return {
    addr,
    id: id > 2 ** 31 ? -1 : id,
    procid,
    g0: word(mem, addr + m.g0),
    gsignal: word(mem, addr + m.gsignal),
    curg: word(mem, addr + m.curg),
  };
}

/** The goroutine pointers of runtime.allgs (slice header at `allgs`), capped. */
export function readAllgs(mem: CoreMemory, allgs: number, max: number): { ptrs: number[]; warning?: string } {
  const ptr = mem.u64(allgs);
  const len = mem.u64(allgs + 8);
  const cap = mem.u64(allgs + 16);
  if (ptr === undefined || len === undefined || cap === undefined) {
    return { ptrs: [], warning: "runtime.allgs is unreadable in the core" };
  }
  if (len > cap || (len > 0 && ptr === 0))
    return { ptrs: [], warning: `runtime.allgs is corrupt (len ${len}, cap ${cap})` };
  const n = Math.min(len, max);
  const ptrs: number[] = [];
  const CHUNK = 4096;
  for (let i = 0; i < n; i += CHUNK) {
    const k = Math.min(CHUNK, n - i);
    const b = mem.read(ptr + i * 8, k * 8);
    if (b === undefined) return { ptrs, warning: `runtime.allgs array is unreadable after ${i} entries` };
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let j = 0; j < k; j++) {
      const lo = dv.getUint32(j * 8, mem.littleEndian);
      const hi = dv.getUint32(j * 8 + 4, mem.littleEndian);
      if (hi < 0x200000) ptrs.push(hi * 0x1_0000_0000 + lo);
    }
  }
  const r: { ptrs: number[]; warning?: string } = { ptrs };
  if (len > max) r.warning = `runtime.allgs has ${len} goroutines; only the first ${max} were read`;
  return r;
}

/**
 * Scans every dumped region for words that equal their own address minus the `sched.g` offset: the
 * self-pointer every g carries. Candidates are then validated by readG. Reads in large chunks,
 * outside the block cache.
 */
export function scanForGs(
  mem: CoreMemory,
  regions: Array<{ start: number; end: number }>,
  schedG: number,
  source: (start: number, length: number) => Uint8Array | undefined,
  maxCandidates: number,
): number[] {
  const out: number[] = [];
  const CHUNK = 1 << 20;
  const le = mem.littleEndian;
  for (const r of regions) {
    for (let a = r.start - (r.start % 8); a < r.end; a += CHUNK) {
      const n = Math.min(CHUNK, r.end - a);
      const b = source(a, n - (n % 8));
      if (b === undefined) continue;
      // The word at g+schedG equals g: compare the high half first (rarely equal by chance).
      const hiWant = Math.floor((a - schedG) / 0x1_0000_0000);
      const words = (b.length - (b.length % 8)) / 4;
      const u32 =
        le && b.byteOffset % 4 === 0
          ? new Uint32Array(b.buffer, b.byteOffset, words)
          : Uint32Array.from({ length: words }, (_, i) =>
              new DataView(b.buffer, b.byteOffset).getUint32(i * 4, le),
            );
      for (let i = 0; i < words; i += 2) {
        const hi = u32[i + 1]!;
        if (hi !== hiWant && hi !== hiWant + 1) continue;
        const v = hi * 0x1_0000_0000 + u32[i]!;
        if (v === a + i * 4 - schedG) {
          out.push(v);
          if (out.length >= maxCandidates) return out;
        }
      }
    }
  }
  return out;
}

/** A Go string (ptr, len) at addr, capped at `max` bytes; undefined when unreadable. */
export function readGoString(mem: CoreMemory, addr: number, max: number): string | undefined {
  const p = mem.u64(addr);
  const n = mem.u64(addr + 8);
  if (p === undefined || n === undefined) return undefined;
  return readStringData(mem, p, n, max);
}

export function readStringData(mem: CoreMemory, p: number, n: number, max: number): string | undefined {
  if (n === 0) return "";
  const b = mem.read(p, Math.min(n, max));
  if (b === undefined) return undefined;
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
}
