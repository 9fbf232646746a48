/**
 * Runtime address → link-time address, through a profile mapping and the binary's segments.
 *
 * A mapping says: the file bytes at `offset` were mapped at `start` (up to `limit`). So a runtime
 * address A is at file offset A - start + offset, and the loadable segment whose file range holds
 * that offset places it at link-time address seg.vaddr + (fileOffset - seg.offset). This is what
 * pprof's own elfexec.GetBase computes for ET_EXEC and ET_DYN alike, so PIE (random start) and
 * non-PIE (start == link address) both work, as do mappings that start at a non-zero file offset
 * (the r-x mapping of an externally linked binary).
 *
 * A mapping with start = 0, offset = 0 and limit 0 or 2^64-1 is the "fake" whole-address-space
 * mapping some tools write: its addresses are taken as link-time addresses already (as pprof does).
 */
import { UNSAFE } from "./wire.js";

export interface LoadSegment {
  readonly vaddr: number;
  readonly memSize: number;
  readonly offset: number;
  readonly fileSize: number;
  readonly exec: boolean;
}

export interface MappingRange {
  start: number;
  limit: number;
  offset: number;
}

/** Returned by AddressMapper.toLinkTime when the address is not inside any file-backed segment. */
export const NOT_MAPPED = -1;

export class AddressMapper {
  private readonly identity: boolean;
  private readonly usable: boolean;
  /** File-backed segments, executable ones first (lookups try them first). */
  private readonly segs: LoadSegment[];
  private last: LoadSegment | undefined;

  constructor(
    private readonly m: MappingRange,
    segments: readonly LoadSegment[],
  ) {
    this.identity = m.start === 0 && m.offset === 0 && (m.limit === 0 || m.limit === UNSAFE);
    this.usable = m.start !== UNSAFE && m.offset !== UNSAFE;
    this.segs = segments
      .filter((s) => s.fileSize > 0 && s.memSize > 0)
      .sort((a, b) => Number(b.exec) - Number(a.exec) || a.offset - b.offset);
  }

  /** Link-time address for runtime address `addr`, or NOT_MAPPED. */
  toLinkTime(addr: number): number {
    if (addr === UNSAFE || addr < 0) return NOT_MAPPED;
    if (this.identity) return addr;
    if (!this.usable || addr < this.m.start) return NOT_MAPPED;
    const fileOff = addr - this.m.start + this.m.offset;
    const last = this.last;
    if (last !== undefined && fileOff >= last.offset && fileOff - last.offset < last.fileSize) {
      return last.vaddr + (fileOff - last.offset);
    }
    for (const s of this.segs) {
      if (fileOff >= s.offset && fileOff - s.offset < s.fileSize) {
        this.last = s;
        const v = s.vaddr + (fileOff - s.offset);
        return Number.isSafeInteger(v) ? v : NOT_MAPPED;
      }
    }
    return NOT_MAPPED;
  }
}
