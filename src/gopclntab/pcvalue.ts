/**
 * PC-value tables (§1.7 of go-binary-formats.md; runtime/symtab.go `pcvalue`/`step`): pairs of
 * (zig-zag value delta, pc delta × quantum) as unsigned LEB128 varints, starting from value −1 at
 * the function entry, ended by a zero value delta (except on the first step, where a zero is a
 * real delta).
 *
 * These are the hot loop of every lookup, so they work on raw offsets into the table bytes with no
 * allocation. Every byte read is bounds-checked against `end`; a table that runs off its region or
 * holds an over-long varint throws a `corrupt` GosymdError. Termination is guaranteed: every step
 * consumes at least two bytes of a finite region.
 */
import { GosymdError } from "../bytes/errors.js";

/** Added to byte offsets in errors: where the walked bytes start in the table (set per walk). */
let errorBias = 0;

function overrun(at: number): GosymdError {
  return new GosymdError("corrupt", "pc-value table runs past the end of its region", {
    format: "pclntab",
    field: "pctab",
    offset: at + errorBias,
  });
}

function badVarint(at: number): GosymdError {
  return new GosymdError("corrupt", "pc-value table has an over-long varint", {
    format: "pclntab",
    field: "pctab",
    offset: at + errorBias,
  });
}

/** Position after the last varint read by readVarint32 (a register instead of a tuple). */
let vpos = 0;

/** Reads a ≤32-bit unsigned varint (at most 5 bytes) at p; sets vpos. */
function readVarint32(b: Uint8Array, p: number, end: number): number {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (p >= end) throw overrun(p);
    const c = b[p++]!;
    v |= (c & 0x7f) << shift;
    if (c < 0x80) break;
    shift += 7;
    if (shift > 28) throw badVarint(p);
  }
  vpos = p;
  return v >>> 0;
}

/** Value delta (zig-zag decoded) and pc delta (in quanta) of the step `readStep` read last. */
let stepValue = 0;
let stepPc = 0;

/**
 * Reads the step at p into stepValue/stepPc and returns the position after it, or −1 at the end
 * marker: a zero value delta, except where `pc` (the pc reached so far) is still 0, since a first
 * step's zero delta is a real one. The one reader every walk of a table goes through.
 */
function readStep(b: Uint8Array, p: number, end: number, pc: number): number {
  if (p >= end) throw overrun(p);
  let uv = b[p]!;
  if (uv === 0 && pc !== 0) return -1;
  if (uv < 0x80) p++;
  else {
    uv = readVarint32(b, p, end);
    p = vpos;
  }
  stepValue = (-(uv & 1) ^ (uv >>> 1)) | 0;
  if (p >= end) throw overrun(p);
  let pcd = b[p]!;
  if (pcd < 0x80) p++;
  else {
    pcd = readVarint32(b, p, end);
    p = vpos;
  }
  stepPc = pcd;
  return p;
}

/**
 * Value of the table at `off` for the pc `targetOff` bytes past the function entry; −1 when the
 * table ends before reaching it (the runtime's non-strict result). `off` and `end` index `b`.
 */
/** Steps all `pcvalue` walks may still take before `resetWalkBudget` (bounds one lookup). */
let walkBudget = Number.POSITIVE_INFINITY;

/** Bounds the total steps of the pcvalue walks that follow (one lookup's worth). */
export function resetWalkBudget(steps: number): void {
  walkBudget = steps;
}

export function pcvalue(
  b: Uint8Array,
  off: number,
  end: number,
  targetOff: number,
  quantum: number,
  /** Added to offsets in errors (when `b` starts inside the table). */
  bias = 0,
): number {
  let p = off;
  let pc = 0;
  let val = -1;
  errorBias = bias;
  const stop = off + 2 * walkBudget;
  for (;;) {
    if (p > stop) {
      throw new GosymdError("limit_exceeded", "pc-value lookups took too many steps", {
        format: "pclntab",
        field: "pctab",
        offset: off + bias,
      });
    }
    const q = readStep(b, p, end, pc);
    if (q < 0) {
      walkBudget -= (p - off) >>> 1;
      return -1;
    }
    p = q;
    val = (val + stepValue) | 0;
    pc += stepPc * quantum;
    if (targetOff < pc) {
      walkBudget -= (p - off) >>> 1;
      return val;
    }
  }
}

/** Steps taken by the last pcvalueMax call (a register instead of a tuple). */
export let maxSteps = 0;

/**
 * Walks a whole table and returns its largest value (−1 when it never rises above −1), visiting at
 * most the pcs below `limitOff` (the function size) and at most `budget` steps (then it returns
 * −2). Used at load time to size inline trees; `maxSteps` tells the steps taken.
 */
