/**
 * The address space of a crashed process, read on demand.
 *
 * Bytes come from the core's PT_LOAD segments where the kernel dumped them ([vaddr, vaddr +
 * p_filesz)); addresses the core lists but did not dump (p_filesz < p_memsz: file-backed text and
 * read-only data under the default coredump_filter) fall back to the executable's own file-backed
 * segments, shifted by the load bias. Anything else is unreadable: reads return undefined, never
 * zeros.
 *
 * Reads go through a small LRU cache of fixed-size blocks, so walking thousands of goroutine
 * stacks costs a few hundred preads and a bounded amount of memory whatever the core's size.
 */
import type { ByteSource } from "../bytes/source.js";
import type { Segment } from "../object/types.js";
import type { LoadSegment } from "./elfcore.js";

const BLOCK = 4096;

export interface MemoryStats {
  /** preads issued against the core and the executable. */
  reads: number;
  /** Bytes read from the files. */
  bytesRead: number;
  /** Reads answered from the executable instead of the core. */
  exeReads: number;
}

interface Region {
  start: number;
  /** End of what the source holds for it. */
  end: number;
  /** Offset in the source of `start`. */
  offset: number;
  source: ByteSource;
  exe: boolean;
}

export class CoreMemory {
  readonly littleEndian: boolean;
  /** Dumped parts of the core's PT_LOADs, sorted. */
  private readonly core: Region[];
  /** Executable file-backed segments at runtime addresses, sorted. */
  private exe: Region[] = [];
  /** Runtime address ranges the core lists (dumped or not), sorted: [start, end) pairs. */
  private readonly mapped: Array<[number, number]>;
  private readonly cache = new Map<number, Uint8Array | null>();
  private readonly maxBlocks: number;
  private readonly scratch = new DataView(new ArrayBuffer(8));
  readonly stats: MemoryStats = { reads: 0, bytesRead: 0, exeReads: 0 };

  constructor(
    loads: readonly LoadSegment[],
    coreSource: ByteSource,
    littleEndian: boolean,
    cacheBytes = 8 << 20,
  ) {
    this.littleEndian = littleEndian;
    this.maxBlocks = Math.max(16, Math.floor(cacheBytes / BLOCK));
    this.core = loads
      .filter((l) => l.fileSize > 0)
      .map((l) => ({
        start: l.vaddr,
        end: l.vaddr + l.fileSize,
        offset: l.offset,
        source: coreSource,
        exe: false,
      }));
    this.mapped = loads.filter((l) => l.memSize > 0).map((l) => [l.vaddr, l.vaddr + l.memSize]);
  }

  /** Adds the executable's file-backed segments, shifted by `bias`, as the fallback for undumped pages. */
  setExecutable(segments: readonly Segment[], source: ByteSource, bias: number): void {
    this.exe = segments
      .filter((s) => s.fileSize > 0 && Number.isSafeInteger(s.vaddr + bias))
      .map((s) => ({
        start: s.vaddr + bias,
        end: s.vaddr + bias + Math.min(s.fileSize, s.memSize),
        offset: s.offset,
        source,
        exe: true,
      }))
      .sort((a, b) => a.start - b.start);
    this.cache.clear();
  }

  /** The core's dumped regions (for scans), sorted by address. */
  dumpedRegions(): Array<{ start: number; end: number }> {
    return this.core.map((r) => ({ start: r.start, end: r.end }));
  }

  /** True when the core lists the address at all (dumped or not). */
  isMapped(addr: number): boolean {
    return find(this.mapped, addr) !== undefined;
  }

