/**
 * Per-version layout of `_func` and of the inline tree (§1.4, §1.5, §2 of go-binary-formats.md).
 * The pclntab magic names four generations; inside the first one (Go 1.2–1.15) the `_func`
 * fields, the PCDATA/FUNCDATA indices and the inline record changed at 1.9, 1.11, 1.12 and 1.13,
 * so that generation is refined by the Go version from buildinfo (or by a heuristic on the data).
 */
import type { PclntabVersion } from "../symtab/api.js";

export type InlRecordKind =
  /** No inline trees (Go ≤ 1.8). */
  | "none"
  /** 1.9–1.11: 16 bytes {parent i32, file i32 (global), line i32, func i32 (pclntab-relative)}. */
  | "old16"
  /** 1.12–1.19: 20 bytes {parent i16, funcID u8, pad, file i32, line i32, func i32, parentPc i32}. */
  | "mid20"
  /** 1.20+: 16 bytes {funcID u8, pad×3, nameOff i32, parentPc i32, startLine i32}. */
  | "new16";

export interface FuncLayout {
  /** Size of `_func.entry` (ptr before 1.18, 4 after). */
  entrySize: number;
  nameOff: number;
  pcsp: number;
  pcfile: number;
  pcln: number;
  npcdata: number;
  /** −1 when absent (before 1.16). */
  cuOffset: number;
  /** −1 when absent (before 1.20). */
  startLine: number;
  /** −1 when absent (before 1.11); `funcIDSize` bytes. */
  funcID: number;
  funcIDSize: 1 | 4;
  /** −1 when absent (before 1.17). */
  flag: number;
  nfuncdata: number;
  nfuncdataSize: 1 | 4;
  /** Size of the fixed part; pcdata[] follows. */
  size: number;
  /** Funcdata are u32 offsets from gofunc (1.18+) rather than pointers. */
  funcdataIsOffset: boolean;
  pcdataInlTreeIndex: number;
  funcdataInlTree: number;
  inl: InlRecordKind;
  inlRecordSize: number;
  /** Go minor version range this layout stands for, for diagnostics. */
  desc: string;
}

/** Minor version from strings like "go1.14.2", "go1.21rc1", "devel go1.23-abc"; undefined if none. */
export function goMinor(goVersion: string | undefined): number | undefined {
  if (goVersion === undefined) return undefined;
  const m = /go1\.(\d+)/.exec(goVersion);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The layout for a pclntab generation. For "1.2" the minor version picks among the sub-layouts;
 * `minor` undefined means "1.12–1.15 family, guess 1.13–1.15" (callers may refine with
 * `legacyLayoutFromData`).
 */
export function funcLayout(version: PclntabVersion, ptrSize: number, minor: number | undefined): FuncLayout {
  if (version === "1.18" || version === "1.20") {
    const v120 = version === "1.20";
    return {
      entrySize: 4,
      nameOff: 4,
      pcsp: 16,
      pcfile: 20,
      pcln: 24,
      npcdata: 28,
      cuOffset: 32,
      startLine: v120 ? 36 : -1,
      funcID: v120 ? 40 : 36,
      funcIDSize: 1,
      flag: v120 ? 41 : 37,
      nfuncdata: v120 ? 43 : 39,
      nfuncdataSize: 1,
      size: v120 ? 44 : 40,
      funcdataIsOffset: true,
      pcdataInlTreeIndex: 2,
      funcdataInlTree: 3,
      inl: v120 ? "new16" : "mid20",
      inlRecordSize: v120 ? 16 : 20,
      desc: v120 ? "go1.20+" : "go1.18-1.19",
    };
  }
  const E = ptrSize;
  if (version === "1.16") {
    return {
      entrySize: E,
      nameOff: E,
      pcsp: E + 12,
      pcfile: E + 16,
      pcln: E + 20,
      npcdata: E + 24,
      cuOffset: E + 28,
      startLine: -1,
      funcID: E + 32,
      funcIDSize: 1,
      flag: minor !== undefined && minor >= 17 ? E + 33 : -1,
      nfuncdata: E + 35,
      nfuncdataSize: 1,
      size: E + 36,
      funcdataIsOffset: false,
      pcdataInlTreeIndex: 2,
      funcdataInlTree: 3,
      inl: "mid20",
      inlRecordSize: 20,
      desc: "go1.16-1.17",
    };
  }
  // Go 1.2–1.15.
  const base = {
    entrySize: E,
    nameOff: E,
    pcsp: E + 12,
    pcfile: E + 16,
    pcln: E + 20,
    npcdata: E + 24,
    cuOffset: -1,
    startLine: -1,
    flag: -1,
    size: E + 32,
    funcdataIsOffset: false,
  };
  const m = minor ?? 13;
  if (m <= 11) {
    return {
      ...base,
      funcID: m === 11 ? E + 8 : -1,
      funcIDSize: 4,
      nfuncdata: E + 28,
      nfuncdataSize: 4,
      pcdataInlTreeIndex: m >= 9 ? 1 : -1,
      funcdataInlTree: m >= 9 ? 2 : -1,
      inl: m >= 9 ? "old16" : "none",
      inlRecordSize: m >= 9 ? 16 : 0,
      desc: m >= 9 ? "go1.9-1.11" : "go1.2-1.8",
    };
  }
  return {
    ...base,
    funcID: E + 28,
    funcIDSize: 1,
    nfuncdata: E + 31,
    nfuncdataSize: 1,
    pcdataInlTreeIndex: m === 12 ? 1 : 2,
    funcdataInlTree: m === 12 ? 2 : 4,
    inl: "mid20",
    inlRecordSize: 20,
    desc: m === 12 ? "go1.12" : "go1.13-1.15",
  };
}