export function pcvalueMax(
  b: Uint8Array,
  off: number,
  end: number,
  limitOff: number,
  quantum: number,
  budget: number,
  /** Added to offsets in errors (when `b` starts inside the table). */
  bias = 0,
): number {
  let p = off;
  let pc = 0;
  let val = -1;
  let max = -1;
  errorBias = bias;
  maxSteps = 0;
  for (;;) {
    if (++maxSteps > budget) return -2;
    const q = readStep(b, p, end, pc);
    if (q < 0) return max;
    p = q;
    val = (val + stepValue) | 0;
    const next = pc + stepPc * quantum;
    // The value applies to [pc, next); count it only when that range is non-empty and inside the function.
    if (next > pc && pc < limitOff && val > max) max = val;
    pc = next;
    if (pc >= limitOff) return max;
  }
}

/** Slots of decoded tables a `PcValueCache` keeps (a function's pcln, pcfile and inline tables fit). */
const SLOTS = 4;
/** Longest table decoded (steps); longer ones are walked each time. */
const MAX_DECODED_STEPS = 1 << 16;

/**
 * Answers repeated lookups in the same pc-value tables from decoded copies: a table is decoded
 * whole into one of a few slots, and lookups binary-search the decoded steps. The pclntab uses it
 * for a function's tables from its second lookup in a row on (lookups in pc order: a sorted
 * batch, a profile's locations), so those read each function's tables once, while scattered
 * lookups walk as before. Answers are exactly `pcvalue`'s: a table whose whole decode fails
 * (damage past the point a walk would stop) is never cached, only walked.
 */
export class PcValueCache {
  private readonly keys = new Int32Array(SLOTS).fill(-1);
  private readonly lens = new Int32Array(SLOTS);
  private readonly ends: Int32Array[] = [];
  private readonly vals: Int32Array[] = [];
  private nextSlot = 0;
  /** Tables found not decodable (damaged, too long), so not tried again. */
  private readonly refused = new Set<number>();

  constructor() {
    for (let s = 0; s < SLOTS; s++) {
      this.ends.push(new Int32Array(64));
      this.vals.push(new Int32Array(64));
    }
  }

  /**
   * `pcvalue(b, off, end, targetOff, quantum, bias)` from a decoded copy of the table, decoding it
   * into a slot first when it has none (tables that cannot be decoded are walked).
   */
  value(b: Uint8Array, off: number, end: number, targetOff: number, quantum: number, bias: number): number {
    const keys = this.keys;
    for (let s = 0; s < SLOTS; s++) {
      if (keys[s] === off) return this.find(s, targetOff);
    }
    if (!this.refused.has(off)) {
      const s = this.decode(b, off, end, quantum);
      if (s >= 0) return this.find(s, targetOff);
    }
    return pcvalue(b, off, end, targetOff, quantum, bias);
  }

  /** Value of slot s at targetOff: the first step ending past it, −1 past the last. */
  private find(s: number, targetOff: number): number {
    const ends = this.ends[s]!;
    let lo = 0;
    let hi = this.lens[s]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid]! <= targetOff) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.lens[s]! ? this.vals[s]![lo]! : -1;
  }

  /** Marks the table at off as not to be decoded; returns −1. */
  private refuse(off: number): number {
    if (this.refused.size > 4096) this.refused.clear();
    this.refused.add(off);
    return -1;
  }

  /** Decodes the table at off into a slot; −1 (and refused) when it cannot be. */
  private decode(b: Uint8Array, off: number, end: number, quantum: number): number {
    const s = this.nextSlot;
    let ends = this.ends[s]!;
    let vals = this.vals[s]!;
    let n = 0;
    let p = off;
    let pc = 0;
    let val = -1;
    try {
      for (;;) {
        const q = readStep(b, p, end, pc);
        if (q < 0) break;
        p = q;
        val = (val + stepValue) | 0;
        pc += stepPc * quantum;
        // A zero-length step never answers a walk (it stops at the first step ending past the
        // target), so dropping it keeps the ends strictly increasing for the binary search.
        if (n > 0 && pc === ends[n - 1]) continue;
        // Too long, or past what the decoded steps hold: walked each time instead.
        if (pc > 0x7fffffff) return this.refuse(off);
        if (n === ends.length) {
          if (n >= MAX_DECODED_STEPS) return this.refuse(off);
          const e2 = new Int32Array(n * 2);
          e2.set(ends);
          const v2 = new Int32Array(n * 2);
          v2.set(vals);
          this.ends[s] = ends = e2;
          this.vals[s] = vals = v2;
        }
        ends[n] = pc;
        vals[n] = val;
        n++;
      }
    } catch (e) {
      if (!(e instanceof GosymdError)) throw e;
      return this.refuse(off);
    }
    this.keys[s] = off;
    this.lens[s] = n;
    this.nextSlot = (s + 1) % SLOTS;
    return s;
  }
}