  /** The cached block containing addr (null: nothing of it is readable). */
  private block(addr: number): Uint8Array | null {
    const key = Math.floor(addr / BLOCK);
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      // LRU: move to the end.
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const start = key * BLOCK;
    const end = start + BLOCK;
    let out: Uint8Array | null = null;
    const valid: Array<[number, number]> = [];
    // Core regions first, then the executable for what the core did not dump.
    for (const list of [this.core, this.exe]) {
      for (const r of overlapping(list, start, end)) {
        let lo = Math.max(start, r.start);
        const hi = Math.min(end, r.end);
        // Skip what an earlier (core) region already filled.
        for (const [a, b] of valid) if (a <= lo - start && lo - start < b) lo = start + b;
        if (lo >= hi) continue;
        const fileOff = r.offset + (lo - r.start);
        const n = Math.min(hi - lo, r.source.size - fileOff);
        if (n <= 0) continue;
        const bytes = r.source.read(fileOff, n, "memory");
        this.stats.reads++;
        this.stats.bytesRead += n;
        if (r.exe) this.stats.exeReads++;
        out ??= new Uint8Array(BLOCK);
        out.set(bytes, lo - start);
        valid.push([lo - start, lo - start + n]);
      }
    }
    if (out !== null) {
      valid.sort((a, b) => a[0] - b[0]);
      const merged: Array<[number, number]> = [];
      for (const v of valid) {
        const last = merged[merged.length - 1];
        if (last !== undefined && v[0] <= last[1]) last[1] = Math.max(last[1], v[1]);
        else merged.push([v[0], v[1]]);
      }
      if (!(merged.length === 1 && merged[0]![0] === 0 && merged[0]![1] === BLOCK)) partial.set(out, merged);
    }
    if (this.cache.size >= this.maxBlocks) {
      const first = this.cache.keys().next();
      if (!first.done) this.cache.delete(first.value);
    }
    this.cache.set(key, out);
    return out;
  }

  /** `length` bytes at addr, or undefined when any of them is unreadable. Copies only across blocks. */
  read(addr: number, length: number): Uint8Array | undefined {
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(length) || length < 0)
      return undefined;
    if (length === 0) return new Uint8Array(0);
    if (length > 64 << 20) return undefined;
    const off = addr % BLOCK;
    if (off + length <= BLOCK) {
      const b = this.block(addr);
      if (b === null || !covers(b, off, off + length)) return undefined;
      return b.subarray(off, off + length);
    }
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const a = addr + done;
      const o = a % BLOCK;
      const n = Math.min(BLOCK - o, length - done);
      const b = this.block(a);
      if (b === null || !covers(b, o, o + n)) return undefined;
      out.set(b.subarray(o, o + n), done);
      done += n;
    }
    return out;
  }

  /** Unsigned 64-bit word at addr; undefined when unreadable or above 2^53. */
  u64(addr: number): number | undefined {
    const off = addr % BLOCK;
    let dv: DataView;
    let o: number;
    if (Number.isSafeInteger(addr) && addr >= 0 && off + 8 <= BLOCK) {
      const b = this.block(addr);
      if (b === null || !covers(b, off, off + 8)) return undefined;
      dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      o = off;
    } else {
      const b = this.read(addr, 8);
      if (b === undefined) return undefined;
      this.scratch.setUint32(0, new DataView(b.buffer, b.byteOffset, 8).getUint32(0, true), true);
      this.scratch.setUint32(4, new DataView(b.buffer, b.byteOffset, 8).getUint32(4, true), true);
      dv = this.scratch;
      o = 0;
    }
    const le = this.littleEndian;
    const lo = dv.getUint32(le ? o : o + 4, le);
    const hi = dv.getUint32(le ? o + 4 : o, le);
    if (hi >= 0x200000) return undefined;
    return hi * 0x1_0000_0000 + lo;
  }

  u32(addr: number): number | undefined {
    const b = this.read(addr, 4);
    if (b === undefined) return undefined;
    return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, this.littleEndian);
  }

  i32(addr: number): number | undefined {
    const b = this.read(addr, 4);
    if (b === undefined) return undefined;
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, this.littleEndian);
  }

  u8(addr: number): number | undefined {
    const b = this.read(addr, 1);
    return b === undefined ? undefined : b[0];
  }

  /** Bytes of the cache (for the benchmark's memory report). */
  get cachedBytes(): number {
    return this.cache.size * BLOCK;
  }
}

/** Valid byte ranges of partially filled blocks; full blocks are not in the map. */
const partial = new WeakMap<Uint8Array, Array<[number, number]>>();

function covers(b: Uint8Array, lo: number, hi: number): boolean {
  const p = partial.get(b);
  if (p === undefined) return true;
  for (const [a, z] of p) if (lo >= a && hi <= z) return true;
  return false;
}

/** Regions of a sorted, non-overlapping list that intersect [start, end). */
function overlapping(rs: Region[], start: number, end: number): Region[] {
  let lo = 0;
  let hi = rs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rs[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  const out: Region[] = [];
  for (let i = lo; i < rs.length && rs[i]!.start < end; i++) out.push(rs[i]!);
  return out;
}

function find(rs: Array<[number, number]>, addr: number): [number, number] | undefined {
  let lo = 0;
  let hi = rs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (rs[mid]![0] <= addr) lo = mid + 1;
    else hi = mid;
  }
  const r = rs[lo - 1];
  return r !== undefined && addr < r[1] ? r : undefined;
}
