/**
 * Container-symbol fallback for PCs outside every Go function (C code of cgo binaries, assembly
 * the pclntab does not cover, PLT stubs). Only function symbols that start outside the pclntab's
 * functions are kept, in compact arrays, so the fallback costs little memory for Go binaries.
 *
 * A symbol covers [addr, addr+size); when the container records no size (Mach-O, PE, some ELF
 * symbols), up to the next kept symbol's address, bounded by the end of the symbol's section.
 */
import { GosymdError } from "../bytes/errors.js";
import type { PclnTable } from "../gopclntab/table.js";
import type { ObjectFile, ObjSymbol } from "../object/types.js";

export interface SymbolFallback {
  /** Index of the symbol covering pc, or −1. */
  find(pc: number): number;
  name(i: number): string;
  addr(i: number): number;
  /** Symbols the container had (all kinds), for BinaryInfo.symbolCount. */
  readonly totalSymbols: number;
  readonly memoryBytes: number;
}

class Fallback implements SymbolFallback {
  constructor(
    private readonly starts: Float64Array,
    private readonly ends: Float64Array,
    private readonly names: string[],
    readonly totalSymbols: number,
  ) {}

  get memoryBytes(): number {
    let n = this.starts.byteLength + this.ends.byteLength;
    for (const s of this.names) n += 48 + 2 * s.length;
    return n;
  }

  find(pc: number): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= pc) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    return i >= 0 && pc < this.ends[i]! ? i : -1;
  }
  name(i: number): string {
    return this.names[i]!;
  }
  addr(i: number): number {
    return this.starts[i]!;
  }
}

/**
 * A fallback built on first use: the container's symbols are read only when a PC outside every
 * Go function is looked up (or the symbol count is asked for). For one-shot use (the CLI), where
 * reading and sorting tens of thousands of symbols would cost more than the lookups themselves.
 */
export function lazySymbolFallback(build: () => SymbolFallback): SymbolFallback {
  let built: SymbolFallback | undefined;
  const get = (): SymbolFallback => {
    built ??= build();
    return built;
  };
  return {
    find: (pc) => get().find(pc),
    name: (i) => get().name(i),
    addr: (i) => get().addr(i),
    get totalSymbols() {
      return get().totalSymbols;
    },
    get memoryBytes() {
      return built?.memoryBytes ?? 0;
    },
  };
}

export function buildSymbolFallback(obj: ObjectFile, table: PclnTable | undefined): SymbolFallback {
  let all: readonly ObjSymbol[];
  try {
    all = obj.symbols();
  } catch (e) {
    if (!(e instanceof GosymdError)) throw e;
    all = [];
  }
  // Function symbols sorted by address, deduplicated (symtab and dynsym repeat names).
  const funcs = all.filter((s) => s.kind === "func" && s.addr > 0);
  funcs.sort((a, b) => a.addr - b.addr);
  const starts: number[] = [];
  const ends: number[] = [];
  const names: string[] = [];
  for (let i = 0; i < funcs.length; i++) {
    const s = funcs[i]!;
    if (i > 0 && funcs[i - 1]!.addr === s.addr) continue;
    if (table !== undefined && table.findFunc(s.addr) >= 0) continue;
    let end = s.size > 0 ? s.addr + s.size : Number.POSITIVE_INFINITY;
    if (s.size === 0) {
      let j = i + 1;
      while (j < funcs.length && funcs[j]!.addr === s.addr) j++;
      if (j < funcs.length) end = funcs[j]!.addr;
      const sec = obj.sectionAt(s.addr);
      if (sec !== undefined) end = Math.min(end, sec.addr + sec.size);
      // Do not let a size-less symbol swallow the Go functions after it.
      if (table !== undefined && table.nfunc > 0 && s.addr < table.entry(0))
        end = Math.min(end, table.entry(0));
      if (!Number.isFinite(end)) end = s.addr + 1;
    }
    starts.push(s.addr);
    ends.push(end);
    names.push(s.goName ?? s.name);
  }
  return new Fallback(Float64Array.from(starts), Float64Array.from(ends), names, all.length);
}
