import type { BuildInfo } from "../buildinfo/types.js";
import type { Arch, BuildIds, ObjectFormat, Os, Segment } from "../object/types.js";
import type { FrameLines, Resolution } from "./types.js";

/** pclntab format generation, named by the first Go release that wrote it. */
export type PclntabVersion = "1.2" | "1.16" | "1.18" | "1.20";

export interface PclntabInfo {
  version: PclntabVersion;
  magic: number;
  quantum: number;
  ptrSize: number;
  funcCount: number;
  /** Number of file names (1.16+; 0 when not recorded). */
  fileCount: number;
  /** Link-time address the functab's entry offsets are relative to. */
  textStart: number;
  /** Where it was found: ".gopclntab", "__gopclntab", "runtime.pclntab symbol", "moduledata", "magic scan". */
  foundBy: string;
  /** Address and size of the pclntab. */
  addr: number;
  size: number;
  /** Whether the inline tree (FUNCDATA_InlTree) could be read, so inlined frames are expanded. */
  inlineTrees: boolean;
}

export interface BinaryInfo {
  format: ObjectFormat;
  arch: Arch;
  os: Os;
  ptrSize: 4 | 8;
  pie: boolean;
  /** File size in bytes. */
  size: number;
  buildIds: BuildIds;
  /** From buildinfo, else inferred from the pclntab ("go1.16+" style ranges are not used; "" if unknown). */
  goVersion: string;
  pclntab?: PclntabInfo;
  buildInfo?: BuildInfo;
  /** Number of symbols from the container's symbol tables (0 when stripped). */
  symbolCount: number;
  /**
   * The container's loadable segments (ObjectFile.segments), link-time addresses. Lets callers map
   * runtime addresses through a process mapping (start, limit, file offset), e.g. pprof profiles.
   */
  segments?: readonly Segment[];
}

export interface GoBinary {
  readonly info: BinaryInfo;
  /**
   * Frames for a link-time virtual address, innermost first. The PC is looked up as given: callers
   * pass pc-1 for return addresses. Never throws for an address; unknown ones get a reason.
   */
  resolve(pc: number): Resolution;
  /**
   * Bulk path for text output: the same frames as `resolve` (function, file, line only: no Frame
   * objects, no package or module attribution) written into `out`; returns their count, 0 when
   * the address has none (`resolve` tells why). Optional: callers fall back to `resolve`.
   */
  frameLines?(pc: number, out: FrameLines): number;
  /** Approximate bytes held by the decoded tables (what the byte-bounded cache charges). */
  readonly memoryBytes: number;
  /** Releases file handles (tables stay usable). */
  close(): void;
}

export interface OpenOptions {
  /** For fat Mach-O files: which architecture to pick (default: amd64, then arm64, then the first). */
  arch?: Arch;
  /**
   * The file's SHA-256 when the caller already knows it (content-addressed store), or null to skip
   * hashing altogether (`info.buildIds.sha256` is then ""). Default: hash the file.
   */
  sha256?: string | null;
  /**
   * Read the container's symbols (the fallback for PCs outside Go code, and `info.symbolCount`)
   * only when first needed. The source then stays open until `close()`; for one-shot use such as
   * the CLI, where most runs never need them. Default: read them while opening.
   */
  lazySymbols?: boolean;
}
